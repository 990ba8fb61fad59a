"""Close-of-polls figures: what the summary counts and how it reads, in Tehran's hours."""
from __future__ import annotations

from kiosk.core.closing import ClosingSummary, outcome_of, summarize, summary_lines


def test_undone_check_ins_are_not_counted_and_hours_are_tehran_hours() -> None:
    summary = summarize(
        {"k1:1": "2026-05-22T04:29:59+00:00",      # 07:59 in Tehran
         "k1:2": "2026-05-22T04:30:00+00:00",      # 08:00
         "k2:7": "2026-05-22T04:45:00+00:00"},
        undone=["k1:2", "k9:1"],                   # an undo of a check-in not in this set counts nowhere
        case_outcomes=[outcome_of("decided", "approve"), outcome_of("decided", "refer"),
                       outcome_of("cancelled", None), outcome_of("delivered", None)])
    assert (summary.check_ins, summary.undone) == (2, 1)
    assert summary.by_hour == {7: 1, 8: 1}
    assert summary.escalations == {"approved": 1, "referred": 1, "cancelled": 1, "open": 1}


def test_branch_totals_add_up_per_hour_and_outcome() -> None:
    a = ClosingSummary(3, 1, {8: 2, 9: 1}, {"approved": 1})
    b = ClosingSummary(2, 0, {9: 2}, {"approved": 1, "rejected": 1})
    assert a + b == ClosingSummary(5, 1, {8: 2, 9: 3}, {"approved": 2, "rejected": 1})


def test_the_lines_read_in_persian_digits_and_a_console_counts_only_its_cases() -> None:
    summary = ClosingSummary(12, 1, {8: 12}, {"rejected": 2})
    fa = summary_lines(summary, "fa")
    assert fa[0] == "مشارکت ثبت‌شده: ۱۲" and "  رد: ۲" in fa and "  ساعت ۰۸: ۱۲" in fa
    assert summary_lines(summary, "en")[:3] == ["Check-ins recorded: 12", "Check-ins undone: 1", "Escalations: 2"]
    console = summary_lines(ClosingSummary(escalations={"approved": 3}), "en", check_ins=False)
    assert console == ["Escalations: 3", "  approved: 3"]
