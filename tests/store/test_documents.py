"""TinyDB with atomic writes: a crash during a write leaves the previous document whole."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from kiosk.store.documents import open_documents


def test_documents_survive_reopen_with_persian_text(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    with open_documents(path) as db:
        db.insert({"branch": "دبستان فردوسی", "pin_tries": 0})
    with open_documents(path) as db:
        assert db.all() == [{"branch": "دبستان فردوسی", "pin_tries": 0}]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "staff.json"
    with open_documents(path) as db:
        db.insert({"name": "head", "role": "branch_head"})
    before = path.read_bytes()

    def power_cut(src: str, dst: str) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(os, "replace", power_cut)
    with open_documents(path) as db, pytest.raises(OSError, match="power cut"):
        db.insert({"name": "worker"})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["staff.json"]
    with open_documents(path) as db:
        assert db.all() == [{"name": "head", "role": "branch_head"}]


def test_every_write_leaves_a_complete_json_file(tmp_path: Path) -> None:
    path = tmp_path / "book.json"
    with open_documents(path) as db:
        for i in range(30):
            db.insert({"case": i})
            json.loads(path.read_text())  # never half-written
        assert len(db) == 30
