"""`kiosk-provision wipe`: after the polls, remove keys, registry, ledger and cases so the next provisioning starts clean.

Only after an export of exactly the records the device holds now was written
and read back (provisioning.export), unless the technician forces it with a
reason; a forced wipe first tries a last export that carries the reason.
What survives is `retired.json`, the ids of the elections the device was
wiped after: a re-provisioned device refuses their packages (provisioning.device).

Only a folder carrying the device marker is wiped (never the election
authority's), only the names a device writes are removed (anything else is
left and named), and a link is removed as a link: nothing outside the folder
is ever followed, overwritten or deleted.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from kiosk.logbook import Event, log, stop_audit_log
from kiosk.state import RETIRED, Installed, StateRefused, app_running, retired_elections
from kiosk.store.atomic import write_atomic
from provisioning.device_folder import MARKER, NotADeviceFolder, check_device, device_wrote, ignored
from provisioning.export import ExportRefused, current_fingerprint, export, latest_export


class WipeRefused(Exception):
    """Wiping now would lose records nobody has exported, with a one-line reason."""


@dataclass(frozen=True, slots=True)
class Wiped:
    """What a wipe did."""

    election: str
    forced_reason: str
    last_export: str      # the bundle a forced wipe managed to write, or ""
    export_problem: str   # why a forced wipe's last export failed, or ""
    left: tuple[str, ...] = ()   # entries of the folder the device did not write, left where they were


def wipe(state: Path, force_reason: str | None = None, out: Path | None = None) -> Wiped:
    """Wipe the device's state folder (the folder itself stays: systemd owns it)."""
    try:
        check_device(state)
    except NotADeviceFolder as exc:
        raise WipeRefused(str(exc)) from exc
    if not os.path.lexists(state / "keys") and not os.path.lexists(state / "current"):
        raise WipeRefused(f"{state} holds no device (nothing to wipe)")
    if app_running(state):
        raise WipeRefused("the app is running on this device: stop it first (systemctl disable --now kiosk)")
    try:
        installed: Installed | None = Installed.open(state)
    except StateRefused:
        installed = None
    election = installed.config.id if installed else ""
    last, problem = "", ""
    if force_reason is None:
        _check_exported(state, installed)
    else:
        if not force_reason.strip():
            raise WipeRefused("--force needs --reason: why this device is wiped without a verified export")
        if out is not None:
            try:
                last = str(export(state, out, wipe_reason=force_reason.strip()).path)
            except (ExportRefused, StateRefused) as exc:
                problem = str(exc)
        log(Event.WIPE_FORCED, reason=force_reason.strip(), election=election, exported=bool(last))
    if force_reason is None:
        log(Event.WIPED, election=election)
    stop_audit_log()
    left = _remove_device_files(state, election)
    return Wiped(election, (force_reason or "").strip(), last, problem, left)


def _check_exported(state: Path, installed: Installed | None) -> None:
    if installed is None:
        raise WipeRefused("the device's package cannot be read, so its records cannot be compared with an export; "
                          "use --force --reason")
    record = latest_export(state)
    if record is None:
        _refuse("no export was made on this device: run kiosk-provision export --out <usb folder> first")
    elif not record.get("verified"):
        _refuse("the last export was not verified: export again")
    elif current_fingerprint(installed) != record.get("fingerprint"):
        _refuse(f"the device recorded more after the export of {record.get('created')}: export again")


def _refuse(reason: str) -> None:
    log(Event.WIPE_REFUSED, reason=reason)
    raise WipeRefused(reason)


def _remove_device_files(state: Path, election: str) -> tuple[str, ...]:
    """Overwrite the secrets, then remove what the device wrote but the list of retired elections; the marker last.

    The marker goes last so that a wipe cut short is still a device's folder, and can be run again.
    Returns the names left because the device did not write them.
    """
    retired = retired_elections(state)
    for secret in _secrets(state):
        _overwrite(secret)
    left = []
    for path in sorted(state.iterdir()):
        if path.name in (RETIRED, MARKER) or ignored(path.name):
            continue
        if not device_wrote(path.name):
            left.append(path.name)
        elif path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)   # removes links inside as links, never what they point at
        else:
            path.unlink()
    if election and election not in retired:
        retired.append(election)
    write_atomic(state / RETIRED, json.dumps({"elections": retired}).encode())
    (state / MARKER).unlink(missing_ok=True)
    return tuple(left)


def _secrets(state: Path) -> list[Path]:
    """The device's private keys and registry keys, inside the folder only (no link followed)."""
    found = []
    keys, packages = state / "keys", state / "packages"
    if keys.is_dir() and not keys.is_symlink():
        found += sorted(keys.iterdir())
    if packages.is_dir() and not packages.is_symlink():
        found += [p / "registry.key" for p in sorted(packages.iterdir()) if p.is_dir() and not p.is_symlink()]
    return found


def _overwrite(path: Path) -> None:
    """Zeros over a secret before it is unlinked: on an SD card this is best effort (wear levelling).

    Never through a link: a link in the folder may point at anything on the machine.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return   # missing, or a link
    try:
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode):
            os.write(fd, b"\0" * info.st_size)
            os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
