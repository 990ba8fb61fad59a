"""The verdict on one person: large name, father's name and birth year to compare with the person."""
from __future__ import annotations

import datetime as dt
from typing import Any

from kivy.properties import ListProperty

from kiosk.core.eligibility import Verdict
from kiosk.core.jalali import TEHRAN, JalaliDate, format_en, format_fa, persian_digits
from kiosk.ui.bridge import FlowBridge
from kiosk.ui.screens import View, load_kv

_GREEN, _AMBER, _RED = [0.1, 0.5, 0.2, 1], [0.75, 0.45, 0.05, 1], [0.7, 0.12, 0.12, 1]
BAND = {Verdict.ELIGIBLE: _GREEN, Verdict.ALREADY_VOTED: _RED, Verdict.UNDERAGE: _AMBER,
        Verdict.DECEASED: _RED, Verdict.SUSPENDED: _RED, Verdict.NOT_FOUND: _AMBER,
        Verdict.INVALID_CODE: _AMBER, Verdict.CARD_NOT_TRUSTED: _RED}
# Where a case for the representative makes sense (DESIGN: no code, not found, unreadable, disputed).
ESCALATE = {Verdict.NOT_FOUND, Verdict.ALREADY_VOTED, Verdict.CARD_NOT_TRUSTED, Verdict.INVALID_CODE}


class VerdictScreen(View):
    """Shows one Outcome; only an eligible person can be recorded."""

    band = ListProperty(_AMBER)

    def __init__(self, bridge: FlowBridge, **kwargs: Any) -> None:
        load_kv("verdict")
        super().__init__(bridge, name="verdict", **kwargs)

    def render(self) -> None:
        state = self.bridge.state
        outcome = state.outcome if state is not None else None
        if outcome is None:
            return
        verdict, record = outcome.verdict, outcome.record
        self.band = BAND[verdict]
        self.ids.verdict.raw = self.t(f"verdict.{verdict.value}")
        self.ids.name.raw = self.t("field.name", first=record.first_name, last=record.last_name) if record else ""
        self.ids.father.raw = self.t("field.father", father=record.father_name) if record else ""
        self.ids.born.raw = self.t("field.birth_year", year=record.birth_date.year) if record else ""
        self.ids.hint.raw = self._hint(outcome)
        self.ids.notice.raw = self.notice()
        self.ids.confirm.raw = self.t("verdict.confirm")
        self.ids.confirm.disabled = verdict is not Verdict.ELIGIBLE
        self.ids.confirm.opacity = 1 if verdict is Verdict.ELIGIBLE else 0
        self.ids.escalate.raw = self.t("ready.escalate")
        self.ids.escalate.opacity = 1 if verdict in ESCALATE else 0
        self.ids.escalate.disabled = verdict not in ESCALATE
        self.ids.cancel.raw = self.t("verdict.cancel")

    def _hint(self, outcome: Any) -> str:
        verdict = outcome.verdict
        if verdict is Verdict.UNDERAGE and outcome.eligible_on is not None:
            day = format_fa(outcome.eligible_on) if self.bridge.lang == "fa" else format_en(outcome.eligible_on)
            return self.t("hint.underage", day=day)
        if verdict is Verdict.ALREADY_VOTED and outcome.previous is not None:
            return self.t("hint.already_voted", at=ledger_time(outcome.previous.wall, self.bridge.lang),
                          device=outcome.previous.device)
        return self.t(f"hint.{verdict.value}")


def ledger_time(wall: str, lang: str) -> str:
    """A ledger time (UTC, ISO) as staff read it: Tehran time, Jalali date, the screen's digits."""
    at = dt.datetime.fromisoformat(wall).astimezone(TEHRAN)
    day = JalaliDate.from_gregorian(at.date())
    if lang == "fa":
        return f"{format_fa(day)}، ساعت {persian_digits(at.strftime('%H:%M'))}"
    return f"{format_en(day)}, {at.strftime('%H:%M')}"
