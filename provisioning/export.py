"""`kiosk-provision export`: at close of polls, everything the device recorded, for the authority.

A kiosk's bundle carries its ledger (its own events and the branch events it
holds from other kiosks, with their certificates, so a kiosk whose card died
is still counted), its escalation cases and its audit log. A console's bundle
carries its case book and audit log. The bundle is signed by the device and
encrypted to the authority's export key (kiosk.trust.bundle). It is written,
fsync'd and read back; only a bundle that reads back byte for byte is
recorded as verified, which is what `wipe` asks for.
"""
from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.core.cases import decision_fields
from kiosk.core.closing import ClosingSummary, outcome_of, summarize, summary_lines
from kiosk.core.console import RepCase
from kiosk.core.jalali import TEHRAN, JalaliDate
from kiosk.logbook import Event as LogEvent
from kiosk.logbook import audit_lines, log
from kiosk.rep.book import CaseBook
from kiosk.rep.service import CASE_BOOK
from kiosk.state import EXPORTS, LEDGER, Installed, load_signing_key
from kiosk.store.atomic import fsync_dir, write_atomic
from kiosk.store.outbox import open_column
from kiosk.store.ledger import Event, Kind, LedgerCorrupt, connect_read_only, event_row, verify_chain
from kiosk.trust import bundle, certs, sealed

FORMAT = 1


class ExportRefused(Exception):
    """The device will not export (a damaged ledger, an unwritable medium), with a one-line reason."""


@dataclass(frozen=True, slots=True)
class Exported:
    """A bundle written and read back."""

    path: Path
    sha256: str
    own_events: int
    held_events: int
    cases: int
    summary: ClosingSummary


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a device holds at one moment, read in one read transaction."""

    events: list[Event]
    certificates: dict[str, str]
    cases: list[dict[str, Any]]
    summary: ClosingSummary
    fingerprint: str
    anomalies: list[dict[str, Any]]     # what the kiosk refused to count, with its evidence (no personal data)


def snapshot(installed: Installed) -> Snapshot:
    """The device's records now: a kiosk's ledger and cases, or a console's case book."""
    if installed.claims.role is certs.Role.REP:
        return _console_snapshot(installed)
    return _kiosk_snapshot(installed)


def _kiosk_snapshot(installed: Installed) -> Snapshot:
    path = installed.state / LEDGER
    if not path.exists():
        return Snapshot([], {}, [], ClosingSummary(), _fingerprint([], []), [])
    db = connect_read_only(path)   # a full state disk still exports
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'events'").fetchone():
        db.close()   # a ledger file that was created but never written (its first write failed)
        return Snapshot([], {}, [], ClosingSummary(), _fingerprint([], []), [])
    try:
        db.execute("BEGIN")  # one read snapshot for events and cases alike
        events = [Event(r[0], r[1], r[2], Kind(r[3]), bytes(r[4]), r[5], r[6], r[7], bytes(r[8]), bytes(r[9]),
                        bytes(r[10]), r[11] if len(r) > 11 else "")
                  for r in db.execute("SELECT * FROM events ORDER BY device, seq")]
        certificates = dict(_optional(db, "SELECT device, cert FROM devices"))
        keys, device = installed.data_keys(), installed.claims.device_id

        def opened(case_id: str, column: str, stored: str) -> str:
            return open_column(keys, device, case_id, column, stored)
        cases = [{"case_id": c, "created": cr, "status": s, "form": json.loads(opened(c, "payload", p)),
                  "decision": json.loads(opened(c, "decision", d)) if d else None, "check_in": ci,
                  "cancel_reason": opened(c, "cancel_reason", cx), "console": co}
                 for c, cr, s, p, d, ci, cx, co in _optional(
                     db, "SELECT case_id, created, status, payload, decision, check_in, cancel_reason, console "
                         "FROM cases ORDER BY created, case_id")]
        anomalies = [{"kind": k, "device": d, "seq": q, "detail": t, "evidence": json.loads(ev), "found": f}
                     for k, d, q, t, ev, f in _optional(
                         db, "SELECT kind, device, seq, detail, evidence, found FROM anomalies ORDER BY found")]
    finally:
        db.close()
    device = installed.claims.device_id
    own = [e for e in events if e.device == device]
    summary = summarize({f"{e.device}:{e.seq}": e.wall for e in own if e.kind is Kind.CHECK_IN},
                        [e.ref for e in own if e.kind is Kind.UNDO],
                        [outcome_of(c["status"], (c["decision"] or {}).get("ruling")) for c in cases])
    pem = {d: bytes(c).decode() for d, c in certificates.items() if d != device}
    return Snapshot(events, pem, cases, summary, _fingerprint(events, cases), anomalies)


def _console_snapshot(installed: Installed) -> Snapshot:
    book = CaseBook(installed.state / CASE_BOOK, installed.data_keys())
    try:
        cases = [_console_case(c) for c in book.all_cases()]
    finally:
        book.close()
    summary = summarize({}, [], [outcome_of(c["status"], (c["decision"] or {}).get("ruling")) for c in cases])
    return Snapshot([], {}, cases, summary, _fingerprint([], cases), [])


def _console_case(c: RepCase) -> dict[str, Any]:
    form = c.form
    return {"case_id": c.case_id, "kiosk": c.kiosk, "branch": c.branch, "raised_at": c.raised_at,
            "received_at": c.received_at, "status": c.status.value, "delivered": c.delivered,
            "decision": decision_fields(c.decision) if c.decision else None,
            "form": {"first_name": form.first_name, "last_name": form.last_name, "father_name": form.father_name,
                     "birth_date": str(form.birth_date) if form.birth_date else None,
                     "birth_certificate": form.birth_certificate, "note": form.note, "reason": form.reason.value}}


def _optional(db: sqlite3.Connection, query: str) -> list[Any]:
    """Rows of a table that a ledger gains only once used (cases, devices): none if it is absent."""
    try:
        return db.execute(query).fetchall()
    except sqlite3.OperationalError:
        return []


def _fingerprint(events: list[Event], cases: list[dict[str, Any]]) -> str:
    """One hash over every event and case, so `wipe` can tell whether anything changed since the export."""
    digest = hashlib.sha256()
    for e in events:
        digest.update(e.hash)
    digest.update(json.dumps(cases, sort_keys=True, ensure_ascii=False).encode())
    return digest.hexdigest()


def export(state: Path, out: Path, wipe_reason: str = "", now: dt.datetime | None = None) -> Exported:
    """Write this device's bundle into `out`, read it back, and record it for `wipe`."""
    installed = Installed.open(state)
    recipient = installed.export_recipient()
    now = now or dt.datetime.now(dt.timezone.utc)
    try:
        snap = snapshot(installed)
    except sqlite3.Error as exc:
        raise ExportRefused(f"this device's records cannot be read ({exc}); free space on the state disk "
                            "and export again") from exc
    except sealed.Locked as exc:
        raise ExportRefused("the device is locked: its cases are sealed to the day's keys; unlock it "
                            "(kiosk-provision unlock) and export again") from exc
    except sealed.SealRefused as exc:
        raise ExportRefused(f"a case record does not open with this device's key ({exc}); hand the device to "
                            "the authority as it is") from exc
    claims = installed.claims
    device = claims.device_id
    mine = [e for e in snap.events if e.device == device]
    try:
        verify_chain(iter(mine), installed.config.id, device, installed.device_public_key())
    except LedgerCorrupt as exc:
        log(LogEvent.EXPORT_REFUSED, reason=str(exc))
        raise ExportRefused(f"this device's ledger does not verify ({exc}); hand the device to the authority "
                            "as it is") from exc
    own = len(mine)
    created = now.isoformat(timespec="seconds")
    content = json.dumps({
        "format": FORMAT, "election": installed.config.id, "device": device, "role": claims.role.value,
        "branches": list(claims.branches), "created": created,
        "device_cert": certs.cert_pem(installed.device_cert).decode(),
        "head": {"seq": mine[-1].seq, "hash": mine[-1].hash.hex()} if mine else {"seq": 0, "hash": ""},
        "events": [event_row(e) for e in snap.events], "certificates": snap.certificates,
        "cases": snap.cases, "anomalies": snap.anomalies, "audit": audit_lines(state), "wipe_reason": wipe_reason,
    }, ensure_ascii=False, separators=(",", ":")).encode()
    data = bundle.seal(election=installed.config.id, device=device, role=claims.role.value,
                       branches=tuple(claims.branches), created=created, content=content,
                       device_key=load_signing_key(state), recipient=recipient)
    stamp = now.astimezone(TEHRAN).strftime("%Y%m%dT%H%M%S")
    name = f"{installed.config.id}-{'-'.join(claims.branches)}-{device}-{stamp}"
    path = out / f"{name}{bundle.SUFFIX}"
    today = JalaliDate.from_gregorian(now.astimezone(TEHRAN).date())
    kiosk = claims.role is certs.Role.KIOSK
    summary = "\n".join([
        f"{installed.config.id} · branch {', '.join(claims.branches)} · device {device} · {today} "
        f"{now.astimezone(TEHRAN):%H:%M}", *summary_lines(snap.summary, "en", kiosk), "",
        *summary_lines(snap.summary, "fa", kiosk), ""]).encode()
    medium = _Medium(out, len(data) + len(summary))
    try:
        digest = medium.write_and_read_back(path, data)
        medium.write(out / f"{name}.summary.txt", summary)
    except ExportRefused:
        medium.take_back()   # a bundle without its summary, or half a bundle, is not an export
        raise
    try:
        write_atomic(state / EXPORTS, json.dumps({
            "file": path.name, "sha256": digest, "size": len(data), "created": created, "verified": True,
            "fingerprint": snap.fingerprint, "own_events": own, "cases": len(snap.cases),
            "wipe_reason": wipe_reason}).encode(), mode=0o600)
    except OSError as exc:
        # The bundle is whole and reads back: keep it for the authority, but wipe must not take it as done.
        log(LogEvent.EXPORT_REFUSED, reason=f"export record not written: {exc.strerror}")
        raise ExportRefused(f"the bundle {path.name} is on the stick and reads back, but this device could not "
                            f"record it ({exc.strerror}), so wipe will not accept it; free space on the state "
                            "disk and export again") from exc
    log(LogEvent.EXPORTED, device=device, events=own, held=len(snap.events), cases=len(snap.cases), sha256=digest)
    return Exported(path, digest, own, len(snap.events), len(snap.cases), snap.summary)


class _Medium:
    """The export's folder on the stick, and what this export put there, so a failure takes back only that."""

    def __init__(self, out: Path, needs: int) -> None:
        self._out = out
        self._needs = needs             # bytes of the bundle and its summary, for the message on a full stick
        self._made: list[Path] = []     # files and folders this export created, oldest first

    def write_and_read_back(self, path: Path, data: bytes) -> str:
        """Write the bundle durably, then read it from the medium: the hash of what is really there."""
        digest = hashlib.sha256(data).hexdigest()
        self.write(path, data)
        try:
            again = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as exc:
            raise ExportRefused(f"the bundle cannot be read back from {self._out}: {exc.strerror}; "
                                "use another medium") from exc
        if again != digest:
            raise ExportRefused(f"the bundle read back from {self._out} differs from what was written; "
                                "use another medium")
        return digest

    def write(self, path: Path, data: bytes) -> None:
        """Temporary file, fsync, rename, fsync of the folder: no chmod, which a FAT stick refuses."""
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            self._folder()
            existed = path.exists()
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            if not existed:
                self._made.append(path)
            fsync_dir(path.parent)
        except OSError as exc:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass   # a read-only stick refuses even this; nothing was written there
            raise ExportRefused(self._problem(exc)) from exc

    def take_back(self) -> None:
        """Remove what this export wrote (never a file it found there), newest first; folders only if empty."""
        for made in reversed(self._made):
            try:
                if made.is_dir() and not made.is_symlink():
                    made.rmdir()
                else:
                    made.unlink()
            except OSError:
                pass   # a read-only or vanished stick: nothing more can be taken back
        self._made.clear()

    def _folder(self) -> None:
        if self._out.exists() and not self._out.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(self._out))
        missing = [p for p in [self._out, *self._out.parents] if not p.exists()]
        for folder in reversed(missing):
            folder.mkdir()
            self._made.append(folder)

    def _problem(self, exc: OSError) -> str:
        """What went wrong on the stick, in the technician's terms, and what to do."""
        out = self._out
        if exc.errno in (errno.ENOTDIR, errno.EEXIST):
            return (f"{out} is not a folder (a file has that name or stands in its path): give --out a folder "
                    "on the USB stick; nothing was left on it")
        if exc.errno == errno.EROFS:
            return (f"{out} is read-only (is the stick's write-protect switch on?); nothing was left on it; "
                    "use a writable stick")
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return (f"{out} is full (the export needs {-(-self._needs // 1024)} KiB); nothing was left on it; "
                    "free space on the stick or use another one")
        if exc.errno in (errno.EACCES, errno.EPERM):
            return f"{out} cannot be written: permission denied; nothing was left on it; use another folder or stick"
        return f"cannot write to {out}: {exc.strerror}; nothing was left on it; use another stick"


def latest_export(state: Path) -> dict[str, Any] | None:
    """The record `export` left for `wipe`, or None."""
    try:
        record: dict[str, Any] = json.loads((state / EXPORTS).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return record


def current_fingerprint(installed: Installed) -> str:
    """The fingerprint the device's records have now (what the latest export must match)."""
    return snapshot(installed).fingerprint
