"""The one catalogue of log events, and structured log lines that never carry personal data.

Each event has a stable id, a level and a meaning. A log line is one JSON
object: {"event", "msg", ...fields}. Fields are counts, ids, reasons and
durations; a national code or a name must never be passed, and as a last
guard `log` masks anything in a text field that looks like one (a run of
eight or more digits in any script, or Persian letters).
Long actions log a start and an outcome.

The device's audit log keeps warnings and errors (refusals, tampering, forced
wipes: the security record) in a file that never rotates, so a flood of lines
cannot push them out; repeated refusals are tallied (`Tally`) so that file stays
small. Everything else goes to a rotating file.
"""
from __future__ import annotations

import heapq
import io
import json
import logging
import logging.handlers
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

_LOGGER = logging.getLogger("kiosk")
# Without a handler, Python's last-resort handler would print warnings onto a technician's terminal.
_LOGGER.addHandler(logging.NullHandler())
AUDIT_LOG = "audit.log"
# Warnings and errors, never rotated; the name starts with AUDIT_LOG so tools that skip the audit log skip it too.
SECURITY_LOG = "audit.log.security"
AUDIT_BYTES, AUDIT_KEPT = 4 << 20, 3   # 16 MiB at most: weeks of lines, and bounded on a small SD card
# Tallied refusals write about 200 bytes per address per TALLY_SECONDS: one flooding address fills
# 16 MiB in about ten days. Past the bound the oldest lines stay and newer warnings go to the rotating file.
SECURITY_BYTES = 16 << 20
TALLY_SECONDS = 10.0
TALLY_KEYS = 64          # keys tallied at once; more share one line (key "others") so memory stays bounded
_STAMP = 23              # "2026-05-22 08:30:00,123": the prefix every audit line starts with
# Eight or more digits in any script, or Persian letters: what a national code or a name looks like.
# A run inside a hex token (a device id, a fingerprint) is not a code, and masking it would hide which device.
_PERSONAL = re.compile(r"(?<![0-9a-fA-F])[0-9۰-۹٠-٩]{8,}(?![0-9a-fA-F])|[\u0600-\u06ff\u200c]+")


class Event(Enum):
    """Every event the appliance logs: (id, level, meaning)."""

    PACKAGE_BUILD_STARTED = ("A100", logging.INFO, "package build started")
    PACKAGE_BUILT = ("A101", logging.INFO, "package built and signed")
    PACKAGE_REFUSED = ("A102", logging.WARNING, "package build refused: rejected rows or bad input")
    DEVICE_ENROLLED = ("A110", logging.INFO, "device enrolled")
    ENROLL_REFUSED = ("A111", logging.WARNING, "enrollment refused")
    DEVICE_REVOKED = ("A112", logging.WARNING, "a device was added to the signed revocation list")
    INSTALL_STARTED = ("D100", logging.INFO, "package install started")
    INSTALLED = ("D101", logging.INFO, "package installed")
    INSTALL_REFUSED = ("D102", logging.WARNING, "package install refused")
    SELFTEST_DONE = ("D105", logging.INFO, "technician's hardware self-test run")
    EXPORTED = ("D110", logging.INFO, "close-of-polls bundle written and read back")
    EXPORT_REFUSED = ("D111", logging.ERROR, "close-of-polls export refused: the ledger does not verify")
    WIPED = ("D120", logging.WARNING, "device wiped after a verified export")
    WIPE_FORCED = ("D121", logging.WARNING, "device wiped without a verified export; reason given")
    WIPE_REFUSED = ("D122", logging.WARNING, "wipe refused: no verified export of the current records")
    REVOCATIONS_KEPT = ("D140", logging.WARNING, "a newer signed revocation list is in force on this device")
    REVOCATIONS_REFUSED = ("D141", logging.WARNING,
                           "a revocation list was refused: not this election's authority's, or malformed")
    ROSTER_ADDED = ("D142", logging.INFO, "a device certificate of this election was added to the roster")
    FILES_CHANGED = ("D150", logging.ERROR,
                     "an installed file is not as the authority signed it: the device stopped serving")
    BUNDLE_COLLECTED = ("A120", logging.INFO, "a device's bundle was verified and collected")
    BUNDLE_REFUSED = ("A121", logging.WARNING, "a bundle was refused at collection")
    CHECKED_IN = ("K100", logging.INFO, "check-in recorded")
    CHECK_IN_UNDONE = ("K101", logging.INFO, "check-in undone")
    CASE_RAISED = ("K120", logging.INFO, "case for the representative raised")
    LEDGER_VERIFIED = ("K110", logging.INFO, "ledger chain and signatures verified")
    LEDGER_CORRUPT = ("K111", logging.ERROR, "ledger verification failed")
    READER_STATUS = ("H100", logging.INFO, "card reader status changed")
    SCANNER_STATUS = ("H110", logging.INFO, "barcode scanner status changed")
    LISTENER_FAILED = ("H001", logging.ERROR, "a device listener raised; the driver keeps running")
    SCANNER_READ_FAILED = ("H112", logging.ERROR, "the scanner's reader loop failed unexpectedly")
    PRINT_NOT_DONE = ("H120", logging.WARNING, "a receipt was not printed")
    PEER_REFUSED = ("N100", logging.WARNING, "a peer was refused: certificate, election, role or branch")
    MESSAGE_REFUSED = ("N101", logging.WARNING, "a malformed, oversized or unexpected message was refused")
    PEER_CONNECTED = ("N102", logging.INFO, "a peer connected over mutual TLS")
    PEER_DISCONNECTED = ("N103", logging.INFO, "a peer connection ended")
    PEER_SHUT_OUT = ("N104", logging.WARNING, "an open link to a peer the roster no longer admits was closed")
    SERVICE_FOUND = ("N110", logging.INFO, "a peer was found by zeroconf")
    SERVICE_LOST = ("N111", logging.INFO, "a peer found by zeroconf went away")
    SERVICE_IGNORED = ("N112", logging.INFO, "a zeroconf service of another election, branch or version was ignored")
    ADVERTISED = ("N113", logging.INFO, "this device advertises itself by zeroconf")
    DISCOVERY_FAILED = ("N114", logging.ERROR, "zeroconf could not start: tried again when the addresses change")
    DISCOVERY_RESTARTED = ("N115", logging.INFO, "this machine's addresses changed: zeroconf restarted")
    CASE_SENT = ("N120", logging.INFO, "a case was sent to the representative's console")
    CASE_DELIVERED = ("N121", logging.INFO, "the console acknowledged a case")
    DECISION_RECORDED = ("K121", logging.INFO, "the representative's signed decision was recorded")
    DECISION_REFUSED = ("N122", logging.WARNING, "a decision was refused: bad signature or unknown case")
    CASE_CANCELLED = ("K122", logging.INFO, "staff withdrew a case")
    SUMMARY_PRINTED = ("K140", logging.INFO, "the branch head printed the day's summary (the closing receipt)")
    STATE_DISK_FULL = ("K130", logging.ERROR, "a write failed on a full state disk: nothing recorded, staff told")
    CLOCK_SKEW = ("N130", logging.WARNING, "this device's clock differs from the console's beyond the bound")
    REP_CASE_RECEIVED = ("R100", logging.INFO, "the console received a new case")
    REP_DECIDED = ("R101", logging.INFO, "the representative decided a case")
    REP_DECISION_DELIVERED = ("R102", logging.INFO, "a kiosk acknowledged a decision")
    REP_CASE_CANCELLED = ("R103", logging.INFO, "a kiosk withdrew an open case")
    REP_UNLOCK_ASKED = ("R120", logging.INFO, "a locked kiosk asked the representative to unlock it")
    REP_UNLOCK_GRANTED = ("R121", logging.INFO, "the representative unlocked a kiosk")
    REP_UNLOCK_DENIED = ("R122", logging.WARNING, "the console refused to unlock a kiosk")
    REP_ALERT_SILENT = ("R110", logging.WARNING, "the console cannot play its alert sound; the banner still shows")
    DUPLICATE_FOUND = ("S100", logging.WARNING, "branch sync found a voter checked in on two kiosks")
    UNLOCKED = ("U100", logging.INFO, "the device was unlocked for the day")
    UNLOCK_REFUSED = ("U101", logging.WARNING, "an unlock was refused: a wrong code, card or share")
    LOCKED = ("U102", logging.INFO, "the device was locked again")
    CARD_SIGNED_IN = ("U110", logging.INFO, "an official signed in with their card")
    STAFF_SIGNED_IN = ("U120", logging.INFO, "a staff account signed in with its PIN")
    STAFF_PIN_WRONG = ("U121", logging.WARNING, "a wrong PIN was typed for a staff account")
    STAFF_LOCKED_OUT = ("U122", logging.WARNING, "a staff account is locked out after wrong PINs")
    STAFF_PIN_SET = ("U123", logging.INFO, "a staff account's PIN was set")
    STAFF_LOCKOUT_RESET = ("U124", logging.INFO, "the branch head cleared a staff account's lock-out")
    CARD_REFUSED = ("U111", logging.WARNING, "an official's card was refused: not trusted, not enrolled, or not its key")
    CARD_PIN_WRONG = ("U112", logging.WARNING, "the card refused a PIN")
    CARD_PIN_BLOCKED = ("U113", logging.WARNING, "a card with a blocked PIN was presented")
    UNLOCK_NOT_REMEMBERED = ("U103", logging.WARNING,
                             "the unlock is not shared with other processes: the unlock folder is not in memory")
    SECURITY_LOG_FULL = ("D130", logging.WARNING,
                         "the security log reached its size bound: later warnings go to the rotating audit log")

    @property
    def id(self) -> str:
        """Stable id, for searching the journal."""
        return self.value[0]


def mask(text: str) -> str:
    """Text with anything that looks like a national code or a Persian name replaced by '*'."""
    return _PERSONAL.sub("*", text)


Field = str | int | float | bool


def log(event: Event, **fields: Field) -> None:
    """Write one structured line, masking text fields that look like personal data."""
    if _LOGGER.isEnabledFor(event.value[1]):
        _LOGGER.log(event.value[1], _line(event, fields))


def _line(event: Event, fields: dict[str, Field]) -> str:
    safe = {k: mask(v) if isinstance(v, str) else v for k, v in fields.items()}
    return json.dumps({"event": event.id, "msg": event.value[2], **safe})


@dataclass
class _Repeats:
    due: float                                   # when this key's next line is due
    count: int = 0                               # repeats since its last line
    fields: dict[str, Field] = field(default_factory=dict)   # the latest repeat's


class Tally:
    """Repeats of one event per key (source address, reason), so a flood writes a line per key and interval.

    The first occurrence of a key is logged at once (a technician needs to see
    it); later ones are counted and logged by `flush` as one line per interval
    with `count` (repeats since the last line), `interval_s`, the key's fields
    and the latest repeat's other fields. A key quiet for a whole interval starts
    afresh. Past `max_keys`, new keys share one line whose first key field is "others".
    Thread-safe; whoever owns the tally calls `flush` (at least when told it is due) and `flush(everything=True)`
    when it stops.
    """

    def __init__(self, event: Event, key_fields: tuple[str, ...], interval: float = TALLY_SECONDS,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = TALLY_KEYS) -> None:
        self._event = event
        self._key_fields = key_fields
        self._interval = interval
        self._clock = clock
        self._max_keys = max_keys
        self._lock = threading.Lock()
        self._keys: dict[tuple[str, ...], _Repeats] = {}

    def add(self, key: tuple[str, ...], **fields: Field) -> None:
        """One more occurrence of `key` (the key fields' values): logged now if it is the first, else counted."""
        with self._lock:
            if key not in self._keys and len(self._keys) >= self._max_keys:
                key = ("others",)
            repeats = self._keys.get(key)
            if repeats is not None:
                repeats.count += 1
                repeats.fields = fields
                return
            self._keys[key] = _Repeats(self._clock() + self._interval)
        log(self._event, **fields)

    def flush(self, everything: bool = False) -> float | None:
        """Log the lines that are due (every pending one with `everything`); seconds until the next, or None."""
        now = self._clock()
        lines: list[dict[str, Field]] = []
        with self._lock:
            for key, repeats in list(self._keys.items()):
                if repeats.due > now and not everything:
                    continue
                if repeats.count:
                    lines.append({**repeats.fields, **dict(zip(self._key_fields, key)), "count": repeats.count,
                                  "interval_s": self._interval})
                if repeats.count and not everything:
                    repeats.count, repeats.due = 0, now + self._interval   # still flooding: keep tallying
                else:
                    del self._keys[key]
            due = min((r.due for r in self._keys.values()), default=None)
        for line in lines:
            log(self._event, **line)
        return None if due is None else max(0.0, due - now)


_REFUSED_MESSAGES = Tally(Event.MESSAGE_REFUSED, ("peer", "reason"))


def message_refused(peer: str, reason: str, **fields: Field) -> None:
    """A message refused from an authenticated peer: the first per (peer, reason) now, repeats as counts.

    An enrolled but stolen device could otherwise fill the security log with one line per bad message.
    """
    _REFUSED_MESSAGES.add((peer, reason), peer=peer, reason=reason, **fields)
    _REFUSED_MESSAGES.flush()


def flush_message_refusals() -> None:
    """Write the counts still pending (a link ended: its flood, if any, is over)."""
    _REFUSED_MESSAGES.flush(everything=True)


def _stderr_is_journal() -> bool:
    """True when stderr is the journal stream systemd gave this service (JOURNAL_STREAM is "dev:inode").

    The variable alone is inherited by everything a service starts; comparing it
    with stderr itself is what systemd's documentation recommends.
    """
    stream = os.environ.get("JOURNAL_STREAM", "")
    try:
        device, inode = (int(part) for part in stream.split(":"))
        st = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError):
        return False
    return (st.st_dev, st.st_ino) == (device, inode)


def configure(state: Path | None = None) -> None:
    """Under systemd (JOURNAL_STREAM) or with KIOSK_LOG_LEVEL set, write log lines to stderr; keep the
    device's audit log in `state` when it is an existing folder.

    A technician at a shell reads the commands' own one-line messages instead.
    """
    if state is not None and state.is_dir():
        keep_audit_log(state)
    to_stderr = [h for h in _LOGGER.handlers if type(h) is logging.StreamHandler]
    if to_stderr or not (_stderr_is_journal() or os.environ.get("KIOSK_LOG_LEVEL")):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    _LOGGER.addHandler(handler)
    _LOGGER.setLevel(os.environ.get("KIOSK_LOG_LEVEL", "INFO").upper())
    _LOGGER.propagate = False


def _open_private(path: str, encoding: str | None, errors: str | None) -> io.TextIOWrapper:
    """Append to `path`, created owner-only (and made so if an older version left it readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
    except OSError:
        pass   # another user's file: written as it is
    return open(fd, "a", encoding=encoding, errors=errors)


class _PrivateRotating(logging.handlers.RotatingFileHandler):
    """The audit log: 0600 like every file that says what the device did; a write that fails is dropped."""

    def _open(self) -> io.TextIOWrapper:
        return _open_private(self.baseFilename, self.encoding, self.errors)

    def handleError(self, record: logging.LogRecord) -> None:
        pass   # a full disk: the journal keeps the line, and no traceback reaches the technician's screen


class _PrivateFile(logging.FileHandler):
    """The security log, 0600; a write that fails is dropped (see _PrivateRotating)."""

    def _open(self) -> io.TextIOWrapper:
        return _open_private(self.baseFilename, self.encoding, self.errors)

    def handleError(self, record: logging.LogRecord) -> None:
        pass


class _AuditHandler(logging.Handler):
    """The device's own record of what happened (no personal data, like every log line).

    Warnings and errors go to a file that never rotates, up to `security_bytes`;
    other lines, and warnings past that bound, to a rotating file.
    """

    def __init__(self, state: Path, rotate_bytes: int, kept: int, security_bytes: int) -> None:
        super().__init__(logging.INFO)
        stamped = logging.Formatter("%(asctime)s %(message)s")
        self._rotating = _PrivateRotating(state / AUDIT_LOG, maxBytes=rotate_bytes, backupCount=kept,
                                          encoding="utf-8")
        try:
            self._security = _PrivateFile(state / SECURITY_LOG, encoding="utf-8")
        except OSError:
            self._rotating.close()
            raise
        for handler in (self._rotating, self._security):
            handler.setFormatter(stamped)
        self._security_bytes = security_bytes
        self._full = self._size() >= security_bytes

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.WARNING or self._full:
            self._rotating.handle(record)
            return
        self._security.handle(record)
        if self._size() >= self._security_bytes:
            self._full = True
            # The last line of the file says where later warnings are, for whoever reads this file alone.
            self._security.handle(logging.makeLogRecord({
                "name": _LOGGER.name, "levelno": logging.WARNING, "levelname": "WARNING",
                "msg": _line(Event.SECURITY_LOG_FULL, {"bytes": self._security_bytes, "next": AUDIT_LOG})}))

    def close(self) -> None:
        for handler in (self._rotating, self._security):
            try:
                handler.close()
            except OSError:
                pass   # the last lines could not be flushed to a full disk
        super().close()

    def _size(self) -> int:
        stream = self._security.stream
        try:
            return os.fstat(stream.fileno()).st_size if stream is not None else 0
        except (OSError, ValueError):
            return 0


def keep_audit_log(state: Path, *, rotate_bytes: int = AUDIT_BYTES, kept: int = AUDIT_KEPT,
                   security_bytes: int = SECURITY_BYTES) -> None:
    """Also append every log line, stamped, to STATE/audit.log*: the close-of-polls export carries them.

    One audit log per process; a state folder that cannot be written leaves the journal as the only record.
    """
    stop_audit_log()
    try:
        handler = _AuditHandler(state, rotate_bytes, kept, security_bytes)
    except OSError:
        return
    _LOGGER.addHandler(handler)
    if _LOGGER.getEffectiveLevel() > logging.INFO:
        _LOGGER.setLevel(logging.INFO)


def audit_lines(state: Path) -> list[str]:
    """Every audit line the device keeps (rotated files and the security log), oldest first."""
    rotated = sorted((p for p in state.glob(f"{AUDIT_LOG}.*") if p.suffix[1:].isdigit()),
                     key=lambda p: int(p.suffix[1:]), reverse=True)
    general = [line for path in [*rotated, state / AUDIT_LOG] for line in _read_lines(path)]
    # Each file is in order; merging by time stamp keeps that order within each file. Within one
    # millisecond the order across files is unknown: the security line goes first.
    return list(heapq.merge(_read_lines(state / SECURITY_LOG), general, key=lambda line: line[:_STAMP]))


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text("utf-8", errors="replace").splitlines()
    except OSError:
        return []


def stop_audit_log() -> None:
    """Close the audit file (before a wipe removes it)."""
    for old in [h for h in _LOGGER.handlers if isinstance(h, _AuditHandler)]:
        _LOGGER.removeHandler(old)
        old.close()
