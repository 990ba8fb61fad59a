"""TinyDB for small documents (settings, staff, roster, case book) with crash-safe writes.

TinyDB's own JSONStorage rewrites the file in place; a power cut mid-write
leaves a truncated file. This storage writes a temporary file, fsyncs it and
renames it over the old one.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.storages import Storage

from kiosk.store.atomic import write_atomic


class AtomicJSONStorage(Storage):
    """A TinyDB storage whose every write is atomic and durable."""

    def __init__(self, path: str | Path, mode: int = 0o600) -> None:
        self._path = Path(path)
        self._mode = mode

    def read(self) -> dict[str, dict[str, Any]] | None:
        """The whole document, or None for a file that does not exist yet."""
        try:
            raw = self._path.read_bytes()
        except FileNotFoundError:
            return None
        if not raw.strip():
            return None
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError(f"{self._path.name}: not a TinyDB document")
        return data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        """Replace the file with `data` atomically."""
        payload = json.dumps(data, ensure_ascii=False, sort_keys=True, indent=1).encode()
        write_atomic(self._path, payload, self._mode)

    def close(self) -> None:
        """Nothing is held open between writes."""


def open_documents(path: Path, mode: int = 0o600) -> TinyDB:
    """Open a TinyDB file with the project's atomic storage (the only way the project opens one)."""
    return TinyDB(path, storage=AtomicJSONStorage, mode=mode)
