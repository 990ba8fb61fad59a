"""The real PC/SC stack: pcscd with Debian's vpcd virtual reader, and this project's virtual card process."""
from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.card.minting import CardAuthority
from drivers.card.pcsc import PcscReader, list_readers
from drivers.card.profiles import PROFILES, read_card
from drivers.card.reader import ReaderEvent, ReaderStatus
from drivers.errors import CardError, ReaderError
from helpers import code

READER = "Virtual PCD 00 00"  # vpcd's reader 0, which a card reaches on 127.0.0.1:35963
TODAY = dt.date.today()


def _vpcd_ready() -> bool:
    try:
        return READER in list_readers()
    except ReaderError:
        return False


@pytest.fixture(scope="module")
def pcscd() -> Iterator[None]:
    """A running pcscd with vpcd: the machine's own if it has one, else one started here (needs root)."""
    if _vpcd_ready():
        yield
        return
    binary = shutil.which("pcscd") or "/usr/sbin/pcscd"
    if not Path(binary).exists() or not Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so").exists():
        pytest.skip("pcscd or vsmartcard-vpcd is not installed (./dev test installs them when run as root)")
    if os.geteuid() != 0:
        pytest.skip("starting pcscd needs root (it creates /run/pcscd)")
    proc = subprocess.Popen([binary, "--foreground"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not _vpcd_ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            pytest.fail("pcscd did not come up with the vpcd reader")
        time.sleep(0.1)
    yield
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def ca() -> CardAuthority:
    return CardAuthority()


class Card:
    """A virtual card process connected to vpcd: inserted while it runs."""

    def __init__(self, tmp: Path, der: bytes, *options: str, profile: str = "test") -> None:
        cert = tmp / f"card-{time.monotonic_ns()}.der"
        cert.write_bytes(der)
        self.proc = subprocess.Popen([sys.executable, "-m", "drivers.card.vpcd_card", "--profile", profile,
                                      "--cert", str(cert), *options], stdout=subprocess.PIPE, text=True)

    def remove(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


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
    card = Card(tmp_path, ca.card_certificate(code(31)))
    try:
        done = subprocess.run([*kiosk, "read-card", "--profile", "test", "--wait", "5"],
                              capture_output=True, text=True, timeout=30)
    finally:
        card.remove()
    out = json.loads(done.stdout)
    assert done.returncode == 0 and out["national_code"] == code(31)
    assert out["trusted"] is False  # no election installed: no anchors to trust it against
