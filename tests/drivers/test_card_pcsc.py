"""The real PC/SC stack: pcscd with Debian's vpcd virtual reader, and this project's virtual card process."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from drivers.card.minting import CardAuthority, IssuedCard
from drivers.card.holder import PinAccepted, PinWrong, pin_tries
from drivers.card.pcsc import PcscReader
from drivers.card.profiles import PROFILES, read_card
from drivers.card.reader import ReaderEvent, ReaderStatus
from drivers.errors import CardError
from helpers import World, code
from pcscd import READER, Card, PcscdMissing, running_pcscd
from kiosk import official_card
from kiosk.official_card import CardPinBlocked, CardPinWrong, CardRefused, CardSignedIn
from kiosk.state import Installed

TODAY = dt.date.today()


@pytest.fixture(scope="module")
def pcscd() -> Iterator[None]:
    """A running pcscd with vpcd: the machine's own if it has one, else one started here (needs root)."""
    try:
        with running_pcscd():
            yield
    except PcscdMissing as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def ca() -> CardAuthority:
    return CardAuthority()


def _wait(reader: PcscReader, status: ReaderStatus, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while reader.status() is not status:
        assert time.monotonic() < deadline, f"reader stayed {reader.status()}, wanted {status}"
        time.sleep(0.02)


@pytest.fixture
def reader(pcscd: None) -> Iterator[PcscReader]:
    r = PcscReader(prefer=READER)
    _wait(r, ReaderStatus.NO_CARD)
    yield r
    r.close()


@pytest.mark.parametrize("profile", ["iran-nid", "test"])
def test_insert_read_and_remove_through_pcscd(reader: PcscReader, ca: CardAuthority, tmp_path: Path,
                                              profile: str) -> None:
    events: list[ReaderEvent] = []
    reader.subscribe(events.append)
    card = Card(tmp_path, ca.card_certificate(code(77)), profile=profile)
    try:
        _wait(reader, ReaderStatus.CARD_PRESENT)
        read = read_card(reader.transmit, PROFILES[profile], [ca.certificate], TODAY)
        assert (read.national_code, read.trusted) == (code(77), True)
    finally:
        card.remove()
    _wait(reader, ReaderStatus.NO_CARD)
    assert [e.status for e in events] == [ReaderStatus.CARD_PRESENT, ReaderStatus.NO_CARD]
    assert all(e.reader == READER for e in events)


def test_a_card_pulled_mid_read_is_a_card_error_and_the_next_card_reads(reader: PcscReader, ca: CardAuthority,
                                                                       tmp_path: Path) -> None:
    card = Card(tmp_path, ca.card_certificate(code(5)), "--pull-after-reads", "1")
    try:
        _wait(reader, ReaderStatus.CARD_PRESENT)
        with pytest.raises(CardError):
            read_card(reader.transmit, PROFILES["test"], [ca.certificate], TODAY)
    finally:
        card.remove()
    _wait(reader, ReaderStatus.NO_CARD)
    second = Card(tmp_path, ca.card_certificate(code(6)))
    try:
        _wait(reader, ReaderStatus.CARD_PRESENT)
        assert read_card(reader.transmit, PROFILES["test"], [ca.certificate], TODAY).national_code == code(6)
    finally:
        second.remove()


def test_wrong_status_words_come_back_as_a_card_error(reader: PcscReader, ca: CardAuthority, tmp_path: Path) -> None:
    card = Card(tmp_path, ca.card_certificate(code(5)), "--wrong-status", "6982")
    try:
        _wait(reader, ReaderStatus.CARD_PRESENT)
        with pytest.raises(CardError, match="6982"):
            read_card(reader.transmit, PROFILES["test"], [ca.certificate], TODAY)
    finally:
        card.remove()


def test_a_card_that_does_not_answer_in_time_is_a_card_error_not_a_hang(reader: PcscReader, ca: CardAuthority,
                                                                       tmp_path: Path) -> None:
    # The card answers only after 10 s, far past the 0.3 s bound: a transmit that waited for it would
    # return the answer, not raise, however slow the machine. How soon it gives up is a figure, not asserted.
    card = Card(tmp_path, ca.card_certificate(code(5)), "--delay", "10")
    try:
        _wait(reader, ReaderStatus.CARD_PRESENT)
        with pytest.raises(CardError, match="did not answer in time"):
            reader.transmit(bytes.fromhex("00A4040C07F04B494F534B54"), timeout=0.3)
        assert reader.status() is ReaderStatus.CARD_ERROR
    finally:
        card.remove()


def test_no_pcsc_service_is_a_reader_error_and_a_no_reader_status(tmp_path: Path) -> None:
    """A kiosk whose pcscd is down shows 'no reader' and keeps running."""
    probe = (
        "import time\n"
        "from drivers.card.pcsc import PcscReader, list_readers\n"
        "from drivers.errors import ReaderError\n"
        "try:\n    list_readers()\nexcept ReaderError as e:\n    print('refused:', e)\n"
        "r = PcscReader(); time.sleep(0.5); print(r.status().value); r.close()\n"
    )
    env = {**os.environ, "PCSCLITE_CSOCK_NAME": str(tmp_path / "no-pcscd.comm")}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=30)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("refused: PC/SC service unavailable") and lines[1] == "no_reader"


def test_the_bench_tool_lists_the_reader_and_reads_a_card(pcscd: None, ca: CardAuthority, tmp_path: Path) -> None:
    """What a technician types at the device: `kiosk hw readers` and `kiosk hw read-card`."""
    import json
    kiosk = [sys.executable, "-m", "kiosk.cli", "hw", "--reader", READER]
    listed = subprocess.run([*kiosk, "readers"], capture_output=True, text=True, timeout=30)
    assert READER in json.loads(listed.stdout)["readers"]
    empty = subprocess.run([*kiosk, "read-card", "--profile", "test", "--wait", "0.5"],
                           capture_output=True, text=True, timeout=30)
    assert empty.returncode == 1 and json.loads(empty.stdout)["error"] == "no card"
    der = ca.card_certificate(code(31))
    card = Card(tmp_path, der)
    try:
        done = subprocess.run([*kiosk, "read-card", "--profile", "test", "--wait", "5",
                               "--save", str(tmp_path / "saved.der")], capture_output=True, text=True, timeout=30)
    finally:
        card.remove()
    out = json.loads(done.stdout)
    assert done.returncode == 0 and out["national_code"] == code(31)
    assert (tmp_path / "saved.der").read_bytes() == der   # what kiosk-authority official add --card takes
    assert out["trusted"] is False  # no election installed: no anchors to trust it against


# -- officials' cards through the real stack (issue 14) ------------------------------------------------------------

HEAD_PIN = "4821"


def _branch_with_a_head(world: World) -> tuple[Installed, IssuedCard, CardAuthority]:
    cards = world.trust_cards()
    head = cards.issue(code(901))
    world.official("head-1001", "head", code(901), head)
    return world.installed("k1", unlocked=False), head, cards


def test_the_head_unlocks_and_signs_in_with_the_card_through_pcscd(reader: PcscReader, world: World,
                                                                    tmp_path: Path) -> None:
    kiosk, head, _ = _branch_with_a_head(world)
    card = Card(tmp_path, head.certificate, "--pin", HEAD_PIN, key=head.key)
    try:
        _wait(reader, ReaderStatus.CARD_PRESENT)
        test = PROFILES["test"]
        assert official_card.unlock(kiosk, reader.transmit, test, "0000") == CardPinWrong(2)
        assert pin_tries(reader.transmit, test) == PinWrong(2)   # what the screen shows before the next try
        answer = official_card.unlock(kiosk, reader.transmit, test, HEAD_PIN)
        assert isinstance(answer, CardSignedIn) and answer.official.account == "head-1001"
        assert pin_tries(reader.transmit, test) == PinAccepted()
        again = official_card.sign_in(answer.installed, reader.transmit, test, HEAD_PIN)
        assert isinstance(again, CardSignedIn)
    finally:
        card.remove()
    assert not Installed.open(kiosk.state).locked


@pytest.mark.parametrize("which", ["blocked", "another person", "copied certificate"])
def test_cards_that_must_not_unlock_do_not_through_pcscd(reader: PcscReader, world: World, tmp_path: Path,
                                                         which: str) -> None:
    kiosk, head, cards = _branch_with_a_head(world)
    if which == "blocked":
        card, expected = Card(tmp_path, head.certificate, "--pin", HEAD_PIN, "--tries", "0", key=head.key), \
            CardPinBlocked()
    elif which == "another person":
        stranger = cards.issue(code(904))
        card, expected = Card(tmp_path, stranger.certificate, "--pin", HEAD_PIN, key=stranger.key), \
            CardRefused(official_card.NO_SLOT)
    else:
        card, expected = Card(tmp_path, head.certificate, "--pin", HEAD_PIN,
                              key=ec.generate_private_key(ec.SECP256R1())), CardRefused(official_card.NOT_ITS_KEY)
    try:
        _wait(reader, ReaderStatus.CARD_PRESENT)
        assert official_card.unlock(kiosk, reader.transmit, PROFILES["test"], HEAD_PIN) == expected
    finally:
        card.remove()
    assert Installed.open(kiosk.state).locked


def test_the_technicians_command_unlocks_with_the_card_and_the_pin_on_standard_input(
        pcscd: None, world: World, tmp_path: Path) -> None:
    kiosk, head, _ = _branch_with_a_head(world)
    command = [sys.executable, "-m", "provisioning.device_cli", "unlock", "--state", str(kiosk.state), "--card",
               "--reader", READER, "--profile", "test", "--wait", "20"]
    card = Card(tmp_path, head.certificate, "--pin", HEAD_PIN, key=head.key)
    try:
        wrong = subprocess.run(command, input="0000\n", capture_output=True, text=True, timeout=60)
        right = subprocess.run(command, input=HEAD_PIN + "\n", capture_output=True, text=True, timeout=60)
    finally:
        card.remove()
    assert wrong.returncode == 1 and "blocks after 2 more wrong tries" in wrong.stderr
    assert right.returncode == 0 and "unlocked by head-1001" in right.stdout, right.stderr
    assert code(901) not in right.stdout + right.stderr + wrong.stderr
    assert not Installed.open(kiosk.state).locked
