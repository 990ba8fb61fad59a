"""The verdict on one person: large name, father's name and birth year to compare with the person."""
from __future__ import annotations

import datetime as dt
from typing import Any

from kiosk.core.eligibility import Verdict
from kiosk.core.jalali import TEHRAN, JalaliDate, format_en, format_fa, persian_digits
from kiosk.ui.bridge import FlowBridge
from kiosk.ui.screens import View, load_kv
from kiosk.ui.widgets import in_reading_order

# Where a case for the representative makes sense (DESIGN: no code, not found, unreadable, disputed).
ESCALATE = {Verdict.NOT_FOUND, Verdict.ALREADY_VOTED, Verdict.CARD_NOT_TRUSTED, Verdict.INVALID_CODE}


class VerdictScreen(View):
    """Shows one Outcome; only an eligible person can be recorded."""

    def __init__(self, bridge: FlowBridge, **kwargs: Any) -> None:
        load_kv("verdict")
        super().__init__(bridge, name="verdict", **kwargs)

    def render(self) -> None:
        state = self.bridge.state
        outcome = state.outcome if state is not None else None
        if outcome is None:
            return
        verdict, record = outcome.verdict, outcome.record
        self.ids.band.show(verdict, self.t(f"verdict.{verdict.value}"), self.bridge.lang == "fa")
        self.ids.name.raw = self.t("field.name", first=record.first_name, last=record.last_name) if record else ""
        self.ids.father.raw = self.t("field.father", father=record.father_name) if record else ""
        self.ids.born.raw = self.t("field.birth_year", year=record.birth_date.year) if record else ""
        self.ids.hint.raw = next_step(self, outcome, read=True)
        self.ids.notice.raw = self.notice()
        self.ids.confirm.raw = self.t("verdict.confirm")
        self.ids.confirm.disabled = verdict is not Verdict.ELIGIBLE
        self.ids.confirm.opacity = 1 if verdict is Verdict.ELIGIBLE else 0
        self.ids.escalate.raw = self.t("ready.escalate")
        self.ids.escalate.opacity = 1 if verdict in ESCALATE else 0
        self.ids.escalate.disabled = verdict not in ESCALATE
        self.ids.cancel.raw = self.t("verdict.cancel")
        ids = self.ids
        in_reading_order(ids.buttons, (ids.confirm, ids.escalate, ids.cancel), self.bridge.lang == "fa")
        in_reading_order(ids.details, (ids.father, ids.born), self.bridge.lang == "fa")


def next_step(view: View, outcome: Any, read: bool) -> str:
    """What staff say and do next, for `outcome`; `read` when the code came from a card or a scan, not typed."""
    verdict = outcome.verdict
    if verdict is Verdict.UNDERAGE and outcome.eligible_on is not None:
        day = format_fa(outcome.eligible_on) if view.bridge.lang == "fa" else format_en(outcome.eligible_on)
        return view.t("hint.underage", day=day)
    if verdict is Verdict.ALREADY_VOTED and outcome.previous is not None:
        return view.t("hint.already_voted", at=ledger_time(outcome.previous.wall, view.bridge.lang),
                      device=outcome.previous.device)
    if read and verdict in (Verdict.NOT_FOUND, Verdict.INVALID_CODE):
        return view.t(f"hint.{verdict.value}.read")   # a correction in the box cannot help a card
    return view.t(f"hint.{verdict.value}")


def ledger_time(wall: str, lang: str) -> str:
    """A ledger time (UTC, ISO) as staff read it: Tehran time, Jalali date, the screen's digits."""
    at = dt.datetime.fromisoformat(wall).astimezone(TEHRAN)
    day = JalaliDate.from_gregorian(at.date())
    if lang == "fa":
        return f"{format_fa(day)}، ساعت {persian_digits(at.strftime('%H:%M'))}"
    return f"{format_en(day)}, {at.strftime('%H:%M')}"
