"""The console's words: both languages say the same things, and every state the core can reach has its words."""
from __future__ import annotations

import string

from kiosk.core.cases import CaseReason, DecisionProblem, Ruling
from kiosk.core.console import RepCaseStatus
from kiosk.core.console_flow import ConsoleNotice
from kiosk.ui.text import EN, FA, say
from kiosk.ui.text_console import EN_CONSOLE, FA_CONSOLE


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_persian_and_english_have_the_same_keys_and_placeholders() -> None:
    assert FA_CONSOLE.keys() == EN_CONSOLE.keys()
    assert all(key.startswith("console.") for key in FA_CONSOLE)
    assert {k: _fields(v) for k, v in FA_CONSOLE.items()} == {k: _fields(v) for k, v in EN_CONSOLE.items()}


def test_the_console_words_are_in_the_app_catalogues() -> None:
    assert FA_CONSOLE.items() <= FA.items() and EN_CONSOLE.items() <= EN.items()
    assert say("fa", "console.alert", count=2) == "پرونده جدید: ۲"
    assert say("en", "console.alert", count=2) == "New cases: 2"


def test_every_notice_reason_ruling_and_problem_has_words() -> None:
    keys = {f"console.notice.{n.value}" for n in ConsoleNotice}
    keys |= {f"console.reason.{r.value}" for r in CaseReason}
    keys |= {f"console.ruling.{r.value}" for r in Ruling} | {"console.ruling.cancelled"}
    keys |= {f"console.problem.{p.value}" for p in DecisionProblem}
    keys |= {f"console.notice.case_gone.{s.value}" for s in RepCaseStatus if s is not RepCaseStatus.OPEN}
    assert keys <= FA_CONSOLE.keys()


def test_persian_words_use_the_glossary_and_the_zero_width_non_joiner() -> None:
    assert FA_CONSOLE["console.decision.refer"] == "ارجاع به ثبت احوال"
    assert FA_CONSOLE["console.decision.approve"] == "تأیید" and FA_CONSOLE["console.decision.reject"] == "رد"
    assert "\u200c" in FA_CONSOLE["console.queue.title"]  # پرونده‌های
    assert not any(c in "0123456789" for v in FA_CONSOLE.values() for c in v)  # digits come in Persian
