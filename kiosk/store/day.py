"""Today's figures from the ledger file: every kiosk's check-ins this kiosk holds, and this kiosk's cases.

The flow's summary port (kiosk.core.flow.SummaryPort). "Today" is the
election day in Tehran: events whose UTC wall time is at or after Tehran's
midnight. Only counts leave here; no voter key, name or case form does.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from kiosk.core.closing import DaySummary, day_start_utc, outcome_of, summarize
from kiosk.core.jalali import TEHRAN
from kiosk.store.ledger import Kind, Ledger
from kiosk.store.outbox import CaseOutbox


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class DayFigures:
    """Reads the day's figures on the ledger's own connection (the screen's thread), each time afresh."""

    def __init__(self, ledger: Ledger, outbox: CaseOutbox, now: Callable[[], dt.datetime] = _utc_now) -> None:
        self._ledger, self._outbox, self._now = ledger, outbox, now

    def today(self) -> DaySummary:
        """The branch (all events held) and this kiosk: live and undone check-ins, cases, check-ins per hour."""
        now = self._now()
        since = day_start_utc(now)
        db, device = self._ledger.connection, self._ledger.device_id
        check_ins = {f"{d}:{q}": wall for d, q, wall in db.execute(
            "SELECT device, seq, wall FROM events WHERE kind = ? AND wall >= ?", (Kind.CHECK_IN.value, since))}
        # Every undo, whatever its wall time: a kiosk whose clock runs behind may stamp one before midnight.
        # `summarize` counts only those naming one of today's check-ins.
        undone = [ref for (ref,) in db.execute("SELECT ref FROM events WHERE kind = ?", (Kind.UNDO.value,))]
        mine = {ref: wall for ref, wall in check_ins.items() if ref.rpartition(":")[0] == device}
        start = dt.datetime.fromisoformat(since)
        outcomes = [outcome_of(c.status.value, c.decision.ruling.value if c.decision else None)
                    for c in self._outbox.cases() if dt.datetime.fromisoformat(c.created) >= start]
        others = {ref.rpartition(":")[0] for ref in check_ins} - {device}
        return DaySummary(now.astimezone(TEHRAN), summarize(check_ins, undone, []),
                          summarize(mine, undone, outcomes), len(others))
