"""The kiosk's case outbox: cases for the representative, durable before the form closes.

It lives in the ledger's database and shares the ledger's connection (DESIGN:
Outbox), so a decision's ledger entry and the case's new status commit in one
transaction. `synced` says whether a console has acknowledged the case's
current status; the courier (kiosk.net.courier) sends whatever is not.

What staff typed (names, birth date, certificate number, note, a withdrawal's
reason) and the decision (with the approved national code) are sealed to the
device's data key (kiosk.trust.sealed), each bound to its case and column: a
kiosk may raise a case as soon as it is unlocked, and a copy of the storage
shows only ids, times and statuses. Rows an earlier version kept in clear are
sealed the first time an unlocked outbox opens.
"""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass

from kiosk.core.cases import (CardEndorsement, Case, CaseForm, CaseReason, CaseStatus, Decision, UndoAuthorization, decision_fields,
                              decision_from_fields)
from kiosk.core.jalali import parse_jalali
from kiosk.core.national_code import ascii_digits_only
from kiosk.store.ledger import Kind, Ledger
from kiosk.trust.canonical import b64d, b64e
from kiosk.trust.sealed import SEALED_TEXT, DataKeys

_SEALED_COLUMNS = ("payload", "decision", "cancel_reason")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cases (
    case_id TEXT PRIMARY KEY, created TEXT NOT NULL, status TEXT NOT NULL, payload TEXT NOT NULL
) WITHOUT ROWID
"""
# Columns added by the network issue; an outbox made before it gains them on open.
_COLUMNS = (("synced", "INTEGER NOT NULL DEFAULT 0"), ("console", "TEXT NOT NULL DEFAULT ''"),
            ("decision", "TEXT NOT NULL DEFAULT ''"), ("check_in", "TEXT NOT NULL DEFAULT ''"),
            ("cancel_reason", "TEXT NOT NULL DEFAULT ''"))


@dataclass(frozen=True, slots=True)
class DecisionRecorded:
    """The decision is in the ledger and on the case."""

    seq: int


@dataclass(frozen=True, slots=True)
class DecisionRepeated:
    """The same decision arrived again (a lost acknowledgement): nothing changes, acknowledge again."""


@dataclass(frozen=True, slots=True)
class DecisionRefused:
    """A decision that does not fit: unknown case, another kiosk's, or a different ruling on a decided case."""

    reason: str


DecisionResult = DecisionRecorded | DecisionRepeated | DecisionRefused


class CaseOutbox:
    """Raise, list, deliver, cancel and decide this kiosk's cases."""

    def __init__(self, ledger: Ledger, keys: DataKeys) -> None:
        self._ledger = ledger
        self._keys = keys
        self._device = ledger.device_id
        self._prefix = ledger.device_id[:6].upper()
        self._db: sqlite3.Connection = ledger.connection
        # Under the write lock: the screen's and the courier's connections may open the outbox at once.
        with ledger.transaction():
            self._db.execute(_SCHEMA)
            have = {row[1] for row in self._db.execute("PRAGMA table_info(cases)")}
            for name, kind in _COLUMNS:
                if name not in have:
                    self._db.execute(f"ALTER TABLE cases ADD COLUMN {name} {kind}")
            if keys.unlocked:
                self._seal_clear_rows()

    # -- sealing -----------------------------------------------------------------------------------------------

    def _seal(self, case_id: str, column: str, text: str) -> str:
        return self._keys.seal_text(text, _context(self._device, case_id, column)) if text else ""

    def _open(self, case_id: str, column: str, stored: str) -> str:
        return open_column(self._keys, self._device, case_id, column, stored)

    def _seal_clear_rows(self) -> None:
        for column in _SEALED_COLUMNS:
            rows = self._db.execute(f"SELECT case_id, {column} FROM cases WHERE {column} != '' "
                                    f"AND substr({column}, 1, {len(SEALED_TEXT)}) != ?", (SEALED_TEXT,)).fetchall()
            for case_id, text in rows:
                self._db.execute(f"UPDATE cases SET {column} = ? WHERE case_id = ?",
                                 (self._seal(case_id, column, text), case_id))

    def raise_case(self, form: CaseForm) -> Case:
        """Write the case durably and return it with its id (kiosk prefix and a running number)."""
        created = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        payload = json.dumps({
            "first_name": form.first_name.strip(), "last_name": form.last_name.strip(),
            "father_name": form.father_name.strip(),
            "birth_date": str(form.birth_date) if form.birth_date else None,
            "birth_certificate": ascii_digits_only(form.birth_certificate.strip()), "note": form.note.strip(),
            "reason": form.reason.value, "disputed": form.disputed,
        }, ensure_ascii=False)
        with self._ledger.transaction():
            count = int(self._db.execute("SELECT count(*) FROM cases").fetchone()[0])
            case_id = f"E-{self._prefix}-{count + 1:04d}"
            self._db.execute("INSERT INTO cases (case_id, created, status, payload) VALUES (?, ?, ?, ?)",
                             (case_id, created, CaseStatus.WAITING.value, self._seal(case_id, "payload", payload)))
        case = self.case(case_id)
        assert case is not None
        return case

    def cases(self) -> list[Case]:
        """Every case, oldest first."""
        return [self._case(*row) for row in self._db.execute(f"SELECT {_SELECT} FROM cases ORDER BY created, case_id")]

    def case(self, case_id: str) -> Case | None:
        """One case, or None."""
        row = self._db.execute(f"SELECT {_SELECT} FROM cases WHERE case_id = ?", (case_id,)).fetchone()
        return self._case(*row) if row else None

    def unsynced(self) -> list[Case]:
        """Cases a console has not acknowledged in their current status (to send, or to withdraw)."""
        rows = self._db.execute(f"SELECT {_SELECT} FROM cases WHERE synced = 0 ORDER BY created, case_id")
        return [self._case(*row) for row in rows]

    def console_of(self, case_id: str) -> str:
        """The device id of the console that acknowledged the case ("" before that)."""
        row = self._db.execute("SELECT console FROM cases WHERE case_id = ?", (case_id,)).fetchone()
        return str(row[0]) if row else ""

    def mark_delivered(self, case_id: str, console: str) -> bool:
        """A console acknowledged the case: it is durable there. False if the case was not waiting."""
        with self._ledger.transaction():
            changed = self._db.execute(
                "UPDATE cases SET status = ?, synced = 1, console = ? WHERE case_id = ? AND status = ?",
                (CaseStatus.DELIVERED.value, console, case_id, CaseStatus.WAITING.value)).rowcount
        return changed == 1

    def cancel(self, case_id: str, reason: str) -> Case | None:
        """Staff withdraw a case before a decision; None if it is decided or unknown.

        A case no console has seen is simply closed; a delivered one waits for the console's acknowledgement.
        """
        with self._ledger.transaction():
            row = self._db.execute("SELECT status FROM cases WHERE case_id = ?", (case_id,)).fetchone()
            if row is None or row[0] not in (CaseStatus.WAITING.value, CaseStatus.DELIVERED.value):
                return None
            synced = 1 if row[0] == CaseStatus.WAITING.value else 0
            self._db.execute("UPDATE cases SET status = ?, synced = ?, cancel_reason = ? WHERE case_id = ?",
                             (CaseStatus.CANCELLED.value, synced, self._seal(case_id, "cancel_reason", reason.strip()),
                              case_id))
        return self.case(case_id)

    def cancel_reason(self, case_id: str) -> str:
        """Why staff withdrew a case."""
        row = self._db.execute("SELECT cancel_reason FROM cases WHERE case_id = ?", (case_id,)).fetchone()
        return self._open(case_id, "cancel_reason", str(row[0])) if row else ""

    def mark_cancel_acknowledged(self, case_id: str) -> None:
        """The console closed the withdrawn case."""
        with self._ledger.transaction():
            self._db.execute("UPDATE cases SET synced = 1 WHERE case_id = ? AND status = ?",
                             (case_id, CaseStatus.CANCELLED.value))

    def record_decision(self, decision: Decision, signature: bytes, voter: bytes,
                        undo: UndoAuthorization | None = None, card: CardEndorsement | None = None) -> DecisionResult:
        """Record a verified decision: a ledger entry and the case's new status, in one transaction.

        `voter` is the registry's keyed hash of the approved person's code or reference (b"" otherwise).
        `undo` (verified by the caller) may only name the check-in this case disputes.
        """
        if decision.kiosk != self._device:
            return DecisionRefused("decision is for another kiosk")
        fields = {**decision_fields(decision), "signature": b64e(signature)}
        if undo is not None:
            fields.update(undo=undo.target, undo_signature=b64e(undo.signature))
        if card is not None:   # kept with the decision, so the export carries it to collection
            fields.update(card_certificate=b64e(card.certificate), card_signature=b64e(card.signature))
        stored = json.dumps(fields, sort_keys=True)
        with self._ledger.transaction():
            row = self._db.execute("SELECT status, decision, payload FROM cases WHERE case_id = ?",
                                   (decision.case_id,)).fetchone()
            if row is None:
                return DecisionRefused("decision names no case of this kiosk")
            if undo is not None and undo.target != json.loads(self._open(decision.case_id, "payload",
                                                                         row[2])).get("disputed", ""):
                return DecisionRefused("the undo names another check-in than the case disputes")
            if row[0] == CaseStatus.DECIDED.value:
                same = _decision_of(self._open(decision.case_id, "decision", row[1])) == decision
                return DecisionRepeated() if same else DecisionRefused("case is already decided otherwise")
            event = self._ledger.append(Kind.DECISION, voter, decision.case_id,
                                        f"{decision.ruling.value}:{decision.rep}")
            self._db.execute("UPDATE cases SET status = ?, synced = 1, decision = ? WHERE case_id = ?",
                             (CaseStatus.DECIDED.value, self._seal(decision.case_id, "decision", stored),
                              decision.case_id))
        return DecisionRecorded(event.seq)

    def mark_checked_in(self, case_id: str, check_in: str) -> None:
        """Remember which check-in an approval allowed, so it is used once; inside the check-in's transaction."""
        self._db.execute("UPDATE cases SET check_in = ? WHERE case_id = ?", (check_in, case_id))

    def _case(self, case_id: str, created: str, status: str, payload: str, decision: str, check_in: str) -> Case:
        data = json.loads(self._open(case_id, "payload", payload))
        decision = self._open(case_id, "decision", decision)
        form = CaseForm(data["first_name"], data["last_name"], data["father_name"],
                        parse_jalali(data["birth_date"]) if data["birth_date"] else None,
                        data["birth_certificate"], data["note"], CaseReason(data["reason"]),
                        data.get("disputed", ""))
        return Case(case_id, form, created, CaseStatus(status), _decision_of(decision), check_in, _undo_of(decision))


_SELECT = "case_id, created, status, payload, decision, check_in"


def _context(device: str, case_id: str, column: str) -> bytes:
    return f"kiosk case v1|{device}|{case_id}|{column}".encode()


def open_column(keys: DataKeys, device: str, case_id: str, column: str, stored: str) -> str:
    """A sealed column's text, for the outbox and the close-of-polls export that reads the raw table.

    Locked before the unlock; SealRefused when the text was moved to another case or column, or tampered.
    "" and an earlier version's clear text come back as they are.
    """
    return keys.open_text(stored, _context(device, case_id, column))



def _decision_of(text: str) -> Decision | None:
    return decision_from_fields(json.loads(text)) if text else None


def _undo_of(text: str) -> UndoAuthorization | None:
    stored = json.loads(text) if text else {}
    return UndoAuthorization(stored["undo"], b64d(stored["undo_signature"])) if stored.get("undo") else None
