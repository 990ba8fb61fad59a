"""The representative's case book: every case received and every decision, durable across restarts.

TinyDB with the project's atomic storage (write, fsync, rename), so a power cut
leaves the book as it was before or after a change, never half written. A case
is acknowledged to the kiosk only after it is in here; a decision is sent only
after it is in here.

Each case's form (names, birth date, certificate number, note) and decision
(with the approved national code) are sealed to the console's data key
(kiosk.trust.sealed), bound to the case: a copy of the console's storage shows
case ids, kiosks, times and statuses only. Cases an earlier version kept in
clear are sealed when an unlocked console opens the book.
"""
from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinydb import Query

from kiosk.core.cases import (CardEndorsement, CaseForm, CaseReason, Decision, UndoAuthorization, decision_fields,
                              decision_from_fields)
from kiosk.core.console import RepCase, RepCaseStatus
from kiosk.core.jalali import parse_jalali
from kiosk.store.documents import open_documents
from kiosk.trust.canonical import b64d, b64e
from kiosk.trust.sealed import DataKeys, is_sealed_text


@dataclass(frozen=True, slots=True)
class Received:
    """What became of an incoming case: new, or already in the book (a resend)."""

    new: bool


@dataclass(frozen=True, slots=True)
class Clash:
    """A case id already in the book for another kiosk; refused."""


@dataclass(frozen=True, slots=True)
class Signed:
    """A decision as the console signed it, with the undo authorization of an approved disputed case."""

    decision: Decision
    signature: bytes
    undo: UndoAuthorization | None = None
    card: CardEndorsement | None = None


class CaseBook:
    """Cases by id; thread-safe (the network threads and the screen share it)."""

    def __init__(self, path: Path, keys: DataKeys) -> None:
        self._db = open_documents(path)
        self._cases = self._db.table("cases")
        self._keys = keys
        self._lock = threading.Lock()
        if keys.unlocked:
            self._seal_clear_cases()
        # Every case as the screens list them, kept until the next write (this process is the book's only
        # writer): each kiosk's status makes the console re-read, and TinyDB parses the whole file per query.
        self._listed: list[RepCase] | None = None

    def close(self) -> None:
        """Nothing is pending: every change was written when it was made."""
        self._db.close()

    def receive(self, kiosk: str, branch: str, case_id: str, raised_at: str, form: CaseForm) -> Received | Clash:
        """Keep a case from a kiosk, once; a resend of a known case changes nothing."""
        with self._lock:
            found = self._cases.get(Query().case_id == case_id)
            if isinstance(found, dict):
                return Received(False) if found["kiosk"] == kiosk else Clash()
            self._cases.insert({
                "case_id": case_id, "kiosk": kiosk, "branch": branch, "raised_at": raised_at,
                "received_at": _now(), "status": RepCaseStatus.OPEN.value,
                "form": self._seal(case_id, "form", _form_fields(form)),
                "decision": None, "signature": "", "delivered": False,
            })
            self._listed = None
            return Received(True)

    def decide(self, case_id: str, decision: Decision, signature: bytes,
               undo: UndoAuthorization | None = None, card: CardEndorsement | None = None) -> RepCase | None:
        """Keep a signed decision on an open case; None if the case is not open (decided or withdrawn)."""
        with self._lock:
            doc = Query().case_id == case_id
            found = self._cases.get(doc)
            if not isinstance(found, dict) or found["status"] != RepCaseStatus.OPEN.value:
                return None
            self._cases.update({"status": RepCaseStatus.DECIDED.value,
                                "decision": self._seal(case_id, "decision", {**decision_fields(decision),
                                                                             **_card_fields(card)}),
                                "signature": b64e(signature), "undo": undo.target if undo else "",
                                "undo_signature": b64e(undo.signature) if undo else ""}, doc)
            self._listed = None
            return self._case_unlocked(case_id)

    def mark_delivered(self, kiosk: str, case_id: str) -> bool:
        """The kiosk recorded the decision; False if no such decided case of that kiosk."""
        with self._lock:
            doc = (Query().case_id == case_id) & (Query().kiosk == kiosk) & \
                (Query().status == RepCaseStatus.DECIDED.value) & (Query().delivered == False)  # noqa: E712
            if not self._cases.contains(doc):
                return False  # TinyDB rewrites the whole file on every update, even one that matches nothing
            self._listed = None
            return bool(self._cases.update({"delivered": True}, doc))

    def withdraw(self, kiosk: str, case_id: str) -> RepCaseStatus | None:
        """The kiosk withdrew the case: an open one closes; the status it ends in, or None if unknown."""
        with self._lock:
            doc = (Query().case_id == case_id) & (Query().kiosk == kiosk)
            found = self._cases.get(doc)
            if not isinstance(found, dict):
                return None
            if found["status"] == RepCaseStatus.OPEN.value:
                self._cases.update({"status": RepCaseStatus.CANCELLED.value}, doc)
                self._listed = None
                return RepCaseStatus.CANCELLED
            return RepCaseStatus(found["status"])

    def undelivered(self, kiosk: str) -> list[Signed]:
        """Decisions for a kiosk that it has not acknowledged yet, to send when it connects."""
        with self._lock:
            docs = self._cases.search((Query().kiosk == kiosk) & (Query().status == RepCaseStatus.DECIDED.value)
                                      & (Query().delivered == False))  # noqa: E712 (TinyDB query syntax)
            return [self._signed(d) for d in docs]

    def signed(self, case_id: str) -> Signed | None:
        """A decided case's decision and signatures (to send again)."""
        with self._lock:
            found = self._cases.get(Query().case_id == case_id)
            if not isinstance(found, dict) or not found["decision"]:
                return None
            return self._signed(found)

    def case(self, case_id: str) -> RepCase | None:
        """One case by id."""
        with self._lock:
            return self._case_unlocked(case_id)

    def all_cases(self) -> list[RepCase]:
        """Every case, in the order received."""
        with self._lock:
            if self._listed is None:
                self._listed = sorted((self._rep_case(d) for d in self._cases.all()),
                                      key=lambda c: (c.received_at, c.case_id))
            return list(self._listed)

    def _case_unlocked(self, case_id: str) -> RepCase | None:
        found = self._cases.get(Query().case_id == case_id)
        return self._rep_case(found) if isinstance(found, dict) else None

    # -- sealing -----------------------------------------------------------------------------------------------

    @staticmethod
    def _context(case_id: str, field: str) -> bytes:
        return f"kiosk rep case v1|{case_id}|{field}".encode()

    def _seal(self, case_id: str, field: str, value: dict[str, str]) -> str:
        return self._keys.seal_text(json.dumps(value, ensure_ascii=False), self._context(case_id, field))

    def _open(self, case_id: str, field: str, stored: Any) -> Any:
        """A field's value: opened if sealed (Locked before the unlock), as stored if an earlier version's."""
        if is_sealed_text(stored):
            return json.loads(self._keys.open_text(stored, self._context(case_id, field)))
        return stored

    def _seal_clear_cases(self) -> None:
        for d in self._cases.all():
            changes = {field: self._seal(d["case_id"], field, d[field]) for field in ("form", "decision")
                       if isinstance(d.get(field), dict)}
            if changes:
                self._cases.update(changes, Query().case_id == d["case_id"])

    def _signed(self, d: dict[str, Any]) -> Signed:
        undo = UndoAuthorization(d["undo"], b64d(d["undo_signature"])) if d.get("undo") else None
        fields = self._open(d["case_id"], "decision", d["decision"])
        card = CardEndorsement(b64d(fields["card_certificate"]), b64d(fields["card_signature"])) \
            if fields.get("card_certificate") else None
        return Signed(decision_from_fields(fields), b64d(d["signature"]), undo, card)

    def _rep_case(self, d: dict[str, Any]) -> RepCase:
        f = self._open(d["case_id"], "form", d["form"])
        form = CaseForm(f["first_name"], f["last_name"], f["father_name"],
                        parse_jalali(f["birth_date"]) if f["birth_date"] else None,
                        f["birth_certificate"], f["note"], CaseReason(f["reason"]), f.get("disputed", ""))
        stored = self._open(d["case_id"], "decision", d["decision"]) if d["decision"] else None
        decision = decision_from_fields(stored) if stored else None
        return RepCase(d["case_id"], d["kiosk"], d["branch"], form, d["raised_at"], d["received_at"],
                       RepCaseStatus(d["status"]), decision, bool(d["delivered"]))


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def _card_fields(card: CardEndorsement | None) -> dict[str, str]:
    if card is None:
        return {}
    return {"card_certificate": b64e(card.certificate), "card_signature": b64e(card.signature)}


def _form_fields(form: CaseForm) -> dict[str, str]:
    return {"first_name": form.first_name, "last_name": form.last_name, "father_name": form.father_name,
            "birth_date": str(form.birth_date) if form.birth_date else "",
            "birth_certificate": form.birth_certificate, "note": form.note, "reason": form.reason.value,
            "disputed": form.disputed}
