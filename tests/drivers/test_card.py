"""Card profiles and the fake reader: good reads, trust, and every way a card can answer wrongly."""
from __future__ import annotations

import datetime as dt

import pytest

from drivers.card import apdu
from drivers.card.fake import FakeCardReader
from drivers.card.minting import CardAuthority
from drivers.card.profiles import PROFILES, check_chain, parse_card_certificate, read_card
from drivers.card.reader import ReaderEvent, ReaderStatus
from drivers.card.virtual import Misbehaviour, VirtualCard
from drivers.errors import CardError
from helpers import code

TODAY = dt.date.today()


@pytest.fixture(scope="module")
def ca() -> CardAuthority:
    return CardAuthority()


def _reader_with(card: VirtualCard) -> FakeCardReader:
    reader = FakeCardReader()
    reader.insert_card(card)
    return reader


@pytest.mark.parametrize("profile", ["iran-nid", "test"])
def test_a_good_card_yields_its_code_and_a_trusted_certificate(ca: CardAuthority, profile: str) -> None:
    reader = _reader_with(VirtualCard.of(profile, ca.card_certificate(code(42))))
    read = read_card(reader.transmit, PROFILES[profile], [ca.certificate], TODAY)
    assert (read.national_code, read.trusted, read.trust_problem) == (code(42), True, None)


def test_a_card_of_another_profile_is_refused_at_select(ca: CardAuthority) -> None:
    reader = _reader_with(VirtualCard.of("test", ca.card_certificate(code(42))))
    with pytest.raises(CardError, match="select application: card answered status 6A82"):
        read_card(reader.transmit, PROFILES["iran-nid"], [ca.certificate], TODAY)


def test_a_certificate_from_another_authority_is_read_but_not_trusted(ca: CardAuthority) -> None:
    forger = CardAuthority("Test National ID CA")  # same name, other key
    reader = _reader_with(VirtualCard.of("test", forger.card_certificate(code(7))))
    read = read_card(reader.transmit, PROFILES["test"], [ca.certificate], TODAY)
    assert read.national_code == code(7) and not read.trusted
    assert read.trust_problem == "signature does not verify against the trust anchor"
    assert check_chain(read.certificate, [], TODAY) == "issuer is not among the election's card trust anchors"


def test_a_certificate_expired_on_the_election_day_is_not_trusted(ca: CardAuthority) -> None:
    _, cert = parse_card_certificate(ca.card_certificate(code(8), valid_days=1))
    assert check_chain(cert, [ca.certificate], TODAY + dt.timedelta(days=30)) == \
        "certificate is not valid on the election day"


@pytest.mark.parametrize("misbehave, message", [
    (Misbehaviour(wrong_status=0x6982), "read certificate: card answered status 6982"),
    (Misbehaviour(short_answer=True), "fewer than two status bytes"),
    (Misbehaviour(truncate_certificate=300), "certificate truncated"),
    (Misbehaviour(truncate_certificate=3), "truncated"),
    (Misbehaviour(pull_after_reads=1), "card was removed during the read"),
])
def test_odd_answers_give_a_clear_card_error(ca: CardAuthority, misbehave: Misbehaviour, message: str) -> None:
    reader = _reader_with(VirtualCard.of("test", ca.card_certificate(code(9)), misbehave))
    with pytest.raises(CardError, match=message):
        read_card(reader.transmit, PROFILES["test"], [ca.certificate], TODAY)


@pytest.mark.parametrize("content, message", [
    (b"\x04\x03abc" + b"\x00" * 40, "does not start with a DER sequence"),
    (b"\x30\x82\x01\x00" + b"\x00" * 256, "not valid X.509"),
])
def test_garbage_in_the_certificate_file_is_refused(content: bytes, message: str) -> None:
    reader = _reader_with(VirtualCard.of("test", content))
    with pytest.raises(CardError, match=message):
        read_card(reader.transmit, PROFILES["test"], [], TODAY)


def test_a_certificate_without_a_valid_national_code_is_refused(ca: CardAuthority) -> None:
    with pytest.raises(CardError, match="invalid national code"):
        parse_card_certificate(ca.card_certificate("1234567890"))


def test_a_slow_card_times_out_and_the_reader_reports_a_card_error(ca: CardAuthority) -> None:
    reader = _reader_with(VirtualCard.of("test", ca.card_certificate(code(3)), Misbehaviour(delay=0.3)))
    with pytest.raises(CardError, match="did not answer in time"):
        reader.transmit(apdu.select_aid(PROFILES["test"].aid), timeout=0.05)
    assert reader.status() is ReaderStatus.CARD_ERROR


def test_the_fake_reader_reports_plug_insert_remove_and_unplug(ca: CardAuthority) -> None:
    reader = FakeCardReader(plugged=False)
    events: list[ReaderEvent] = []
    unsubscribe = reader.subscribe(events.append)
    with pytest.raises(CardError):
        reader.insert_card(VirtualCard.of("test", ca.card_certificate(code(1))))
    reader.plug()
    reader.insert_card(VirtualCard.of("test", ca.card_certificate(code(1))))
    reader.remove_card()
    with pytest.raises(CardError, match="no card"):
        reader.transmit(apdu.select_aid(PROFILES["test"].aid))
    reader.insert_card(VirtualCard.of("test", ca.card_certificate(code(1))))
    reader.unplug()
    unsubscribe()
    reader.plug()
    assert [e.status for e in events] == [ReaderStatus.NO_CARD, ReaderStatus.CARD_PRESENT, ReaderStatus.NO_CARD,
                                          ReaderStatus.CARD_PRESENT, ReaderStatus.NO_READER]


def test_apdu_helpers_refuse_what_cannot_be_encoded() -> None:
    with pytest.raises(ValueError):
        apdu.read_binary(0x8000, 10)
    with pytest.raises(CardError, match="malformed"):
        apdu.der_length(b"\x30\x84\x00\x00\x00\x10")
    assert apdu.der_length(b"\x30\x82\x01\x00") == 260


def test_the_bench_tool_works_on_the_fake_reader(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from kiosk.cli import main as kiosk_main
    assert kiosk_main(["hw", "--simulate", "read-card", "--profile", "iran-nid"]) == 0
    read = json.loads(capsys.readouterr().out)
    code = read["national_code"]
    assert read["trusted"] is True and len(code) == 10 and code.isdigit()
    # The national code's check digit, worked out here by its published rule, not by the code under test.
    remainder = sum(int(d) * (10 - i) for i, d in enumerate(code[:9])) % 11
    assert int(code[9]) == (remainder if remainder < 2 else 11 - remainder)
    assert kiosk_main(["hw", "--simulate", "watch", "--seconds", "0.1"]) == 0
    statuses = [json.loads(line)["status"] for line in capsys.readouterr().out.splitlines()]
    assert statuses == ["no_card", "card_present", "no_card", "no_reader", "no_card"]


def test_a_listener_that_raises_does_not_stop_the_others(ca: CardAuthority) -> None:
    reader = FakeCardReader()
    seen: list[ReaderStatus] = []

    def broken(event: ReaderEvent) -> None:
        raise RuntimeError("a bug in a screen")

    reader.subscribe(broken)
    reader.subscribe(lambda e: seen.append(e.status))
    reader.insert_card(VirtualCard.of("test", ca.card_certificate(code(2))))
    assert seen == [ReaderStatus.CARD_PRESENT] and reader.status() is ReaderStatus.CARD_PRESENT


# -- the holder's commands: PIN and private key (issue 14) -----------------------------------------------------------

def test_the_card_uses_its_key_only_after_its_pin(ca: CardAuthority) -> None:
    from cryptography import x509
    from drivers.card import holder
    from kiosk.trust.card_proof import challenge_digest, signature_holds
    issued = ca.issue(code(41))
    reader = _reader_with(VirtualCard.of("test", issued.certificate, key=issued.key, pin="246810"))
    test = PROFILES["test"]
    holder.select_application(reader.transmit, test)
    digest = challenge_digest("sign-in", "e", "d", b"nonce")
    with pytest.raises(CardError, match="wants its PIN first"):
        holder.sign_digest(reader.transmit, test, digest)
    assert holder.verify_pin(reader.transmit, test, "246810") == holder.PinAccepted()
    signature = holder.sign_digest(reader.transmit, test, digest)
    certificate = x509.load_der_x509_certificate(issued.certificate)
    assert signature_holds(certificate, digest, signature)
    assert not signature_holds(certificate, challenge_digest("unlock", "e", "d", b"nonce"), signature)
    assert not signature_holds(certificate, digest, signature[:-1] + bytes([signature[-1] ^ 1]))


def test_the_iran_nid_pin_is_padded_and_its_key_selected_as_the_profile_says() -> None:
    from drivers.card import holder
    nid = PROFILES["iran-nid"]
    assert holder.pin_bytes(nid, "1234") == b"1234\xff\xff\xff\xff"
    assert holder.verify_command(nid, holder.pin_bytes(nid, "1234"))[:5] == bytes.fromhex("0020008108")
    assert nid.select_key is not None and not nid.holder_commands_checked
    with pytest.raises(holder.PinRefused):
        holder.pin_bytes(nid, "123456789")   # longer than the card's PIN field


@pytest.mark.parametrize("status, answer", [("6983", "blocked"), ("63C1", "one left"), ("6A88", "error")])
def test_pin_answers_are_a_closed_set(status: str, answer: str) -> None:
    from drivers.card import holder
    reply = lambda command: bytes.fromhex(status)  # noqa: E731  a card that answers every VERIFY this way
    if answer == "error":
        with pytest.raises(CardError, match="6A88"):
            holder.verify_pin(reply, PROFILES["test"], "1234")
    else:
        expected = holder.PinBlocked() if answer == "blocked" else holder.PinWrong(1)
        assert holder.verify_pin(reply, PROFILES["test"], "1234") == expected
