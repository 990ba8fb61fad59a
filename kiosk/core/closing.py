"""Close-of-polls figures: check-ins, escalations by outcome, check-ins per hour — counts only, nothing personal.

The same figures are shown on screen and printed when a kiosk exports, and
totalled per branch when the authority collects the bundles. During the day
the branch head sees them as `DaySummary`: the branch as this kiosk holds it,
and this kiosk alone.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kiosk.core.jalali import TEHRAN, JalaliDate, persian_digits

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
    lines = _check_in_lines(summary, lang) if check_ins else []
    return [*lines, *_case_lines(summary, lang), *_hour_lines(summary, lang)]


# How each outcome reads in Persian (GLOSSARY: تأیید / رد / ارجاع به ثبت احوال).
FA_OUTCOMES = {"approved": "تأیید", "rejected": "رد", "referred": "ارجاع به ثبت احوال",
               "cancelled": "انصراف", "open": "باز"}


def _check_in_lines(summary: ClosingSummary, lang: str) -> list[str]:
    if lang == "fa":
        return [f"مشارکت ثبت‌شده: {persian_digits(summary.check_ins)}",
                f"ثبت‌های لغوشده: {persian_digits(summary.undone)}"]
    return [f"Check-ins recorded: {summary.check_ins}", f"Check-ins undone: {summary.undone}"]


def _case_lines(summary: ClosingSummary, lang: str, title: str = "") -> list[str]:
    esc = summary.escalations
    if lang == "fa":
        lines = [f"{title or 'پرونده‌های ارجاعی'}: {persian_digits(sum(esc.values()))}"]
        return lines + [f"  {FA_OUTCOMES[o]}: {persian_digits(esc.get(o, 0))}" for o in OUTCOMES if esc.get(o)]
    lines = [f"{title or 'Escalations'}: {sum(esc.values())}"]
    return lines + [f"  {o}: {esc.get(o, 0)}" for o in OUTCOMES if esc.get(o)]


def _hour_lines(summary: ClosingSummary, lang: str) -> list[str]:
    hours = sorted(summary.by_hour.items())
    if not hours:
        return []
    if lang == "fa":
        return ["مشارکت در هر ساعت:", *(f"  ساعت {persian_digits(f'{h:02d}')}: {persian_digits(n)}" for h, n in hours)]
    return ["Check-ins per hour:", *(f"  {h:02d}:00  {n}" for h, n in hours)]


@dataclass(frozen=True, slots=True)
class DaySummary:
    """Today's figures for the branch head, read at `at` (Tehran time).

    `branch` counts every kiosk's check-ins this kiosk holds (its own and those
    branch sync brought); cases are not synced, so only `kiosk` has escalations.
    """

    at: dt.datetime
    branch: ClosingSummary
    kiosk: ClosingSummary
    other_kiosks: int = 0       # other kiosks with check-ins today among the events this kiosk holds

    @property
    def day(self) -> JalaliDate:
        """The election day in Tehran."""
        return JalaliDate.from_gregorian(self.at.astimezone(TEHRAN).date())


def day_start_utc(now: dt.datetime) -> str:
    """Midnight in Tehran of the day `now` (timezone-aware) falls on there, as the UTC ISO text the ledger stores."""
    tehran = now.astimezone(TEHRAN)
    midnight = dt.datetime(tehran.year, tehran.month, tehran.day, tzinfo=TEHRAN)
    return midnight.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")


def day_hours(day: DaySummary) -> list[tuple[int, int, int]]:
    """(Tehran hour, branch check-ins, this kiosk's) from the first hour with a check-in to the last, gaps as 0."""
    hours = day.branch.by_hour.keys() | day.kiosk.by_hour.keys()
    if not hours:
        return []
    return [(h, day.branch.by_hour.get(h, 0), day.kiosk.by_hour.get(h, 0)) for h in range(min(hours), max(hours) + 1)]


def day_lines(day: DaySummary, lang: str) -> list[str]:
    """Today's figures as lines for the receipt: the branch, this kiosk with its cases, then check-ins per hour."""
    hours = day_hours(day)
    if lang == "fa":
        others = f"این دستگاه و {persian_digits(day.other_kiosks)} دستگاه دیگر" if day.other_kiosks else "فقط این دستگاه"
        lines = [f"کل شعبه ({others}):", *_check_in_lines(day.branch, lang), "این دستگاه:",
                 *_check_in_lines(day.kiosk, lang), *_case_lines(day.kiosk, lang, "پرونده‌های ارجاعی این دستگاه")]
        if hours:
            lines += ["مشارکت در هر ساعت (کل شعبه / این دستگاه):"]
            lines += [f"  ساعت {persian_digits(f'{h:02d}')}: {persian_digits(b)} / {persian_digits(k)}"
                      for h, b, k in hours]
        return lines
    others = f"this kiosk and {day.other_kiosks} other{'s' if day.other_kiosks > 1 else ''}" if day.other_kiosks \
        else "this kiosk only"
    lines = [f"Whole branch ({others}):", *_check_in_lines(day.branch, lang), "This kiosk:",
             *_check_in_lines(day.kiosk, lang), *_case_lines(day.kiosk, lang, "This kiosk's cases")]
    if hours:
        lines += ["Check-ins per hour (branch / this kiosk):"]
        lines += [f"  {h:02d}:00  {b} / {k}" for h, b, k in hours]
    return lines
