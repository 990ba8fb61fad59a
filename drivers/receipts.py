"""Receipt layouts rendered to 1-bit bitmaps: the printer has no Persian code page, so we send pictures.

Pure functions of plain values (strings, ints, JalaliDate, time): nothing here
knows the ledger or the printer. Persian comes first, right-aligned; English
follows, left-aligned. A slip may be left behind at the branch, so neither
layout takes a national code or a voter's name.
"""
from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from kiosk import fonts
from kiosk.core.jalali import JalaliDate, format_en, format_fa, persian_digits
from kiosk.text.persian import is_rtl, visual_lines

WIDTH_58MM = 384  # 48 mm printable at 203 dpi: the usual 58 mm printer head
MARGIN_PX = 12
BODY_PX = 22
TITLE_PX = 26
ENGLISH_PX = 20
_INK = 0
_PAPER = 255


@dataclass(frozen=True, slots=True)
class Text:
    """A paragraph: wrapped to the paper, aligned by its own direction (Persian right, English left)."""

    text: str
    size: int = BODY_PX
    bold: bool = False


@dataclass(frozen=True, slots=True)
class Rule:
    """A dashed line across the paper, between the Persian and English halves."""


@dataclass(frozen=True, slots=True)
class Space:
    """Vertical white space in pixels."""

    px: int


Block = Text | Rule | Space


@lru_cache(maxsize=16)
def _font(size: int, bold: bool) -> ImageFont.FreeTypeFont:
    """Vazirmatn with Pillow's basic layout.

    Basic layout draws code points as given. With libraqm present (it is on
    some machines, perhaps not on the Pi) Pillow would shape and reorder a
    second time and print our visual-order text backwards; forcing BASIC
    makes the receipt the same everywhere.
    """
    path = fonts.BOLD if bold else fonts.REGULAR
    return ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.BASIC)


class _Measure:
    """Advance width in whole pixels, rounded up so a line never exceeds what it was measured at."""

    def __init__(self, font: ImageFont.FreeTypeFont) -> None:
        self._font = font

    def __call__(self, text: str) -> int:
        return math.ceil(self._font.getlength(text))


def render(blocks: Sequence[Block], width_px: int = WIDTH_58MM, margin_px: int = MARGIN_PX) -> Image.Image:
    """Draw blocks top to bottom on white paper and return a 1-bit image `width_px` wide."""
    inner = width_px - 2 * margin_px
    if inner <= 0:
        raise ValueError("paper narrower than its margins")
    height = margin_px + sum(_block_height(b, inner) for b in blocks) + margin_px
    # Drawn in greyscale and thresholded: converting anti-aliased text with
    # Pillow's default dithering would speckle the letter edges.
    canvas = Image.new("L", (width_px, height), _PAPER)
    draw = ImageDraw.Draw(canvas)
    y = margin_px
    for block in blocks:
        y = _draw_block(draw, block, y, margin_px, inner)
    return canvas.point(lambda v: 255 if v >= 128 else 0, mode="1")


def _block_height(block: Block, inner: int) -> int:
    match block:
        case Text(text, size, bold):
            font = _font(size, bold)
            return len(visual_lines(text, inner, _Measure(font))) * _line_height(font)
        case Rule():
            return 12
        case Space(px):
            return px


def _draw_block(draw: ImageDraw.ImageDraw, block: Block, y: int, margin: int, inner: int) -> int:
    """Draw one block with its top at y; return the y below it."""
    match block:
        case Text(text, size, bold):
            font = _font(size, bold)
            ascent, _ = font.getmetrics()
            rtl = is_rtl(text)
            measure = _Measure(font)
            for line in visual_lines(text, inner, measure):
                x = margin + inner - measure(line) if rtl else margin
                draw.text((x, y + ascent), line, font=font, fill=_INK, anchor="ls")
                y += _line_height(font)
            return y
        case Rule():
            for x in range(margin, margin + inner, 8):
                draw.line([(x, y + 6), (min(x + 4, margin + inner - 1), y + 6)], fill=_INK, width=2)
            return y + 12
        case Space(px):
            return y + px


def _line_height(font: ImageFont.FreeTypeFont) -> int:
    # Vazirmatn's ascent and descent leave room for hamza and dots; nothing touches the next line.
    ascent, descent = font.getmetrics()
    return ascent + descent


def _clock(at: _dt.time) -> str:
    return f"{at.hour:02d}:{at.minute:02d}"


def checkin_layout(
    *, branch_code: str, branch_name: str, day: JalaliDate, at: _dt.time, device_id: str, sequence: int
) -> list[Block]:
    """The check-in slip as blocks: proof for the voter that the check-in was recorded, and nothing personal."""
    return [
        Text("ثبت مشارکت انجام شد", TITLE_PX, bold=True),
        Text(f"شعبه اخذ رأی: {branch_name}"),
        Text(f"کد شعبه: {persian_digits(branch_code)}"),
        Text(f"تاریخ: {format_fa(day)}، ساعت {persian_digits(_clock(at))}"),
        Text(f"دستگاه: {device_id}"),
        Text(f"شماره ردیف: {persian_digits(sequence)}"),
        Space(6),
        Rule(),
        Space(6),
        Text("Check-in recorded", ENGLISH_PX, bold=True),
        Text(f"Branch code: {branch_code}", ENGLISH_PX),
        Text(f"Date: {format_en(day)}, {_clock(at)}", ENGLISH_PX),
        Text(f"Device: {device_id}", ENGLISH_PX),
        Text(f"Sequence no.: {sequence}", ENGLISH_PX),
    ]


def escalation_layout(
    *, case_id: str, branch_code: str, branch_name: str, day: JalaliDate, at: _dt.time, queue_position: int
) -> list[Block]:
    """The escalation ticket as blocks: what the person shows the governor's representative, with no personal data."""
    return [
        Text("پرونده ارجاعی به نماینده فرماندار", TITLE_PX, bold=True),
        Text(f"شماره پرونده: {case_id}"),
        Text(f"شعبه اخذ رأی: {branch_name} (کد {persian_digits(branch_code)})"),
        Text(f"زمان: {format_fa(day)}، ساعت {persian_digits(_clock(at))}"),
        Text(f"نوبت شما: {persian_digits(queue_position)}", TITLE_PX, bold=True),
        Text("لطفاً منتظر نماینده فرماندار بمانید."),
        Space(6),
        Rule(),
        Space(6),
        Text("Case for the governor's representative", ENGLISH_PX, bold=True),
        Text(f"Case ID: {case_id}", ENGLISH_PX),
        Text(f"Branch code: {branch_code}", ENGLISH_PX),
        Text(f"Time: {format_en(day)}, {_clock(at)}", ENGLISH_PX),
        Text(f"Queue position: {queue_position}", ENGLISH_PX, bold=True),
        Text("Please wait for the governor's representative.", ENGLISH_PX),
    ]


def checkin_slip(
    *,
    branch_code: str,
    branch_name: str,
    day: JalaliDate,
    at: _dt.time,
    device_id: str,
    sequence: int,
    width_px: int = WIDTH_58MM,
) -> Image.Image:
    """The check-in slip as a 1-bit image ready for the printer."""
    return render(
        checkin_layout(
            branch_code=branch_code, branch_name=branch_name, day=day, at=at, device_id=device_id, sequence=sequence
        ),
        width_px,
    )


def escalation_ticket(
    *,
    case_id: str,
    branch_code: str,
    branch_name: str,
    day: JalaliDate,
    at: _dt.time,
    queue_position: int,
    width_px: int = WIDTH_58MM,
) -> Image.Image:
    """The escalation ticket as a 1-bit image ready for the printer."""
    return render(
        escalation_layout(
            case_id=case_id,
            branch_code=branch_code,
            branch_name=branch_name,
            day=day,
            at=at,
            queue_position=queue_position,
        ),
        width_px,
    )


def closing_layout(*, branch_code: str, branch_name: str, day: JalaliDate, at: _dt.time, device_id: str,
                   lines_fa: Sequence[str], lines_en: Sequence[str]) -> list[Block]:
    """The close-of-polls summary a kiosk prints when it exports: counts only (kiosk.core.closing)."""
    return [
        Text("پایان رأی‌گیری — خلاصه دستگاه", TITLE_PX, bold=True),
        Text(f"شعبه اخذ رأی: {branch_name} (کد {persian_digits(branch_code)})"),
        Text(f"دستگاه: {device_id}"),
        Text(f"زمان: {format_fa(day)}، ساعت {persian_digits(_clock(at))}"),
        *(Text(line) for line in lines_fa),
        Space(6),
        Rule(),
        Space(6),
        Text("Close of voting — device summary", ENGLISH_PX, bold=True),
        Text(f"Branch code: {branch_code}", ENGLISH_PX),
        Text(f"Device: {device_id}", ENGLISH_PX),
        Text(f"Time: {format_en(day)}, {_clock(at)}", ENGLISH_PX),
        *(Text(line, ENGLISH_PX) for line in lines_en),
    ]


def selftest_layout(device_id: str, day: JalaliDate, at: _dt.time) -> list[Block]:
    """The technician's self-test receipt: Persian first, then English, and nothing personal."""
    return [
        Text("آزمون سخت‌افزار دستگاه", TITLE_PX, bold=True),
        Text(f"دستگاه: {device_id}"),
        Text(f"تاریخ: {format_fa(day)}، ساعت {persian_digits(_clock(at))}"),
        Space(6),
        Rule(),
        Space(6),
        Text("Hardware self-test", ENGLISH_PX, bold=True),
        Text(f"Device: {device_id}", ENGLISH_PX),
        Text(f"Date: {format_en(day)}, {_clock(at)}", ENGLISH_PX),
    ]
