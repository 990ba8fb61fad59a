"""The receipt printer through a real pty: raster bytes that decode to the receipt, statuses as values."""
from __future__ import annotations

import datetime as dt
import inspect
import os
import select
import threading
import time
import tty
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from PIL import Image, ImageChops, ImageFilter

from drivers.errors import PrinterError
from drivers.printer import (
    FakePrinter,
    PrinterStatus,
    PrintResult,
    SerialEscposPrinter,
    decode_status,
    escpos_job,
)
from drivers import receipts
from drivers.receipts import MARGIN_PX, checkin_slip, escalation_ticket
from kiosk.core.jalali import JalaliDate

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "tests" / "fixtures" / "receipts"
# The driver's read timeout. Generous, because the fake printer's thread must answer within it on a
# loaded machine; the tests that need silence hold the answer back instead of racing a short timeout.
TIMEOUT = 2.0
DEADLINE = 30.0  # what "does not hang" means here; how fast it gives up is a figure for ./dev bench
OK = 0x12  # DLE EOT answer with only the fixed bits: online, paper present
PAPER_END = 0x72  # n=4 answer, bits 5 and 6 set
NEAR_END = 0x1E  # n=4 answer, bits 2 and 3 set
OFFLINE_BIT = 0x1A  # n=1 answer, bit 3 set (cover open)


# --- a printer at the far end of a pty -------------------------------------------------------

@dataclass(frozen=True)
class Raster:
    """One GS v 0 block as a printer would read it."""

    width_bytes: int
    height: int
    payload: bytes


Command = tuple[str, int] | Raster


def parse_one(buf: bytes) -> tuple[Command, int] | None:
    """The first ESC/POS command in buf and its length; None while it is incomplete."""
    if not buf:
        return None
    if buf[:1] == b"\x10":
        return (("status", buf[2]), 3) if len(buf) >= 3 and buf[1] == 0x04 else None
    if buf[:3] == b"\x1dv0":
        if len(buf) < 8:
            return None
        width_bytes, height = buf[4] | buf[5] << 8, buf[6] | buf[7] << 8
        end = 8 + width_bytes * height
        return (Raster(width_bytes, height, bytes(buf[8:end])), end) if len(buf) >= end else None
    if buf[:2] == b"\x1b@":
        return ("init", 0), 2
    if buf[:2] == b"\x1bd":
        return (("feed", buf[2]), 3) if len(buf) >= 3 else None
    if buf[:2] == b"\x1dV":
        if len(buf) < 3:
            return None
        if buf[2] in (65, 66):
            return (("cut", buf[2]), 4) if len(buf) >= 4 else None
        return ("cut", buf[2]), 3
    return ("unknown", buf[0]), 1


class PtyPrinter:
    """Reads the master side of a pty like a printer: answers DLE EOT with bytes the test sets, records jobs."""

    def __init__(self, link: Path) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.master)
        # The driver opens a stable link, as it would /dev/serial/by-id/...: pts numbers are
        # reused machine-wide at once, so after an unplug the bare name may be someone else's pty.
        link.symlink_to(os.ttyname(self.slave))
        self.link = link
        self.port = str(link)
        self.answers = {1: OK, 4: OK}
        self.answering = True
        self.release = threading.Event()  # cleared: each answer waits until the test sets it
        self.release.set()
        self.answered = 0  # answer bytes written back so far
        self.reading = True
        self.stall_on_job = False  # stop reading once a job starts, like a printer whose buffer is full
        self.commands: list[Command] = []
        self._buf = b""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pty-printer")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.02)
            if ready and self.reading:
                try:
                    self._buf += os.read(self.master, 65536)
                except OSError:
                    return
                self._parse()

    def _parse(self) -> None:
        while (found := parse_one(self._buf)) is not None:
            command, length = found
            self._buf = self._buf[length:]
            with self._lock:
                self.commands.append(command)
            if command == ("init", 0) and self.stall_on_job:
                self.reading = False
            if isinstance(command, tuple) and command[0] == "status" and self.answering:
                self.release.wait()
                if self._stop.is_set():
                    return
                os.write(self.master, bytes([self.answers[command[1]]]))
                with self._lock:
                    self.answered += 1

    def count_answered(self) -> int:
        with self._lock:
            return self.answered

    def seen(self) -> list[Command]:
        with self._lock:
            return list(self.commands)

    def wait_for(self, name: str, within: float = DEADLINE) -> list[Command]:
        """The commands so far, once one named `name` has arrived."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            seen = self.seen()
            if any(isinstance(c, tuple) and c[0] == name for c in seen):
                return seen
            time.sleep(0.01)
        raise AssertionError(f"no {name} command within {within}s; got {self.seen()}")

    def stop(self) -> None:
        self._stop.set()
        self.release.set()
        self._thread.join(timeout=5)
        assert not self._thread.is_alive()

    def vanish(self) -> None:
        """Unplug: the far end goes away and the device node with it."""
        self.stop()
        self.link.unlink(missing_ok=True)
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass
        self.master = self.slave = -1

    def close(self) -> None:
        if self.master != -1:
            self.vanish()


T = TypeVar("T")


def returns_within(seconds: float, call: Callable[[], T]) -> T:
    """call()'s result, failing the test if it has not returned within `seconds` (a hang, not slowness)."""
    result: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            result.append(call())
        except BaseException as exc:  # handed to the test below, not swallowed
            errors.append(exc)

    thread = threading.Thread(target=run, name="returns-within", daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s: it hangs"
    if errors:
        raise errors[0]
    return result[0]


def nothing_but_status_was_sent(pty_printer: PtyPrinter, driver: SerialEscposPrinter) -> bool:
    """Whether the printer saw only status queries: asked after a fresh status round trip.

    The pty keeps the order of bytes, so once the printer has answered this last query it has
    read everything the driver wrote before it; a job sent by mistake cannot still be on its way.
    """
    driver.status()
    return set(names(pty_printer.seen())) == {"status"}


@pytest.fixture
def pty_printer(tmp_path: Path) -> Iterator[PtyPrinter]:
    printer = PtyPrinter(tmp_path / "ttyPRINTER")
    try:
        yield printer
    finally:
        printer.close()


@pytest.fixture
def driver(pty_printer: PtyPrinter) -> Iterator[SerialEscposPrinter]:
    with SerialEscposPrinter(pty_printer.port, timeout=TIMEOUT) as printer:
        yield printer


# --- receipts ------------------------------------------------------------------------------

DAY = JalaliDate(1405, 9, 4)
AT = dt.time(10, 23)
BRANCH_NAME = "دبستان شهید رجایی، تهران"


def slip(width_px: int = 384) -> Image.Image:
    return checkin_slip(
        branch_code="1001", branch_name=BRANCH_NAME, day=DAY, at=AT, device_id="KSK-07", sequence=45,
        width_px=width_px,
    )


def ticket() -> Image.Image:
    return escalation_ticket(
        case_id="E-1001-0007", branch_code="1001", branch_name=BRANCH_NAME, day=DAY, at=AT, queue_position=3
    )


def rasters(commands: list[Command]) -> list[Raster]:
    return [c for c in commands if isinstance(c, Raster)]


def names(commands: list[Command]) -> list[str]:
    return ["raster" if isinstance(c, Raster) else c[0] for c in commands]


def as_image(blocks: list[Raster]) -> Image.Image:
    """The printed picture rebuilt from GS v 0 blocks stacked top to bottom (1 bit = black dot)."""
    width = blocks[0].width_bytes * 8
    dots = Image.frombytes("1", (width, sum(b.height for b in blocks)), b"".join(b.payload for b in blocks))
    return ImageChops.invert(dots.convert("L")).convert("1")


RECEIPTS: dict[str, Callable[[], Image.Image]] = {"checkin_slip": slip, "escalation_ticket": ticket}


@pytest.mark.parametrize("kind", RECEIPTS)
def test_receipt_goes_out_as_raster_that_decodes_to_the_receipt(
    kind: str, pty_printer: PtyPrinter, driver: SerialEscposPrinter
) -> None:
    image = RECEIPTS[kind]()
    assert driver.print_image(image) is PrintResult.PRINTED
    seen = pty_printer.wait_for("cut")
    assert names(seen)[:3] == ["status", "status", "init"]
    assert names(seen)[-2:] == ["feed", "cut"]
    blocks = rasters(seen)
    assert blocks and all(b.width_bytes == 48 for b in blocks)  # 384 dots = 48 bytes a row
    assert sum(b.height for b in blocks) == image.height
    assert any(any(b.payload) for b in blocks), "raster is blank"
    assert ImageChops.difference(as_image(blocks).convert("L"), image.convert("L")).getbbox() is None


def test_paper_out_is_a_result_and_nothing_is_printed(pty_printer: PtyPrinter, driver: SerialEscposPrinter) -> None:
    pty_printer.answers = {1: OFFLINE_BIT, 4: PAPER_END}  # a real printer also goes offline without paper
    assert driver.status() is PrinterStatus.PAPER_OUT
    assert driver.print_image(slip()) is PrintResult.PAPER_OUT
    assert nothing_but_status_was_sent(pty_printer, driver)


def test_paper_near_end_still_prints(pty_printer: PtyPrinter, driver: SerialEscposPrinter) -> None:
    pty_printer.answers = {1: OK, 4: NEAR_END}
    assert driver.print_image(slip()) is PrintResult.PRINTED
    pty_printer.wait_for("cut")


def test_cover_open_is_an_error_and_nothing_is_printed(pty_printer: PtyPrinter, driver: SerialEscposPrinter) -> None:
    pty_printer.answers = {1: OFFLINE_BIT, 4: OK}
    assert driver.print_image(slip()) is PrintResult.ERROR
    assert nothing_but_status_was_sent(pty_printer, driver)


def test_garbled_answer_is_an_error(pty_printer: PtyPrinter, driver: SerialEscposPrinter) -> None:
    pty_printer.answers = {1: 0xFF, 4: 0xFF}  # what a wrong baud rate looks like
    assert driver.status() is PrinterStatus.ERROR


def test_silent_printer_is_offline_not_a_hang_and_recovers(
    pty_printer: PtyPrinter, driver: SerialEscposPrinter
) -> None:
    pty_printer.answering = False
    assert returns_within(DEADLINE, driver.status) is PrinterStatus.OFFLINE
    assert returns_within(DEADLINE, lambda: driver.print_image(slip())) is PrintResult.OFFLINE
    assert "raster" not in names(pty_printer.seen())
    pty_printer.answering = True
    assert driver.status() is PrinterStatus.READY


def test_late_answer_is_not_taken_for_the_next_one(pty_printer: PtyPrinter, driver: SerialEscposPrinter) -> None:
    pty_printer.release.clear()  # the printer answers only after the driver has given up on it
    assert driver.status() is PrinterStatus.OFFLINE
    pty_printer.release.set()
    deadline = time.monotonic() + DEADLINE
    while pty_printer.count_answered() < 1:  # the stale "all fine" answer is on the line now
        assert time.monotonic() < deadline, "the held answer was never written"
        time.sleep(0.01)
    pty_printer.answers = {1: OFFLINE_BIT, 4: PAPER_END}
    assert driver.status() is PrinterStatus.PAPER_OUT


def test_vanished_port_is_offline_not_a_crash(pty_printer: PtyPrinter, driver: SerialEscposPrinter) -> None:
    assert driver.status() is PrinterStatus.READY
    pty_printer.vanish()
    assert returns_within(DEADLINE, driver.status) is PrinterStatus.OFFLINE
    assert returns_within(DEADLINE, lambda: driver.print_image(slip())) is PrintResult.OFFLINE
    assert returns_within(DEADLINE, driver.status) is PrinterStatus.OFFLINE  # reopening a gone port is offline too


def test_missing_port_is_offline() -> None:
    with SerialEscposPrinter("/dev/ttyNO-SUCH-PRINTER", timeout=TIMEOUT) as printer:
        assert printer.status() is PrinterStatus.OFFLINE
        assert printer.print_image(slip()) is PrintResult.OFFLINE


def test_port_held_by_another_program_is_an_error(pty_printer: PtyPrinter, driver: SerialEscposPrinter) -> None:
    assert driver.status() is PrinterStatus.READY
    with SerialEscposPrinter(pty_printer.port, timeout=TIMEOUT) as second:
        assert second.status() is PrinterStatus.ERROR


def test_printer_that_stops_taking_data_mid_job_is_offline(pty_printer: PtyPrinter) -> None:
    tall = Image.new("1", (384, 4000), 0)  # 192 kB: more than the pty holds
    with SerialEscposPrinter(pty_printer.port, baudrate=4_000_000, timeout=TIMEOUT) as driver:
        pty_printer.stall_on_job = True
        assert returns_within(DEADLINE, lambda: driver.print_image(tall)) is PrintResult.OFFLINE
        assert "init" in names(pty_printer.seen())  # it got past the status check: the write itself timed out


def test_image_wider_than_the_paper_is_refused(driver: SerialEscposPrinter) -> None:
    with pytest.raises(ValueError):
        driver.print_image(slip(width_px=576))


def test_closed_printer_refuses_use(pty_printer: PtyPrinter) -> None:
    printer = SerialEscposPrinter(pty_printer.port, timeout=TIMEOUT)
    printer.close()
    printer.close()
    with pytest.raises(PrinterError):
        printer.status()


# --- pieces without a port -------------------------------------------------------------------

@pytest.mark.parametrize(
    ("printer", "paper", "expected"),
    [
        (OK, OK, PrinterStatus.READY),
        (OK, NEAR_END, PrinterStatus.READY),
        (OFFLINE_BIT, PAPER_END, PrinterStatus.PAPER_OUT),
        (OK, 0x32, PrinterStatus.PAPER_OUT),  # one paper-end bit is enough
        (OFFLINE_BIT, OK, PrinterStatus.ERROR),
        (0x00, OK, PrinterStatus.ERROR),
        (OK, 0x93, PrinterStatus.ERROR),
    ],
)
def test_decode_status(printer: int, paper: int, expected: PrinterStatus) -> None:
    assert decode_status(printer, paper) is expected


def test_job_bytes_for_a_tiny_picture_are_exactly_the_escpos_ones() -> None:
    picture = Image.new("1", (16, 2), 1)  # white
    for xy in ((0, 0), (9, 0), (15, 1)):  # black dots: row 0 at x 0 and 9, row 1 at x 15
        picture.putpixel(xy, 0)
    assert escpos_job(picture) == bytes([
        0x1B, 0x40,                          # ESC @: initialise
        0x1D, 0x76, 0x30, 0x00,              # GS v 0, m=0: raster bit image, normal size
        0x02, 0x00, 0x02, 0x00,              # 2 bytes a row, 2 rows
        0b1000_0000, 0b0100_0000,            # row 0: bit 7 of byte 0 is x 0, bit 6 of byte 1 is x 9; 1 = print
        0b0000_0000, 0b0000_0001,            # row 1: bit 0 of byte 1 is x 15
        0x1B, 0x64, 0x06,                    # ESC d 6: print and feed six lines
        0x1D, 0x56, 0x00,                    # GS V 0: full cut
    ])
    narrow = Image.new("1", (12, 1), 1)
    narrow.putpixel((0, 0), 0)
    # 12 dots take two bytes; the four past the picture's edge are blank (0), not printed.
    assert escpos_job(narrow)[6:12] == bytes([0x02, 0x00, 0x01, 0x00, 0b1000_0000, 0x00])


def test_job_has_gs_v_0_header_for_the_image_size_and_a_cut() -> None:
    job = escpos_job(Image.new("1", (384, 100), 1))
    assert job.startswith(b"\x1b@\x1dv0\x00" + bytes([48, 0, 100, 0]))
    assert job.endswith(b"\x1bd\x06\x1dV\x00")


def test_fake_printer_follows_its_controls() -> None:
    with FakePrinter() as fake:
        assert fake.print_image(slip()) is PrintResult.PRINTED
        assert isinstance(fake, FakePrinter) and len(fake.printed) == 1
        fake.set_paper_out()
        assert fake.status() is PrinterStatus.PAPER_OUT
        assert fake.print_image(slip()) is PrintResult.PAPER_OUT
        fake.load_paper()
        fake.go_offline()
        assert fake.print_image(ticket()) is PrintResult.OFFLINE
        fake.go_online()
        fake.fail()
        assert fake.print_image(ticket()) is PrintResult.ERROR
        assert len(fake.printed) == 1
    with pytest.raises(PrinterError):
        fake.status()


# --- the receipts themselves -------------------------------------------------------------------

def review_folder(tmp_path: Path) -> list[Path]:
    folders = [tmp_path / "receipts", REPO / ".dev" / "receipts"]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    return folders


@pytest.mark.parametrize("kind", RECEIPTS)
def test_receipt_is_saved_for_review_and_fits_the_paper(kind: str, tmp_path: Path) -> None:
    image = RECEIPTS[kind]()
    for folder in review_folder(tmp_path):
        image.save(folder / f"{kind}.png")
    print(f"receipt PNGs: {tmp_path / 'receipts'} and {REPO / '.dev' / 'receipts'}")
    assert image.mode == "1" and image.width == 384
    ink = ImageChops.invert(image.convert("L")).getbbox()
    assert ink is not None
    left, top, right, bottom = ink
    # Nothing runs into the margins, so nothing is cut off at the paper's edge.
    assert left >= MARGIN_PX - 2 and right <= image.width - MARGIN_PX + 2
    assert top >= MARGIN_PX - 2 and bottom <= image.height - MARGIN_PX + 2
    # Persian first and right-aligned: the top line ends at the right margin, starts well right of the left one.
    head = ImageChops.invert(image.crop((0, 0, image.width, 50)).convert("L")).getbbox()
    assert head is not None and head[2] >= image.width - MARGIN_PX - 4 and head[0] > 2 * MARGIN_PX
    # English last and left-aligned: the bottom line starts at the left margin.
    tail = ImageChops.invert(image.crop((0, image.height - 45, image.width, image.height)).convert("L")).getbbox()
    assert tail is not None and tail[0] <= MARGIN_PX + 4


def test_receipt_width_is_a_parameter() -> None:
    assert slip(width_px=576).width == 576


# Everything a receipt may be given, listed by hand: none of it names or identifies a voter. A slip is
# often left behind at the branch, so a new input (a code, a name, a "holder") must fail here and be
# looked at, whatever it is called.
NOT_PERSONAL = {"branch_code", "branch_name", "day", "at", "device_id", "sequence", "case_id", "queue_position",
                "width_px", "margin_px", "lines_fa", "lines_en", "blocks"}
LAYOUTS: list[Callable[..., object]] = [
    receipts.checkin_layout, receipts.escalation_layout, receipts.closing_layout, receipts.selftest_layout,
    receipts.checkin_slip, receipts.escalation_ticket, receipts.render,
]

# Every line the slip and the ticket above print, written out by hand (Persian digits where staff read Persian).
SLIP_LINES = [
    "ثبت مشارکت انجام شد",
    "شعبه اخذ رأی: دبستان شهید رجایی، تهران",
    "کد شعبه: ۱۰۰۱",
    "تاریخ: ۴ آذر ۱۴۰۵، ساعت ۱۰:۲۳",
    "دستگاه: KSK-07",
    "شماره ردیف: ۴۵",
    "Check-in recorded",
    "Branch code: 1001",
    "Date: 4 Azar 1405, 10:23",
    "Device: KSK-07",
    "Sequence no.: 45",
]
TICKET_LINES = [
    "پرونده ارجاعی به نماینده فرماندار",
    "شماره پرونده: E-1001-0007",
    "شعبه اخذ رأی: دبستان شهید رجایی، تهران (کد ۱۰۰۱)",
    "زمان: ۴ آذر ۱۴۰۵، ساعت ۱۰:۲۳",
    "نوبت شما: ۳",
    "لطفاً منتظر نماینده فرماندار بمانید.",
    "Case for the governor's representative",
    "Case ID: E-1001-0007",
    "Branch code: 1001",
    "Time: 4 Azar 1405, 10:23",
    "Queue position: 3",
    "Please wait for the governor's representative.",
]


def test_no_receipt_layout_can_be_given_personal_data() -> None:
    public = {name for name, f in inspect.getmembers(receipts, inspect.isfunction)
              if f.__module__ == receipts.__name__ and not name.startswith("_")}
    assert public == {f.__name__ for f in LAYOUTS}, "a new receipt function: add it to LAYOUTS and check its inputs"
    for layout in LAYOUTS:
        extra = set(inspect.signature(layout).parameters) - NOT_PERSONAL
        assert not extra, f"{layout.__name__} takes {sorted(extra)}"


@pytest.mark.parametrize(("layout", "lines"), [
    (lambda: receipts.checkin_layout(branch_code="1001", branch_name=BRANCH_NAME, day=DAY, at=AT,
                                     device_id="KSK-07", sequence=45), SLIP_LINES),
    (lambda: receipts.escalation_layout(case_id="E-1001-0007", branch_code="1001", branch_name=BRANCH_NAME,
                                        day=DAY, at=AT, queue_position=3), TICKET_LINES),
], ids=["checkin_slip", "escalation_ticket"])
def test_a_receipt_prints_these_lines_and_nothing_else(layout: Callable[[], list[receipts.Block]],
                                                        lines: list[str]) -> None:
    assert [b.text for b in layout() if isinstance(b, receipts.Text)] == lines


def stray_ink(image: Image.Image, reference: Image.Image) -> int:
    """Dots inked in one picture with no ink within one dot of them in the other.

    Forgives the one-dot edge changes another FreeType or Pillow makes to anti-aliased letters
    (thresholding this slip anywhere from 64 to 230 instead of 128 gives 0), not a changed,
    missing or moved letter (one changed digit gives 60 or more).
    """
    ink, ref = (ImageChops.invert(i.convert("L")) for i in (image, reference))
    grown = [i.filter(ImageFilter.MaxFilter(3)) for i in (ink, ref)]
    stray = ImageChops.lighter(ImageChops.subtract(ink, grown[1]), ImageChops.subtract(ref, grown[0]))
    histogram = stray.histogram()
    return sum(histogram) - histogram[0]


@pytest.mark.parametrize("kind", RECEIPTS)
def test_a_receipt_looks_like_its_reference_picture(kind: str, tmp_path: Path) -> None:
    """tests/fixtures/receipts holds each picture as read and checked by eye (see its README)."""
    reference = Image.open(REFERENCE / f"{kind}.png")
    image = RECEIPTS[kind]()
    image.save(tmp_path / f"{kind}.png")
    where = f"compare {tmp_path / kind}.png with {REFERENCE / kind}.png"
    assert image.size == reference.size, f"{image.size} != {reference.size}: {where}"
    assert stray_ink(image, reference) <= 10, where


def test_a_changed_digit_is_not_taken_for_the_reference() -> None:
    """The tolerance above does not hide a wrong sequence number."""
    other = checkin_slip(branch_code="1001", branch_name=BRANCH_NAME, day=DAY, at=AT, device_id="KSK-07",
                         sequence=46)
    assert stray_ink(other, Image.open(REFERENCE / "checkin_slip.png")) > 10


def test_the_bench_tool_prints_both_receipts_or_says_why_not(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from kiosk.cli import main as kiosk_main
    assert kiosk_main(["hw", "--simulate", "print-test", "--png", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out) == {"status_before": "ready", "checkin_slip": "printed",
                                                   "escalation_ticket": "printed"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkin_slip.png", "escalation_ticket.png"]
    assert kiosk_main(["hw", "print-test", "--port", str(tmp_path / "no-such-tty")]) == 1
    assert json.loads(capsys.readouterr().out)["checkin_slip"] == "offline"
