"""One limit for each free-text field, the same as the wire's: what the core accepts, the peers accept."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.core.cases import CaseForm, CaseReason, DecisionProblem, FormProblem, Ruling, check_decision, check_form
from kiosk.core.jalali import JalaliDate
from kiosk.core.text_limits import TextRefused, check_text, clip, text_problem
from kiosk.core.undo import check_undo_reason
from kiosk.net import messages as m
from kiosk.net import sync_messages as sm
from kiosk.trust.canonical import b64e
from kiosk.trust.decisions import undo_reason

DAY = JalaliDate(1405, 3, 1)
# Text a person or a paste may bring: letters of both scripts, spaces, line breaks, tabs, other controls,
# and lone surrogates (which JSON's \ud800 decodes to).
TYPED = st.text(alphabet=st.sampled_from(["a", "ی", "ک", " ", "\u200c", "\n", "\r", "\t", "\x00", "\x7f", "\x1b",
                                          "\ud800", "۱"]), max_size=460)


def _page_with(ref: str, reason: str) -> bytes:
    event = [1, 1, "undo", b64e(b"v" * 16), ref, reason, "2026-05-22T08:30:00.000+00:00", b64e(b"p" * 32),
             b64e(b"h" * 32), b64e(b"s" * 64)]
    return json.dumps({"v": 1, "type": "page", "device": "ab" * 8,
                       "cert": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
                       "events": [event]}).encode()


@given(TYPED)
@settings(max_examples=400)
def test_an_undo_reason_is_accepted_exactly_when_branch_sync_would_carry_it(reason: str) -> None:
    wire = sm.decode(_page_with("ab" * 8 + ":1", reason.strip()))
    try:
        kept = check_undo_reason(reason)
    except TextRefused:
        assert isinstance(wire, m.Refused) or not reason.strip()
    else:
        assert isinstance(wire, sm.Page) and wire.events[0].reason == kept


@pytest.mark.parametrize("reason, message", [
    ("x" * 401, "the reason is 401 characters long; at most 400 fit"),
    ("wrong person\nrecorded twice", "the reason holds a line break; write it on one line"),
    ("wrong\tperson", "the reason holds a control character (a tab or another invisible character); type it again"),
    ("   ", "the reason is empty"),
])
def test_an_undo_reason_the_peers_would_refuse_is_refused_with_what_to_do(reason: str, message: str) -> None:
    with pytest.raises(TextRefused) as refused:
        check_undo_reason(reason)
    assert str(refused.value) == message
    assert isinstance(refused.value, ValueError)


def test_an_undo_reason_of_exactly_the_limit_is_kept_as_typed() -> None:
    assert check_undo_reason("  " + "ی" * 400 + " ") == "ی" * 400


def _form_message(**fields: str) -> bytes:
    base = {"first_name": "مریم", "last_name": "رضایی", "father_name": "حسن", "note": ""}
    base.update(fields)
    return json.dumps({"v": 1, "type": "open_case", "case_id": "E-AB12CD-0001", "created": "2026-05-22T08:30:00+00:00",
                       "reason": "no_code", "birth_date": "1370/01/01", "birth_certificate": "", "disputed": "",
                       **base}).encode()


@given(TYPED)
@settings(max_examples=300)
def test_a_name_on_the_case_form_is_accepted_exactly_when_the_console_would_take_it(name: str) -> None:
    form = CaseForm(name, "رضایی", "حسن", JalaliDate(1370, 1, 1), "", "", CaseReason.NO_CODE)
    core_ok = FormProblem.FIRST_NAME not in check_form(form, DAY)
    # The outbox keeps and sends the name stripped.
    assert core_ok == isinstance(m.decode(_form_message(first_name=name.strip())), m.OpenCase)


@given(TYPED)
@settings(max_examples=300)
def test_a_case_note_is_accepted_exactly_when_the_console_would_take_it(note: str) -> None:
    form = CaseForm("مریم", "رضایی", "حسن", JalaliDate(1370, 1, 1), "", note, CaseReason.NO_CODE)
    core_ok = FormProblem.NOTE not in check_form(form, DAY)
    assert core_ok == isinstance(m.decode(_form_message(note=note.strip())), m.OpenCase)


def test_a_lone_surrogate_in_a_name_is_a_form_problem_not_a_case_the_console_refuses() -> None:
    form = CaseForm("مر\ud800یم", "رضایی", "حسن", JalaliDate(1370, 1, 1), "", "", CaseReason.NO_CODE)
    assert check_form(form, DAY) == [FormProblem.FIRST_NAME]


@pytest.mark.parametrize("reason, ok", [("x" * 200, True), ("x" * 201, False), ("not of\nthis branch", False),
                                        ("\ud800", False)])
def test_the_representatives_reason_has_the_decide_messages_limit(reason: str, ok: bool) -> None:
    assert (DecisionProblem.REASON not in check_decision(Ruling.REJECT, "", "", reason)) is ok


def test_the_representatives_undo_authorization_fits_the_undo_event_whole() -> None:
    longest = undo_reason("E-ABCDEF-999999999", "f" * 16, b"s" * 64)
    assert len(longest) == 139 and isinstance(sm.decode(_page_with("ab" * 8 + ":1", longest)), sm.Page)
    with pytest.raises(TextRefused):
        undo_reason("E-" + "A" * 400, "f" * 16, b"s" * 64)   # a case id no decoder passes: never signed


@pytest.mark.parametrize("typed, limit, newlines, kept", [
    ("abc", 2, False, "ab"),
    ("line one\nline two", 40, False, "line one line two"),
    ("line one\r\nline two", 40, True, "line one\nline two"),
    ("a\tb\x00c\x7f", 10, False, "a bc"),
    ("\ud800ok", 10, False, "ok"),
])
def test_a_text_box_keeps_only_what_the_core_accepts(typed: str, limit: int, newlines: bool, kept: str) -> None:
    assert clip(typed, limit, newlines) == kept
    assert text_problem(kept, limit, newlines) is None


def test_check_text_names_the_field() -> None:
    with pytest.raises(TextRefused, match="^the name is 65 characters long; at most 64 fit$"):
        check_text("x" * 65, "the name", 64)
