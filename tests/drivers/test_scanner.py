"""Barcode scanner: the pure parsing, the serial driver through a real pty, and the fake, held to the same behaviour."""
from __future__ import annotations

import fcntl
import logging
import os
import queue
import struct
import termios
import threading
import time
import tty
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import pytest

from drivers.scanner import (
    BarcodeScanner, FakeScanner, FrameParser, ScanEvent, ScannerStatus, ScanProblem, Scanned, SerialScanner,
    StatusChanged, Unusable, interpret,
)
from helpers import code

FIXTURES = Path(__file__).parents[1] / "fixtures" / "barcodes"
WAIT = 30.0  # deadline for an event that normally arrives within milliseconds (generous: a loaded machine)
QUIET = 0.3  # how long "nothing arrives" is watched for
PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
READY = StatusChanged(ScannerStatus.READY)
GONE = StatusChanged(ScannerStatus.NO_SCANNER)


class Inbox:
    """A listener that queues what it receives and notes the threads it was called on."""

    def __init__(self) -> None:
        self.events: queue.Queue[ScanEvent] = queue.Queue()
        self.threads: set[int] = set()

    def __call__(self, event: ScanEvent) -> None:
        self.threads.add(threading.get_ident())
        self.events.put(event)

    def next(self, timeout: float = WAIT) -> ScanEvent:
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no scanner event within {timeout} s")

    def take(self, n: int) -> list[ScanEvent]:
        return [self.next() for _ in range(n)]

    def stays_empty(self) -> bool:
        try:
            self.events.get(timeout=QUIET)
        except queue.Empty:
            return True
        return False


class PtyLine:
    """A pty pair behind a symlink: the symlink is the configured port, the master is the scanner's end of the cable."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.fds: tuple[int, int] | None = None

    def attach(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        self.fds = (master, slave)
        self.link.symlink_to(os.ttyname(slave))

    def detach(self) -> None:
        """Unplug: the port path goes and the other end hangs up."""
        self.link.unlink(missing_ok=True)
        if self.fds is not None:
            for fd in self.fds:
                os.close(fd)
            self.fds = None

    def write(self, data: bytes) -> None:
        assert self.fds is not None, "line is unplugged"
        view = memoryview(data)
        while view:
            view = view[os.write(self.fds[0], view):]

    def wait_read(self, seconds: float = WAIT) -> None:
        """Until the driver has read every byte written (the tty's input queue is empty)."""
        assert self.fds is not None, "line is unplugged"
        deadline = time.monotonic() + seconds
        while struct.unpack("i", fcntl.ioctl(self.fds[1], termios.FIONREAD, b"\0\0\0\0"))[0]:
            assert time.monotonic() < deadline, f"the driver left bytes unread for {seconds} s"
            time.sleep(0.01)


class Rig:
    """A started scanner with an inbox and the three things a scanner's user can do: send bytes, unplug, plug."""

    scanner: BarcodeScanner
    inbox: Inbox

    def send(self, data: bytes) -> None:
        raise NotImplementedError

    def wait_read(self) -> None:
        """Until the scanner has taken what was sent (the fake's controls are ordered: nothing to wait for)."""

    def unplug(self) -> None:
        raise NotImplementedError

    def plug(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.scanner.close()


class PtyRig(Rig):
    """SerialScanner reading a real pty through pyserial."""

    def __init__(self, folder: Path) -> None:
        self.line = PtyLine(folder / "ttyScanner")
        self.line.attach()
        self.scanner = SerialScanner(str(self.line.link), reconnect_interval=0.05)
        self.inbox = Inbox()
        self.scanner.subscribe(self.inbox)

    def send(self, data: bytes) -> None:
        self.line.write(data)

    def wait_read(self) -> None:
        self.line.wait_read()

    def unplug(self) -> None:
        self.line.detach()

    def plug(self) -> None:
        self.line.attach()

    def close(self) -> None:
        self.scanner.close()
        self.line.detach()


class FakeRig(Rig):
    """FakeScanner driven by its test controls."""

    def __init__(self) -> None:
        self.fake = FakeScanner()
        self.scanner = self.fake
        self.inbox = Inbox()
        self.scanner.subscribe(self.inbox)

    def send(self, data: bytes) -> None:
        self.fake.send_bytes(data)

    def unplug(self) -> None:
        self.fake.unplug()

    def plug(self) -> None:
        self.fake.plug()


@pytest.fixture(params=["pty", "fake"])
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    """Each behaviour runs on the real driver over a pty and on the fake."""
    made: Rig = PtyRig(tmp_path) if request.param == "pty" else FakeRig()
    try:
        made.scanner.start()
        assert made.inbox.next() == READY
        yield made
    finally:
        made.close()


def scanned(rig: Rig, data: bytes) -> ScanEvent:
    rig.send(data)
    return rig.inbox.next()


# --- what a scan becomes -------------------------------------------------------------------

@pytest.mark.parametrize("terminator", [b"\r", b"\n", b"\r\n"], ids=["CR", "LF", "CRLF"])
@pytest.mark.parametrize("script", [None, PERSIAN, ARABIC], ids=["ascii", "persian", "arabic"])
def test_a_code_in_any_digit_script_and_terminator_scans(rig: Rig, script: dict[int, str] | None,
                                                         terminator: bytes) -> None:
    text = code(7) if script is None else code(7).translate(script)
    assert scanned(rig, text.encode() + terminator) == Scanned(code(7))
    # CRLF is one terminator: the next event is the next scan, not an empty frame.
    assert scanned(rig, code(8).encode() + terminator) == Scanned(code(8))


def test_grouped_code_with_spaces_and_dashes_scans(rig: Rig) -> None:
    grouped = f"{code(9)[:3]}-{code(9)[3:9]}-{code(9)[9]}".translate(PERSIAN)
    assert scanned(rig, grouped.encode() + b"\r") == Scanned(code(9))
    assert scanned(rig, f" {code(10)[:5]} {code(10)[5:]} ".encode() + b"\n") == Scanned(code(10))


def test_several_frames_in_one_write_arrive_in_order(rig: Rig) -> None:
    rig.send(f"{code(1)}\r{code(2)}\n{code(3)}\r\n\r\n\n{code(4)}\r".encode())
    assert rig.inbox.take(4) == [Scanned(code(1)), Scanned(code(2)), Scanned(code(3)), Scanned(code(4))]
    assert rig.inbox.stays_empty()


def test_one_frame_split_over_several_writes_is_one_scan(rig: Rig) -> None:
    data = ("]C0" + code(5).translate(PERSIAN)).encode() + b"\r\n"
    # Cut inside the AIM id, inside a two-byte Persian digit, and between CR and LF.
    for piece in (data[:2], data[2:8], data[8:9], data[9:-1], data[-1:]):
        rig.send(piece)
        rig.wait_read()  # so each piece is a separate read on the pty, however loaded the machine
    assert rig.inbox.next() == Scanned(code(5))
    assert scanned(rig, code(6).encode() + b"\r") == Scanned(code(6))


@pytest.mark.parametrize("prefix", ["]C0", "]E0", "]Q1", "]d2", "]A3", "]IA"])
def test_aim_symbology_identifier_is_stripped(rig: Rig, prefix: str) -> None:
    assert scanned(rig, (prefix + code(11)).encode() + b"\r\n") == Scanned(code(11))


@pytest.mark.parametrize("prefix", ["j", "D", "Q"])
def test_vendor_code_id_before_exactly_ten_digits_is_stripped(rig: Rig, prefix: str) -> None:
    assert scanned(rig, (prefix + code(12)).encode() + b"\r") == Scanned(code(12))


@pytest.mark.parametrize("data", [
    b"\xff\xfe" + code(1).encode(),  # invalid UTF-8
    code(1)[:5].encode() + b"\xd9" + code(1)[5:].encode(),  # a truncated multibyte sequence
    b"\x1b[A" + code(1).encode(),  # an escape sequence
    b"\x00\x00\x00",  # NULs on power-up
    code(1).encode() + b"\x1d",  # GS, as in a GS1 structure
], ids=["invalid-utf8", "truncated-utf8", "escape", "nul", "group-separator"])
def test_garbage_bytes_are_unusable_and_the_next_scan_still_works(rig: Rig, data: bytes) -> None:
    assert scanned(rig, data + b"\r") == Unusable(ScanProblem.GARBAGE)
    assert scanned(rig, code(2).encode() + b"\r") == Scanned(code(2))


def test_overlong_line_is_reported_once_and_discarded_to_its_terminator(rig: Rig) -> None:
    rig.send(b"1" * 100)
    assert rig.inbox.next() == Unusable(ScanProblem.TOO_LONG)  # reported before the line ends
    rig.send(b"2" * 300 + code(3).encode() + b"\r\n")
    assert scanned(rig, code(4).encode() + b"\r") == Scanned(code(4))


@pytest.mark.parametrize("text, reason", [
    (code(1)[:9] + str((int(code(1)[9]) + 1) % 10), ScanProblem.INVALID_CHECKSUM),
    ("https://example.org/verify?id=" + code(1), ScanProblem.NOT_A_NATIONAL_CODE),
    ("]Q1HELLO", ScanProblem.NOT_A_NATIONAL_CODE),
    ("]C0", ScanProblem.NOT_A_NATIONAL_CODE),
    ("6260000000007", ScanProblem.WRONG_LENGTH),  # an EAN-13 product code
    (code(1)[2:], ScanProblem.WRONG_LENGTH),  # leading zeros are not guessed for a scan
    ("1111111111", ScanProblem.INVALID_CODE),
], ids=["checksum", "url-qr", "text-qr", "empty-after-aim", "ean13", "eight-digits", "repeated-digit"])
def test_scans_that_carry_no_national_code_say_why(rig: Rig, text: str, reason: ScanProblem) -> None:
    assert scanned(rig, text.encode() + b"\r") == Unusable(reason)


@pytest.mark.parametrize("name", sorted(p.stem for p in FIXTURES.glob("*.bin")))
def test_recorded_byte_streams_give_the_expected_events(rig: Rig, name: str) -> None:
    expected = (FIXTURES / f"{name}.expected").read_text().split("\n")
    rig.send((FIXTURES / f"{name}.bin").read_bytes())
    got = []
    for event in rig.inbox.take(len([line for line in expected if line])):
        match event:
            case Scanned(code=c):
                got.append(f"scanned {c}")
            case Unusable(reason=r):
                got.append(f"unusable {r.value}")
            case StatusChanged(status=s):
                got.append(f"status {s.value}")
    assert got == [line for line in expected if line]
    assert rig.inbox.stays_empty()


# --- plug, unplug, threads ----------------------------------------------------------------

def test_unplug_reports_no_scanner_and_replug_scans_again(rig: Rig) -> None:
    assert rig.scanner.status() is ScannerStatus.READY
    rig.unplug()
    assert rig.inbox.next() == GONE
    assert rig.scanner.status() is ScannerStatus.NO_SCANNER
    rig.plug()
    assert rig.inbox.next() == READY
    assert rig.scanner.status() is ScannerStatus.READY
    assert scanned(rig, code(5).encode() + b"\r\n") == Scanned(code(5))


def test_a_partial_frame_does_not_survive_an_unplug(rig: Rig) -> None:
    rig.send(code(6)[:5].encode())
    rig.wait_read()  # the reader holds the half frame when the cable goes
    rig.unplug()
    assert rig.inbox.next() == GONE
    rig.plug()
    assert rig.inbox.next() == READY
    assert scanned(rig, code(7).encode() + b"\r") == Scanned(code(7))


def test_events_arrive_on_the_drivers_own_thread(rig: Rig) -> None:
    assert scanned(rig, code(1).encode() + b"\r") == Scanned(code(1))
    assert rig.inbox.threads and threading.get_ident() not in rig.inbox.threads


def test_a_failing_listener_neither_stops_the_others_nor_leaks_the_code(
        rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: ScanEvent) -> None:
        raise ValueError(f"cannot handle {event!r} for {code(2)}")

    rig.scanner.subscribe(broken)
    with caplog.at_level(logging.ERROR, logger="kiosk.drivers.scanner"):
        assert scanned(rig, code(2).encode() + b"\r") == Scanned(code(2))
        assert scanned(rig, code(3).encode() + b"\r") == Scanned(code(3))
    assert "ValueError" in caplog.text
    assert code(2) not in caplog.text


def test_unsubscribed_listener_gets_nothing_more(rig: Rig) -> None:
    other = Inbox()
    unsubscribe = rig.scanner.subscribe(other)
    assert scanned(rig, code(1).encode() + b"\r") == Scanned(code(1))
    assert other.next() == Scanned(code(1))
    unsubscribe()
    unsubscribe()  # idempotent
    assert scanned(rig, code(2).encode() + b"\r") == Scanned(code(2))
    assert other.stays_empty()


def reader_threads() -> list[threading.Thread]:
    """The scanner drivers' own threads still running (the real one's and the fake's)."""
    return [t for t in threading.enumerate() if t.name in ("scanner-reader", "fake-scanner") and t.is_alive()]


def test_close_stops_the_reader_is_idempotent_and_final(rig: Rig) -> None:
    assert reader_threads()
    rig.scanner.close()
    assert not reader_threads()  # close() returned with its thread gone, not still reading in the background
    rig.scanner.close()
    assert rig.scanner.status() is ScannerStatus.NO_SCANNER
    with pytest.raises(RuntimeError):
        rig.scanner.start()
    rig.send(code(1).encode() + b"\r")
    assert rig.inbox.stays_empty()
    # The autouse fixture then checks that no reader thread is left.


def test_starting_twice_runs_one_thread(rig: Rig) -> None:
    before = threading.active_count()
    rig.scanner.start()
    assert threading.active_count() == before
    assert scanned(rig, code(1).encode() + b"\r") == Scanned(code(1))
    assert rig.inbox.stays_empty()


# --- the serial driver only ----------------------------------------------------------------

@pytest.fixture
def line(tmp_path: Path) -> Iterator[PtyLine]:
    made = PtyLine(tmp_path / "ttyScanner")
    yield made
    made.detach()


def start(port: str | Path, reconnect_interval: float = 0.05) -> tuple[SerialScanner, Inbox]:
    scanner = SerialScanner(str(port), reconnect_interval=reconnect_interval)
    inbox = Inbox()
    scanner.subscribe(inbox)
    scanner.start()
    return scanner, inbox


def test_port_absent_at_start_is_no_scanner_until_it_appears(line: PtyLine) -> None:
    scanner, inbox = start(line.link)
    try:
        assert inbox.next() == GONE  # the first event always states the status
        line.attach()
        assert inbox.next() == READY
        line.write(code(1).encode() + b"\r")
        assert inbox.next() == Scanned(code(1))
    finally:
        scanner.close()


def test_port_path_vanishing_counts_as_unplug(line: PtyLine) -> None:
    line.attach()
    scanner, inbox = start(line.link)
    try:
        assert inbox.next() == READY
        target = os.readlink(line.link)
        line.link.unlink()  # the descriptor still works; only the device node is gone
        assert inbox.next() == GONE
        line.link.symlink_to(target)
        assert inbox.next() == READY
        line.write(code(2).encode() + b"\n")
        assert inbox.next() == Scanned(code(2))
    finally:
        scanner.close()


def test_a_port_that_is_not_a_serial_device_is_an_error(tmp_path: Path) -> None:
    not_a_tty = tmp_path / "ttyUSB0"
    not_a_tty.write_bytes(code(1).encode() + b"\r")
    scanner, inbox = start(not_a_tty)
    try:
        assert inbox.next() == StatusChanged(ScannerStatus.ERROR)
        assert scanner.status() is ScannerStatus.ERROR
        assert inbox.stays_empty()  # retried, but nothing is read from it and no repeat event
    finally:
        scanner.close()


def test_a_second_reader_on_the_same_port_is_an_error_and_the_first_keeps_reading(line: PtyLine) -> None:
    line.attach()
    first, inbox = start(line.link)
    assert inbox.next() == READY  # the first holds the port before the second tries
    second, second_inbox = start(line.link)
    try:
        assert second_inbox.next() == StatusChanged(ScannerStatus.ERROR)
        line.write(code(3).encode() + b"\r")
        assert inbox.next() == Scanned(code(3))
        assert second_inbox.stays_empty()
    finally:
        second.close()
        first.close()


def test_close_while_waiting_to_reconnect_does_not_wait_out_the_interval(line: PtyLine) -> None:
    scanner, inbox = start(line.link, reconnect_interval=600.0)  # far past any deadline a slow machine needs
    try:
        assert inbox.next() == GONE
    finally:
        closing = threading.Thread(target=scanner.close, name="scanner-close")
        closing.start()
        closing.join(30)
    assert not closing.is_alive() and not reader_threads()


def test_custom_terminator_and_frame_limit(line: PtyLine) -> None:
    line.attach()
    scanner = SerialScanner(str(line.link), terminators=b"\x03", max_frame=13, reconnect_interval=0.05)
    inbox = Inbox()
    scanner.subscribe(inbox)
    scanner.start()
    try:
        assert inbox.next() == READY
        line.write(b"]C0" + code(4).encode() + b"\x03" + b"]C0" + code(4).encode() + b"5\x03")
        assert inbox.take(2) == [Scanned(code(4)), Unusable(ScanProblem.TOO_LONG)]
    finally:
        scanner.close()


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        SerialScanner("/dev/ttyACM0", baudrate=12345)
    with pytest.raises(ValueError):
        SerialScanner("/dev/ttyACM0", reconnect_interval=0)
    with pytest.raises(ValueError):
        FrameParser(terminators=b"")
    with pytest.raises(ValueError):
        FrameParser(max_frame=9)


# --- the pure parser ----------------------------------------------------------------------

def test_frame_of_exactly_max_frame_bytes_is_accepted_and_one_more_is_too_long() -> None:
    parser = FrameParser(max_frame=13)
    assert parser.feed(b"]C0" + code(1).encode() + b"\r") == [Scanned(code(1))]
    assert parser.feed(b"]C0" + code(1).encode() + b" \r") == [Unusable(ScanProblem.TOO_LONG)]


def test_too_long_is_reported_once_however_the_line_is_fed() -> None:
    parser = FrameParser(max_frame=16)
    results = [r for _ in range(50) for r in parser.feed(b"0123456789")]
    assert results == [Unusable(ScanProblem.TOO_LONG)]
    assert parser.feed(b"\n" + code(2).encode() + b"\n") == [Scanned(code(2))]


def test_crlf_split_across_feeds_and_blank_lines_give_no_events() -> None:
    parser = FrameParser()
    assert parser.feed(code(3).encode() + b"\r") == [Scanned(code(3))]
    assert parser.feed(b"\n") == []
    assert parser.feed(b"\r\r\n\n") == []


def test_reset_drops_the_partial_frame() -> None:
    parser = FrameParser()
    parser.feed(b"00100")
    parser.reset()
    assert parser.feed(code(4).encode() + b"\r") == [Scanned(code(4))]


@pytest.mark.parametrize("text", ["x" + code(1), "j" + code(1) + "1", "jj" + code(1), "J" + code(1), "]" + code(1),
                                  "j" + code(1)[1:]])
def test_a_letter_is_stripped_only_when_it_is_a_known_code_id_before_exactly_ten_digits(text: str) -> None:
    assert interpret(text.encode()) == Unusable(ScanProblem.NOT_A_NATIONAL_CODE)


def test_events_never_show_the_scanned_text() -> None:
    assert code(1) not in repr(Scanned(code(1)))
    assert code(1) not in str(Scanned(code(1)))
    assert [f.name for f in fields(Unusable)] == ["reason"]
    assert Scanned(code(1)).code == code(1)


def test_the_bench_tool_shows_scans_from_the_fake(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from kiosk.cli import main as kiosk_main
    assert kiosk_main(["hw", "--simulate", "scan"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0] == {"status": "ready"}
    assert lines[1] == lines[2] and "scanned" in lines[1]
    assert lines[3:] == [{"unusable": "not_a_national_code"}, {"unusable": "invalid_checksum"}]


def test_the_bench_tool_reads_a_real_serial_port(tmp_path: Path) -> None:
    """`kiosk hw scan --port …` in its own process, with scanner bytes arriving on a pty."""
    import json
    import subprocess
    import sys
    import tty
    master, slave = os.openpty()
    tty.setraw(slave)
    port = tmp_path / "scanner"
    port.symlink_to(os.ttyname(slave))
    proc = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "hw", "scan", "--port", str(port), "--seconds", "3"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert json.loads(proc.stdout.readline()) == {"status": "ready"}
        os.write(master, f"]C0{code(12)}\r\n".encode())
        assert json.loads(proc.stdout.readline()) == {"scanned": code(12)}
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        os.close(master)
        os.close(slave)
