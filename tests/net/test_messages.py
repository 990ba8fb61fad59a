"""The wire schema: every message round-trips, and anything else is refused with a reason, never an exception."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.core.cases import CaseForm, CaseReason, Decision, Ruling
from kiosk.core.jalali import JalaliDate
from kiosk.net import messages as m

CASE_ID = st.from_regex(r"\AE-[0-9A-F]{6}-[0-9]{4,9}\Z")
DEVICE = st.from_regex(r"\A[0-9a-f]{16}\Z")
NAME = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=64).filter(str.strip)
WHEN = st.sampled_from(["2026-05-22T08:30:00+00:00", "2026-05-22T08:30:00.123+00:00", "2026-05-22T12:00:00+03:30"])
COUNT = st.integers(0, m.MAX_COUNT)


@st.composite
def forms(draw: st.DrawFn) -> CaseForm:
    year, month = draw(st.integers(1300, 1405)), draw(st.integers(1, 12))
    born = draw(st.none() | st.just(JalaliDate(year, month, draw(st.integers(1, 29)))))
    note = draw(st.text(st.characters(blacklist_categories=("Cc", "Cs")) | st.just("\n"), max_size=300))
    return CaseForm(draw(NAME), draw(NAME), draw(NAME), born, draw(st.from_regex(r"\A[0-9]{0,10}\Z")), note,
                    draw(st.sampled_from(list(CaseReason))))


@st.composite
def decisions(draw: st.DrawFn) -> m.Decide:
    decision = Decision(draw(CASE_ID), draw(DEVICE), draw(st.sampled_from(list(Ruling))),
                        draw(st.sampled_from(["", "0012345679"])), draw(st.from_regex(r"\A[0-9A-Za-z/-]{0,32}\Z")),
                        draw(st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=200)),
                        draw(WHEN), draw(DEVICE))
    return m.Decide(decision, draw(st.binary(min_size=64, max_size=64)))


MESSAGES = st.one_of(
    st.builds(m.OpenCase, CASE_ID, WHEN, forms()),
    st.builds(m.Ack, CASE_ID, st.sampled_from(m.ACK_STEPS)),
    decisions(),
    st.builds(m.Cancel, CASE_ID, st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=200)),
    st.builds(m.Beacon, st.integers(0, 1 << 53)),
    st.builds(m.Status, st.from_regex(r"\A[0-9]{1,10}\Z"), COUNT, COUNT, st.integers(0, 1 << 53),
              st.sampled_from(["0.2.0", "1.0"]), COUNT),
)


@given(MESSAGES)
@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
def test_every_valid_message_round_trips(message: m.Message) -> None:
    assert m.decode(m.encode(message)) == message


def mutate(wire: bytes, data: st.DataObject) -> bytes:
    """A message's bytes with a few bits flipped, bytes inserted or deleted, or the tail cut."""
    out = bytearray(wire)
    for _ in range(data.draw(st.integers(1, 4))):
        action = data.draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        at = data.draw(st.integers(0, max(0, len(out) - 1)))
        if action == "flip" and out:
            out[at] ^= 1 << data.draw(st.integers(0, 7))
        elif action == "cut":
            del out[at:]
        elif action == "insert":
            out[at:at] = data.draw(st.binary(min_size=1, max_size=8))
        elif out:
            del out[at]
    return bytes(out)


@given(MESSAGES, st.data())
@settings(max_examples=2000, suppress_health_check=[HealthCheck.too_slow])
def test_mutated_messages_are_refused_or_decoded_never_raise(message: m.Message, data: st.DataObject) -> None:
    result = m.decode(mutate(m.encode(message), data))
    assert isinstance(result, (m.Refused, m.OpenCase, m.Ack, m.Decide, m.Cancel, m.Beacon, m.Status))
    if not isinstance(result, m.Refused):
        assert m.decode(m.encode(result)) == result  # whatever is accepted is a well-formed message


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=8),
                    max_leaves=30)


@given(JSON)
@settings(max_examples=1500)
def test_arbitrary_json_is_refused_with_a_reason(value: object) -> None:
    result = m.decode(json.dumps(value).encode())
    assert isinstance(result, m.Refused) and result.reason


@given(st.sampled_from(["open_case", "ack", "decide", "cancel", "beacon", "status"]),
       st.dictionaries(st.text(max_size=15), st.text(max_size=30) | st.integers(), max_size=10))
@settings(max_examples=800)
def test_known_types_with_generated_fields_are_refused(kind: str, fields: dict[str, object]) -> None:
    assert isinstance(m.decode(json.dumps({"v": 1, "type": kind, **fields}).encode()), m.Refused)


def _open_case() -> dict[str, object]:
    form = CaseForm("مریم", "رضایی", "حسن", JalaliDate(1370, 5, 1), "123", "", CaseReason.NO_CODE)
    result: dict[str, object] = json.loads(m.encode(m.OpenCase("E-ABCDEF-0001", "2026-05-22T08:30:00+00:00", form)))
    return result


@pytest.mark.parametrize("change, reason", [
    (lambda d: d.update(v=2), "unsupported message version"),
    (lambda d: d.update(v=True), "unsupported message version"),
    (lambda d: d.update(type="drop_table"), "unknown message type"),
    (lambda d: d.update(extra=1), "open_case: wrong fields"),
    (lambda d: d.pop("note"), "open_case: wrong fields"),
    (lambda d: d.update(case_id="E-abcdef-0001"), "bad case id"),
    (lambda d: d.update(case_id="../../etc/passwd"), "bad case id"),
    (lambda d: d.update(first_name="x" * 65), "first_name: not text of at most 64 characters"),
    (lambda d: d.update(first_name="   "), "open_case: a name is empty"),
    (lambda d: d.update(last_name="a\x00b"), "last_name: control characters"),
    (lambda d: d.update(birth_date="1370/13/01"), "open_case: bad birth date"),
    (lambda d: d.update(birth_certificate="12a"), "open_case: bad birth-certificate number"),
    (lambda d: d.update(reason="bribe"), "open_case: unknown reason"),
    (lambda d: d.update(created="yesterday"), "created: not a time"),
    (lambda d: d.update(created="2026-05-22T08:30:00"), "created: time without a zone"),
])
def test_each_kind_of_bad_field_has_its_reason(change: object, reason: str) -> None:
    data = _open_case()
    change(data)  # type: ignore[operator]
    result = m.decode(json.dumps(data, ensure_ascii=False).encode())
    assert result == m.Refused(reason)


@pytest.mark.parametrize("wire, reason", [
    (b'{"v":1,"type":"beacon","wall_ms":1,"wall_ms":2}', "duplicate key"),
    (b'{"v":1,"type":"beacon","wall_ms":NaN}', "NaN is not allowed"),
    (b'{"v":1,"type":"beacon","wall_ms":1.5}', "wall_ms: not a whole number in range"),
    (b'{"v":1,"type":"beacon","wall_ms":true}', "wall_ms: not a whole number in range"),
    (b'{"v":1,"type":"beacon","wall_ms":-1}', "wall_ms: not a whole number in range"),
    (b'{"v":1,"type":"ack","case_id":"E-ABCDEF-0001","step":"everything"}', "ack: unknown step"),
    (b"\xff\xfe{}", "message is not UTF-8"),
    (b"[" * 100_000, "message too large"),
    (b"[" * 60_000, "message nests too deeply"),
    (b"not json", "message is not JSON"),
    (b'{"v":1,"type":"cancel","case_id":"E-ABCDEF-0001","reason":"\\ud800"}', "reason: not valid Unicode"),
    (b"[]", "message is not an object"),
])
def test_hostile_encodings_are_refused(wire: bytes, reason: str) -> None:
    assert m.decode(wire) == m.Refused(reason)


def test_a_decision_with_a_short_signature_or_bad_code_is_refused() -> None:
    decision = Decision("E-ABCDEF-0001", "0123456789abcdef", Ruling.APPROVE, "0012345679", "", "",
                        "2026-05-22T08:30:00+00:00", "fedcba9876543210")
    data = json.loads(m.encode(m.Decide(decision, bytes(64))))
    assert m.decode(json.dumps({**data, "signature": "AAAA"}).encode()) == m.Refused("decide: bad signature length")
    assert m.decode(json.dumps({**data, "national_code": "۰۰۱۲۳۴۵۶۷۹"}).encode()) == \
        m.Refused("decide: bad national code")
    assert m.decode(json.dumps({**data, "rep": "FEDCBA9876543210"}).encode()) == m.Refused("rep: bad device id")
