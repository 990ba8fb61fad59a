"""The wire schema: every message round-trips, and anything else is refused with a reason, never an exception."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.core.cases import CardEndorsement, CaseForm, CaseReason, Decision, Ruling, UndoAuthorization
from kiosk.core.jalali import JalaliDate
from kiosk.net import messages as m

CASE_ID = st.from_regex(r"\AE-[0-9A-F]{6}-[0-9]{4,9}\Z")
DEVICE = st.from_regex(r"\A[0-9a-f]{16}\Z")
NAME = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=64).filter(str.strip)
WHEN = st.sampled_from(["2026-05-22T08:30:00+00:00", "2026-05-22T08:30:00.123+00:00", "2026-05-22T12:00:00+03:30"])
COUNT = st.integers(0, m.MAX_COUNT)
CHECK_IN = st.from_regex(r"\A[0-9a-f]{16}:[1-9][0-9]{0,12}\Z")


@st.composite
def forms(draw: st.DrawFn) -> CaseForm:
    year, month = draw(st.integers(1300, 1405)), draw(st.integers(1, 12))
    born = draw(st.none() | st.just(JalaliDate(year, month, draw(st.integers(1, 29)))))
    note = draw(st.text(st.characters(blacklist_categories=("Cc", "Cs")) | st.just("\n"), max_size=300))
    reason = draw(st.sampled_from(list(CaseReason)))
    disputed = draw(st.just("") | CHECK_IN) if reason is CaseReason.DISPUTED else ""
    return CaseForm(draw(NAME), draw(NAME), draw(NAME), born, draw(st.from_regex(r"\A[0-9]{0,10}\Z")), note,
                    reason, disputed)


@st.composite
def decisions(draw: st.DrawFn) -> m.Decide:
    decision = Decision(draw(CASE_ID), draw(DEVICE), draw(st.sampled_from(list(Ruling))),
                        draw(st.sampled_from(["", "0012345679"])), draw(st.from_regex(r"\A[0-9A-Za-z/-]{0,32}\Z")),
                        draw(st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=200)),
                        draw(WHEN), draw(DEVICE))
    undo = None
    if decision.ruling is Ruling.APPROVE and draw(st.booleans()):
        undo = UndoAuthorization(draw(CHECK_IN), draw(st.binary(min_size=64, max_size=64)))
    card = draw(st.none() | st.builds(CardEndorsement, st.binary(min_size=1, max_size=600),
                                      st.binary(min_size=1, max_size=140)))
    return m.Decide(decision, draw(st.binary(min_size=64, max_size=64)), undo, card)


MESSAGES = st.one_of(
    st.builds(m.OpenCase, CASE_ID, WHEN, forms()),
    st.builds(m.Ack, CASE_ID, st.sampled_from(m.ACK_STEPS)),
    decisions(),
    st.builds(m.Cancel, CASE_ID, st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=200)),
    st.builds(m.Beacon, st.integers(0, 1 << 53)),
    st.builds(m.Status, st.from_regex(r"\A[0-9]{1,10}\Z"), COUNT, COUNT, st.integers(0, 1 << 53),
              st.sampled_from(["0.2.0", "1.0"]), COUNT, COUNT),
    st.builds(m.Revocations, st.binary(min_size=1, max_size=300)),
    st.just(m.AskUnlock()),
    st.builds(m.UnlockShare, st.binary(min_size=32, max_size=32)),
    st.builds(m.UnlockDenied, st.sampled_from(sorted(m.DENIALS))),
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
    assert isinstance(result, (m.Refused, m.OpenCase, m.Ack, m.Decide, m.Cancel, m.Beacon, m.Status, m.Revocations,
                               m.AskUnlock, m.UnlockShare, m.UnlockDenied))
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


def _decide(ruling: Ruling = Ruling.APPROVE) -> dict[str, object]:
    decision = Decision("E-ABCDEF-0001", "0123456789abcdef", ruling, "0012345679" if ruling is Ruling.APPROVE else "",
                        "", "", "2026-05-22T08:30:00+00:00", "fedcba9876543210")
    undo = UndoAuthorization("aaaa1111bbbb2222:7", bytes(range(64))) if ruling is Ruling.APPROVE else None
    result: dict[str, object] = json.loads(m.encode(m.Decide(decision, bytes(64), undo)))
    return result


def test_a_decision_carries_the_undo_target_and_its_signature() -> None:
    data = _decide()
    assert (data["undo"], len(str(data["undo_signature"]))) == ("aaaa1111bbbb2222:7", 88)
    decoded = m.decode(json.dumps(data).encode())
    assert isinstance(decoded, m.Decide) and decoded.undo == UndoAuthorization("aaaa1111bbbb2222:7", bytes(range(64)))
    none = m.decode(json.dumps({**data, "undo": "", "undo_signature": ""}).encode())
    assert isinstance(none, m.Decide) and none.undo is None


@pytest.mark.parametrize("change, reason", [
    ({"undo": "aaaa1111bbbb2222"}, "decide: bad undo target"),               # no sequence number
    ({"undo": "aaaa1111bbbb2222:0"}, "decide: bad undo target"),
    ({"undo": "AAAA1111BBBB2222:7"}, "decide: bad undo target"),             # device ids are lower-case hex
    ({"undo": "aaaa1111bbbb2222:7:8"}, "decide: bad undo target"),
    ({"undo": "x" * 31}, "undo: not text of at most 30 characters"),
    ({"undo": 7}, "undo: not text of at most 30 characters"),
    ({"undo": ""}, "decide: bad undo target"),                               # a signature with no target
    ({"undo_signature": ""}, "decide: bad undo_signature length"),           # a target with no signature
    ({"undo_signature": "AAAA"}, "decide: bad undo_signature length"),
    ({"undo_signature": "A" * 87 + "="}, "decide: bad undo_signature length"),
    ({"undo_signature": "!" * 88}, "decide: bad undo_signature encoding"),
    ({"undo_signature": None}, "decide: bad undo_signature encoding"),
])
def test_a_malformed_undo_is_refused(change: dict[str, object], reason: str) -> None:
    assert m.decode(json.dumps({**_decide(), **change}).encode()) == m.Refused(reason)


def test_an_undo_rides_only_on_an_approval_and_both_fields_are_required() -> None:
    rejected = {**_decide(Ruling.REJECT), "reason": "no", "undo": "aaaa1111bbbb2222:7",
                "undo_signature": _decide()["undo_signature"]}
    assert m.decode(json.dumps(rejected).encode()) == m.Refused("decide: an undo with a decision that approves nothing")
    missing = _decide()
    del missing["undo_signature"]
    assert m.decode(json.dumps(missing).encode()) == m.Refused("decide: wrong fields")


@pytest.mark.parametrize("change, reason", [
    ({"reason": "disputed", "disputed": "aaaa1111bbbb2222"}, "open_case: bad disputed check-in"),
    ({"reason": "disputed", "disputed": "aaaa1111bbbb222g:3"}, "open_case: bad disputed check-in"),
    ({"reason": "disputed", "disputed": "x" * 31}, "disputed: not text of at most 30 characters"),
    ({"reason": "not_found", "disputed": "aaaa1111bbbb2222:3"},
     "open_case: a disputed check-in on a case that disputes none"),
])
def test_a_case_names_a_disputed_check_in_only_well_formed_and_only_when_disputed(
        change: dict[str, object], reason: str) -> None:
    assert m.decode(json.dumps({**_open_case(), **change}, ensure_ascii=False).encode()) == m.Refused(reason)
    good = m.decode(json.dumps({**_open_case(), "reason": "disputed", "disputed": "aaaa1111bbbb2222:3"}).encode())
    assert isinstance(good, m.OpenCase) and good.form.disputed == "aaaa1111bbbb2222:3"


def test_a_relayed_revocation_list_is_bounded_to_one_frame() -> None:
    too_big = m.encode(m.Revocations(b"x" * (m.MAX_REVOCATIONS + 1)))
    assert isinstance(m.decode(too_big), m.Refused)
    assert m.decode(m.encode(m.Revocations(b"x" * m.MAX_REVOCATIONS))) == m.Revocations(b"x" * m.MAX_REVOCATIONS)
    assert isinstance(m.decode(b'{"v":1,"type":"revocations","signed":""}'), m.Refused)
    assert isinstance(m.decode(b'{"v":1,"type":"revocations","signed":"not base64!"}'), m.Refused)


# -- anomalies on the console (issue 12): the kiosk's count of records the rules refuse to count ----------------

def _status() -> dict[str, object]:
    result: dict[str, object] = json.loads(m.encode(m.Status("1001", 41, 2, 1_700_000_000_000, "0.2.0", 1, 3)))
    return result


def test_a_status_carries_the_kiosks_anomaly_count() -> None:
    data = _status()
    assert data["anomalies"] == 3
    decoded = m.decode(json.dumps(data).encode())
    assert isinstance(decoded, m.Status) and (decoded.duplicates, decoded.anomalies) == (1, 3)


@pytest.mark.parametrize("change, reason", [
    ({"anomalies": -1}, "anomalies: not a whole number in range"),
    ({"anomalies": m.MAX_COUNT + 1}, "anomalies: not a whole number in range"),
    ({"anomalies": "3"}, "anomalies: not a whole number in range"),
    ({"anomalies": 3.0}, "anomalies: not a whole number in range"),
    ({"anomalies": True}, "anomalies: not a whole number in range"),
    ({"anomalies": None}, "anomalies: not a whole number in range"),
])
def test_a_status_with_a_bad_anomaly_count_is_refused(change: dict[str, object], reason: str) -> None:
    assert m.decode(json.dumps({**_status(), **change}).encode()) == m.Refused(reason)


def test_a_status_without_the_anomaly_count_is_refused() -> None:
    missing = _status()
    del missing["anomalies"]
    assert m.decode(json.dumps(missing).encode()) == m.Refused("status: wrong fields")


@pytest.mark.parametrize("body, reason", [
    ({"type": "unlock_share", "share": "AAAA"}, "wrong length"),
    ({"type": "unlock_share", "share": "!!"}, "bad share encoding"),
    ({"type": "unlock_share", "share": 7}, "bad share"),
    ({"type": "unlock_denied", "reason": "because I said so"}, "unknown reason"),
    ({"type": "ask_unlock", "share": "AAAA"}, "wrong fields"),
])
def test_unlock_messages_out_of_shape_are_refused(body: dict[str, object], reason: str) -> None:
    refused = m.decode(json.dumps({"v": 1, **body}).encode())
    assert isinstance(refused, m.Refused) and reason in refused.reason
