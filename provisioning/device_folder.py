"""What a device's state folder is: the marker naming its device, and the names the device writes there.

`kiosk-provision init` and `wipe` are the two commands that could destroy
what is not theirs: init by writing device keys into another folder (the
election authority's, above all), wipe by removing it afterwards. Both ask
this module first: init takes only an empty folder or a device's own, wipe
only a folder that carries the marker, and removes only the names below.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import stat
from pathlib import Path
from typing import Any

from kiosk.logbook import AUDIT_LOG, SECURITY_LOG
from kiosk.rep.service import CASE_BOOK
from kiosk.state import APP_LOCK, CURRENT, EXPORTS, KEYS, LEDGER, PACKAGES, REQUEST, RETIRED, STAFF
from kiosk.store.atomic import write_atomic
from kiosk.trust import revocation
from kiosk.trust.roster import ROSTER_DIR
from provisioning import authority

MARKER = "kiosk-device.json"   # in STATE: which device this folder belongs to (written by init)
BUILDS = "build.json"          # in STATE: the newest package build installed, with its election and authority
UNENROLLED = "not enrolled yet"   # the marker's role until a package is installed
_FORMAT = "kiosk device state"

# Every top-level name a device writes in its state folder (kiosk.state lists them); nothing else is the device's.
WRITTEN = frozenset({
    MARKER, KEYS, REQUEST, CURRENT, f".{CURRENT}.new", PACKAGES, LEDGER, STAFF, AUDIT_LOG, SECURITY_LOG, EXPORTS,
    RETIRED, ROSTER_DIR, revocation.FILE, ".revocations.lock", APP_LOCK, BUILDS, CASE_BOOK,
})
# The authority's folder, told by files no device ever holds at the top of its state.
AUTHORITY_FILES = (authority.KEY, authority.EXPORT_KEY, authority.ROSTER, authority.INDEX_SECRET, authority.CERT,
                   authority.BUILDS, "registry-keys")


class NotADeviceFolder(Exception):
    """A folder init or wipe must not touch, with a one-line reason."""


def ignored(name: str) -> bool:
    """An entry that is neither the device's nor anyone's files: a state folder on its own partition has one."""
    return name == "lost+found"


def device_wrote(name: str) -> bool:
    """Whether a top-level entry of a state folder is one the device writes (so wipe may remove it)."""
    if name in WRITTEN:
        return True
    if name in (f"{LEDGER}-wal", f"{LEDGER}-shm", f"{LEDGER}-journal"):
        return True
    if name.startswith(f"{AUDIT_LOG}.") and name[len(AUDIT_LOG) + 1:].isdigit():
        return True   # the rotated audit logs
    if name.startswith(".selftest-"):
        return True   # the self-test's storage probe, left by a kill
    # A temporary file of kiosk.store.atomic (".NAME.xxxx.tmp"), left by a power cut mid-write.
    return name.startswith(".") and name.endswith(".tmp") and any(name.startswith(f".{known}.") for known in WRITTEN)


def read_marker(state: Path) -> dict[str, Any] | None:
    """The marker's content when `state` carries a valid one (a regular file, never a link), else None."""
    try:
        fd = os.open(state / MARKER, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = json.loads(f.read(4096))
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)
    if not isinstance(data, dict) or data.get("format") != _FORMAT or not isinstance(data.get("device"), str):
        return None
    return data


def write_marker(state: Path, device_id: str, role: str = UNENROLLED) -> None:
    """Name the device whose state this folder is (init writes it; install adds the role it was enrolled as)."""
    created = (read_marker(state) or {}).get("created") or dt.datetime.now(dt.timezone.utc).isoformat(
        timespec="seconds")
    write_atomic(state / MARKER, json.dumps({"format": _FORMAT, "device": device_id, "role": role,
                                             "created": created}).encode(), mode=0o600)


def is_device_folder(state: Path) -> bool:
    """Whether `state` carries a device marker and is not the authority's folder (where a device's log may go)."""
    return read_marker(state) is not None and authority_file(state) is None


def authority_file(folder: Path) -> str | None:
    """The first file that shows `folder` is an election authority's folder, or None."""
    return next((name for name in AUTHORITY_FILES if os.path.lexists(folder / name)), None)


def check_fresh(state: Path) -> None:
    """Refuse a folder init must not write into: anything but a missing or empty one, or a device's own state."""
    if not os.path.lexists(state):
        return
    if not state.is_dir():
        raise NotADeviceFolder(f"{state} is not a folder; give init the device's state folder "
                               "(an empty folder, e.g. /var/lib/kiosk)")
    found = authority_file(state)
    if found is not None:
        raise NotADeviceFolder(f"{state} is the election authority's folder (it holds {found}); "
                               "a device needs a state folder of its own: nothing was written")
    if read_marker(state) is not None:
        return
    others = sorted(name for name in os.listdir(state) if not device_wrote(name) and not ignored(name))
    if others:
        raise NotADeviceFolder(f"{state} is not empty and is not a device's state folder (it holds "
                               f"{_some(others)}); give init an empty folder: nothing was written")


def check_device(state: Path) -> dict[str, Any]:
    """The marker of a folder wipe may work in; refuses the authority's folder and any folder without a marker."""
    if not state.is_dir():
        raise NotADeviceFolder(f"{state} holds no device (nothing to wipe)")
    found = authority_file(state)
    if found is not None:
        raise NotADeviceFolder(f"{state} is the election authority's folder (it holds {found}), not a device's: "
                               "nothing was deleted")
    marker = read_marker(state)
    if marker is None:
        if os.path.lexists(state / KEYS) or os.path.lexists(state / CURRENT):
            raise NotADeviceFolder(f"{state} carries no device marker ({MARKER}), so it is not known as a "
                                   "device's state folder: nothing was deleted")
        raise NotADeviceFolder(f"{state} holds no device (nothing to wipe)")
    return marker


def _some(names: list[str]) -> str:
    shown = ", ".join(names[:3])
    return shown if len(names) <= 3 else f"{shown} and {len(names) - 3} more"
