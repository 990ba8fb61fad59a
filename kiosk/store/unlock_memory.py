"""The day's unlock, remembered in memory only, so every process of one device shares it until a reboot.

The app, the console and the technician's commands each need the unlocked
keys; asking for the card or the recovery code in each would be absurd. The
other share is kept in a file under a RAM file system (the unit's
RuntimeDirectory /run/kiosk, or KIOSK_UNLOCK_DIR), never on the SD card: a
power cut or a reboot forgets it, and a copy of the storage does not hold it.
A folder that is not in memory is refused, and the unlock then lasts only for
the process that made it.
"""
from __future__ import annotations

import os
from pathlib import Path

from kiosk.logbook import Event, log
from kiosk.store.atomic import write_atomic

ENV = "KIOSK_UNLOCK_DIR"
DEFAULT = Path("/run/kiosk")
MEMORY_FILE_SYSTEMS = frozenset({"tmpfs", "ramfs"})


def folder() -> Path:
    """Where the day's unlock is remembered on this machine."""
    return Path(os.environ.get(ENV) or DEFAULT)


def in_memory(path: Path) -> bool:
    """Whether `path` lies on a RAM file system (by the longest mount point above it)."""
    target = os.path.realpath(path)
    best, kind = "", ""
    try:
        with open("/proc/self/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                fields = line.split()
                if len(fields) < 3:
                    continue
                point = fields[1].replace("\\040", " ")
                inside = target == point or target.startswith(point.rstrip("/") + "/")
                if inside and len(point) >= len(best):
                    best, kind = point, fields[2]
    except OSError:
        return False
    return kind in MEMORY_FILE_SYSTEMS


def _file(election_id: str, device_id: str) -> Path:
    return folder() / f"{election_id}.{device_id}.unlock"


def remember(election_id: str, device_id: str, share: bytes) -> bool:
    """Keep the other share for the other processes of this boot; False (and a log line) when not in memory."""
    where = folder()
    try:
        where.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not in_memory(where):
            log(Event.UNLOCK_NOT_REMEMBERED, reason="the unlock folder is not on a RAM file system")
            return False
        write_atomic(_file(election_id, device_id), share, mode=0o600)
    except OSError as exc:
        log(Event.UNLOCK_NOT_REMEMBERED, reason=exc.strerror or type(exc).__name__)
        return False
    return True


def recall(election_id: str, device_id: str) -> bytes | None:
    """The share remembered this boot, or None (never one from a folder that is not in memory)."""
    path = _file(election_id, device_id)
    try:
        if not in_memory(path.parent):
            return None
        return path.read_bytes()
    except OSError:
        return None


def forget(election_id: str, device_id: str) -> None:
    """Lock the device again for every process (the end of the day, a wipe)."""
    try:
        _file(election_id, device_id).unlink()
    except OSError:
        pass
