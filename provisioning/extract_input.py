"""The extract's bytes as the build reads them: UTF-8, lines ending in \\n.

Registry offices export from spreadsheets and old Windows tools: UTF-16
("Unicode text"), Windows-1256, or lines ending in a bare CR. Read as UTF-8,
the first two reject every row one by one as a malformed name, and a CR-only
file is a single line. So the build looks at the first megabyte before
anything else: a foreign encoding is refused with one line that says what the
file is and how to convert it, or converted when the authority names it
(--encoding); CR-only line ends are converted without asking.
"""
from __future__ import annotations

import codecs
import os
import re
from pathlib import Path

ENCODINGS = ("utf-8", "cp1256", "utf-16")
SNIFF_BYTES = 1 << 20
CONVERTED = "extract-utf8.csv"
_ARABIC_LETTER = re.compile("[\u0621-\u064a\u067e\u0686\u0698\u06a9\u06af\u06cc]")
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_NON_ASCII = re.compile("[^\x00-\x7f]")


class ExtractRefused(Exception):
    """The extract as a whole cannot be read (encoding, header, no voters), with a one-line reason."""


def sniff(head: bytes, whole: bool) -> str:
    """What `head` (the file's first bytes; `whole` when that is all of it) is: utf-8, utf-16, cp1256 or unknown.

    A few undecodable bytes in a UTF-8 file are a few bad rows, reported with their
    lines; a file is foreign only when its undecodable bytes outnumber its non-ASCII
    characters, as in every Persian text in another encoding.
    """
    # Without a byte-order mark, UTF-16 shows in NULs: one in every two bytes of the ASCII header,
    # digits and commas. A stray NUL or two in a UTF-8 file is a bad row, not another encoding.
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or head.count(b"\x00") * 20 > len(head):
        return "utf-16"
    text = codecs.getincrementaldecoder("utf-8")("surrogateescape").decode(head, final=whole)
    undecodable = len(_UNDECODABLE.findall(text))
    if undecodable == 0 or undecodable <= len(_NON_ASCII.findall(text)) - undecodable:
        return "utf-8"
    return "cp1256" if _ARABIC_LETTER.search(head.decode("cp1256", errors="replace")) else "unknown"


def prepare_extract(path: Path, encoding: str | None, folder: Path) -> Path:
    """The file to build from: `path` itself, or its UTF-8 copy with \\n line ends in `folder`.

    `encoding` is what the authority said the file is (None: UTF-8, the documented form).
    """
    try:
        with open(path, "rb") as f:
            head = f.read(SNIFF_BYTES)
            whole = f.read(1) == b""
    except OSError as exc:
        raise ExtractRefused(f"voter extract cannot be read: {path}") from exc
    found = sniff(head, whole)
    wanted = encoding or "utf-8"
    if wanted not in ENCODINGS:
        raise ExtractRefused(f"--encoding must be one of {', '.join(ENCODINGS)}")
    # Plain ASCII reads the same in Windows-1256.
    if found != wanted and not (found == "utf-8" and wanted == "cp1256" and head.isascii()):
        raise ExtractRefused(_mismatch(path, found, wanted, _utf16_order(head)))
    if wanted == "utf-8":
        cr_only = b"\r" in head and b"\n" not in head
        if not cr_only:
            return path
        return _convert(path, "utf-8-sig", "surrogateescape", folder)
    return _convert(path, _utf16_order(head).lower() if wanted == "utf-16" else wanted, "replace", folder)


def _utf16_order(head: bytes) -> str:
    """The UTF-16 flavour iconv and Python need: with a byte-order mark plain UTF-16, else the order the NULs show."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "UTF-16"
    return "UTF-16BE" if head[:1] == b"\x00" else "UTF-16LE"


def _mismatch(path: Path, found: str, wanted: str, utf16: str) -> str:
    """One line: what the file is, and how to convert it or which --encoding reads it."""
    name = path.name
    if found == "utf-16":
        return (f"voter extract {name} is UTF-16 (a spreadsheet's \"Unicode text\"), not UTF-8: convert it with "
                f"`iconv -f {utf16} -t UTF-8 {name} > voters-utf8.csv`, or build with --encoding utf-16")
    if found == "cp1256":
        return (f"voter extract {name} is Windows-1256 (Arabic Windows), not UTF-8: convert it with "
                f"`iconv -f WINDOWS-1256 -t UTF-8 {name} > voters-utf8.csv`, or build with --encoding cp1256")
    if found == "unknown":
        return f"voter extract {name} is not UTF-8, nor Windows-1256 or UTF-16: export it again as UTF-8 CSV"
    if wanted == "utf-16":
        return f"voter extract {name} is not UTF-16 (no byte-order mark, no NUL bytes): build without --encoding"
    return f"voter extract {name} is already UTF-8 (its names read as Persian): build without --encoding"


def _convert(path: Path, encoding: str, errors: str, folder: Path) -> Path:
    """Copy `path` into `folder` as UTF-8 with \\n line ends (any of \\r\\n, \\r, \\n read as one).

    Bytes the encoding cannot read become U+FFFD (or stay as they were, for UTF-8),
    and their rows are rejected as malformed names with their line numbers.
    """
    out = folder / CONVERTED
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(path, encoding=encoding, errors=errors, newline=None) as src, \
            open(fd, "w", encoding="utf-8", errors="surrogateescape", newline="\n") as dst:
        while block := src.read(1 << 20):
            dst.write(block)
    return out
