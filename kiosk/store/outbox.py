"""The kiosk's case outbox: cases for the representative, durable before the form closes.

It lives in the ledger's database (DESIGN: Outbox), in a table of its own, so a
later change can commit a case and a ledger entry in one transaction. Delivery
to the representative's console comes with the network; until then every case
stays WAITING.
"""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

from kiosk.core.cases import Case, CaseForm, CaseReason, CaseStatus
from kiosk.core.jalali import parse_jalali

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cases (
    case_id TEXT PRIMARY KEY, created TEXT NOT NULL, status TEXT NOT NULL, payload TEXT NOT NULL
) WITHOUT ROWID
"""


class CaseOutbox:
    """Raise and list this kiosk's cases."""

    def __init__(self, path: Path, device_id: str) -> None:
        self._prefix = device_id[:6].upper()
        self._db = sqlite3.connect(path, isolation_level=None, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(_SCHEMA)

    def close(self) -> None:
        """Close the database (every raised case is already durable)."""
        self._db.close()

    def raise_case(self, form: CaseForm) -> Case:
        """Write the case durably and return it with its id (kiosk prefix and a running number)."""
        created = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        payload = json.dumps({
            "first_name": form.first_name.strip(), "last_name": form.last_name.strip(),
            "father_name": form.father_name.strip(),
            "birth_date": str(form.birth_date) if form.birth_date else None,
            "birth_certificate": form.birth_certificate.strip(), "note": form.note.strip(),
            "reason": form.reason.value,
        }, ensure_ascii=False)
        self._db.execute("BEGIN IMMEDIATE")
        try:
            count = int(self._db.execute("SELECT count(*) FROM cases").fetchone()[0])
            case_id = f"E-{self._prefix}-{count + 1:04d}"
            self._db.execute("INSERT INTO cases VALUES (?, ?, ?, ?)",
                             (case_id, created, CaseStatus.WAITING.value, payload))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return Case(case_id, form, created, CaseStatus.WAITING)

    def cases(self) -> list[Case]:
        """Every case, oldest first."""
        rows = self._db.execute("SELECT case_id, created, status, payload FROM cases ORDER BY created, case_id")
        return [self._case(*row) for row in rows]

    @staticmethod
    def _case(case_id: str, created: str, status: str, payload: str) -> Case:
        data = json.loads(payload)
        form = CaseForm(data["first_name"], data["last_name"], data["father_name"],
                        parse_jalali(data["birth_date"]) if data["birth_date"] else None,
                        data["birth_certificate"], data["note"], CaseReason(data["reason"]))
        return Case(case_id, form, created, CaseStatus(status))
