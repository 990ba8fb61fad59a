"""The one catalogue of log events, and structured log lines that never carry personal data.

Each event has a stable id, a level and a meaning. A log line is one JSON
object: {"event", "msg", ...fields}. Fields are counts, ids, reasons and
durations; a national code or a name must never be passed, and as a last
guard `log` masks anything in a text field that looks like one (a run of
eight or more digits in any script, or Persian letters).
Long actions log a start and an outcome.
"""
from __future__ import annotations

import json
import logging
import logging.handlers
import os
import re
import sys
from enum import Enum
from pathlib import Path

_LOGGER = logging.getLogger("kiosk")
# Without a handler, Python's last-resort handler would print warnings onto a technician's terminal.
_LOGGER.addHandler(logging.NullHandler())
AUDIT_LOG = "audit.log"
_AUDIT_BYTES, _AUDIT_KEPT = 4 << 20, 3   # 16 MiB at most: weeks of lines, and bounded on a small SD card
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
    CLOCK_SKEW = ("N130", logging.WARNING, "this device's clock differs from the console's beyond the bound")
    REP_CASE_RECEIVED = ("R100", logging.INFO, "the console received a new case")
    REP_DECIDED = ("R101", logging.INFO, "the representative decided a case")
    REP_DECISION_DELIVERED = ("R102", logging.INFO, "a kiosk acknowledged a decision")
    REP_CASE_CANCELLED = ("R103", logging.INFO, "a kiosk withdrew an open case")
    REP_ALERT_SILENT = ("R110", logging.WARNING, "the console cannot play its alert sound; the banner still shows")
    DUPLICATE_FOUND = ("S100", logging.WARNING, "branch sync found a voter checked in on two kiosks")

    @property
    def id(self) -> str:
        """Stable id, for searching the journal."""
        return self.value[0]


def mask(text: str) -> str:
    """Text with anything that looks like a national code or a Persian name replaced by '*'."""
    return _PERSONAL.sub("*", text)


def log(event: Event, **fields: str | int | float | bool) -> None:
    """Write one structured line, masking text fields that look like personal data."""
    if _LOGGER.isEnabledFor(event.value[1]):
        safe = {k: mask(v) if isinstance(v, str) else v for k, v in fields.items()}
        _LOGGER.log(event.value[1], json.dumps({"event": event.id, "msg": event.value[2], **safe}))


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


class _AuditHandler(logging.handlers.RotatingFileHandler):
    """The device's own record of what happened (no personal data, like every log line)."""


def keep_audit_log(state: Path) -> None:
    """Also append every log line, stamped, to STATE/audit.log: the close-of-polls export carries it.

    One audit file per process; a state folder that cannot be written leaves the journal as the only record.
    """
    stop_audit_log()
    try:
        handler = _AuditHandler(state / AUDIT_LOG, maxBytes=_AUDIT_BYTES, backupCount=_AUDIT_KEPT,
                                encoding="utf-8")
    except OSError:
        return
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    handler.setLevel(logging.INFO)
    _LOGGER.addHandler(handler)
    if _LOGGER.getEffectiveLevel() > logging.INFO:
        _LOGGER.setLevel(logging.INFO)


def audit_lines(state: Path) -> list[str]:
    """The audit log's lines, oldest first (rotated files included)."""
    lines: list[str] = []
    for n in range(_AUDIT_KEPT, -1, -1):
        path = state / (AUDIT_LOG if n == 0 else f"{AUDIT_LOG}.{n}")
        try:
            lines += path.read_text("utf-8", errors="replace").splitlines()
        except OSError:
            continue
    return lines


def stop_audit_log() -> None:
    """Close the audit file (before a wipe removes it)."""
    for old in [h for h in _LOGGER.handlers if isinstance(h, _AuditHandler)]:
        _LOGGER.removeHandler(old)
        old.close()
