"""`kiosk-provision status`: what a technician checks on a device, as one JSON object with no personal data."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from kiosk.core.jalali import TEHRAN, JalaliDate
from kiosk.state import LEDGER, Installed
from kiosk.store.ledger import connect_read_only, ledger_identity
from kiosk.store.registry import read_meta
from kiosk.trust import manifest
from provisioning.export import latest_export


def device_status(state: Path, now: dt.datetime | None = None) -> dict[str, Any]:
    """Identity, election, package, registry size, ledger and case counts, and the device's clock."""
    installed = Installed.open(state)
    now = now or dt.datetime.now(dt.timezone.utc)
    manifest_bytes = (installed.package_dir / manifest.MANIFEST).read_bytes()
    signed = json.loads(manifest_bytes)
    config, claims = installed.config, installed.claims
    today = JalaliDate.from_gregorian(now.astimezone(TEHRAN).date())
    return {
        "device": claims.device_id, "role": claims.role.value, "branches": list(claims.branches),
        "election": {"id": config.id, "day": str(config.day), "today_is_election_day": today == config.day},
        "package": {"manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(), "built": signed["created"],
                    "build": signed.get("build"),
                    "voters": int(read_meta(installed.package_dir / "registry.sqlite").get("voters", "0"))},
        "ledger": _ledger_counts(state / LEDGER, claims.device_id),
        "last_export": _last_export(state),
        "clock": {"utc": now.isoformat(timespec="seconds"), "tehran_jalali": str(today),
                  "tehran_time": now.astimezone(TEHRAN).strftime("%H:%M")},
    }


def _last_export(state: Path) -> dict[str, Any] | None:
    """The latest close-of-polls export (file, time, whether it read back), which `wipe` relies on."""
    record = latest_export(state)
    return None if record is None else {k: record.get(k) for k in ("file", "created", "verified", "own_events", "cases")}


def _ledger_counts(path: Path, device: str) -> dict[str, Any]:
    """Events by kind on this device, events held from other kiosks, cases by status (read-only)."""
    identity = ledger_identity(path)
    if identity is None:
        return {"events": 0}
    db = connect_read_only(path)  # works on a full or read-only state disk too
    try:
        own = dict(db.execute("SELECT kind, count(*) FROM events WHERE device = ? GROUP BY kind", (device,)))
        others = db.execute("SELECT count(DISTINCT device), count(*) FROM events WHERE device != ?",
                            (device,)).fetchone()
        try:
            cases = dict(db.execute("SELECT status, count(*) FROM cases GROUP BY status"))
        except sqlite3.OperationalError:
            cases = {}
    finally:
        db.close()
    return {"events": identity[1], "own_by_kind": own, "other_kiosks": others[0], "other_kiosks_events": others[1],
            "cases": cases}
