"""Close-of-polls figures: check-ins, escalations by outcome, check-ins per hour — counts only, nothing personal.

The same figures are shown on screen and printed when a kiosk exports, and
totalled per branch when the authority collects the bundles.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kiosk.core.jalali import TEHRAN, persian_digits

# Escalation outcomes, in the order they are shown.
OUTCOMES = ("approved", "rejected", "referred", "cancelled", "open")
_RULING_OUTCOME = {"approve": "approved", "reject": "rejected", "refer": "referred"}


@dataclass(frozen=True, slots=True)
class ClosingSummary:
    """What a branch (or one kiosk) did on the day."""

    check_ins: int = 0                                  # live: recorded and not undone
    undone: int = 0
    by_hour: Mapping[int, int] = field(default_factory=dict)      # Tehran hour 0–23 → live check-ins
    escalations: Mapping[str, int] = field(default_factory=dict)  # outcome (OUTCOMES) → cases

    def __add__(self, other: ClosingSummary) -> ClosingSummary:
        return ClosingSummary(self.check_ins + other.check_ins, self.undone + other.undone,
                              dict(Counter(self.by_hour) + Counter(other.by_hour)),
                              dict(Counter(self.escalations) + Counter(other.escalations)))


def tehran_hour(wall_utc: str) -> int:
    """The hour in Tehran of an event's UTC wall time (ISO 8601)."""
    return dt.datetime.fromisoformat(wall_utc).astimezone(TEHRAN).hour


def outcome_of(status: str, ruling: object) -> str:
    """A case's outcome from its status and, once decided, the representative's ruling."""
    if status == "decided" and isinstance(ruling, str) and ruling in _RULING_OUTCOME:
        return _RULING_OUTCOME[ruling]
    return "cancelled" if status == "cancelled" else "open"


def summarize(check_ins: Mapping[str, str], undone: Iterable[str],
              case_outcomes: Iterable[str]) -> ClosingSummary:
    """Figures from check-ins ("device:seq" → UTC wall time), the refs undone, and each case's outcome."""
    undone_refs = set(undone)
    live = [wall for ref, wall in check_ins.items() if ref not in undone_refs]
    return ClosingSummary(len(live), len(undone_refs & check_ins.keys()),
                          dict(Counter(tehran_hour(w) for w in live)), dict(Counter(case_outcomes)))


def summary_lines(summary: ClosingSummary, lang: str, check_ins: bool = True) -> list[str]:
    """The figures as short lines for a screen or a receipt, in Persian ("fa") or English.

    A console records no check-ins: without `check_ins` only its cases are counted.
    """
    esc = summary.escalations
    hours = sorted(summary.by_hour.items())
    if lang == "fa":
        names = {"approved": "تأیید", "rejected": "رد", "referred": "ارجاع به ثبت احوال",
                 "cancelled": "انصراف", "open": "باز"}
        lines = [f"مشارکت ثبت‌شده: {persian_digits(summary.check_ins)}",
                 f"ثبت‌های لغوشده: {persian_digits(summary.undone)}"] if check_ins else []
        lines += [f"پرونده‌های ارجاعی: {persian_digits(sum(esc.values()))}"]
        lines += [f"  {names[o]}: {persian_digits(esc.get(o, 0))}" for o in OUTCOMES if esc.get(o)]
        if hours:
            lines += ["مشارکت در هر ساعت:"]
            lines += [f"  ساعت {persian_digits(f'{h:02d}')}: {persian_digits(n)}" for h, n in hours]
        return lines
    lines = [f"Check-ins recorded: {summary.check_ins}", f"Check-ins undone: {summary.undone}"] if check_ins else []
    lines += [f"Escalations: {sum(esc.values())}"]
    lines += [f"  {o}: {esc.get(o, 0)}" for o in OUTCOMES if esc.get(o)]
    if hours:
        lines += ["Check-ins per hour:"]
        lines += [f"  {h:02d}:00  {n}" for h, n in hours]
    return lines
