"""`kiosk-provision wipe`: after the polls, remove keys, registry, ledger and cases so the next provisioning starts clean.

Only after an export of exactly the records the device holds now was written
and read back (provisioning.export), unless the technician forces it with a
reason; a forced wipe first tries a last export that carries the reason.
What survives is `retired.json`, the ids of the elections the device was
wiped after: a re-provisioned device refuses their packages (provisioning.device).
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from kiosk.logbook import Event, log, stop_audit_log
from kiosk.state import RETIRED, Installed, StateRefused, app_running, retired_elections
from kiosk.store.atomic import write_atomic
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


def wipe(state: Path, force_reason: str | None = None, out: Path | None = None) -> Wiped:
    """Wipe the device's state folder (the folder itself stays: systemd owns it)."""
    if not (state / "keys").exists() and not (state / "current").exists():
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
    _remove_everything(state, election)
    return Wiped(election, (force_reason or "").strip(), last, problem)


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


def _remove_everything(state: Path, election: str) -> None:
    """Overwrite the secrets, then remove everything but the list of retired elections."""
    retired = retired_elections(state)
    for secret in [*state.glob("keys/*"), *state.glob("packages/*/registry.key")]:
        _overwrite(secret)
    for path in state.iterdir():
        if path.name == RETIRED:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    if election and election not in retired:
        retired.append(election)
    write_atomic(state / RETIRED, json.dumps({"elections": retired}).encode())


def _overwrite(path: Path) -> None:
    """Zeros over a secret before it is unlinked: on an SD card this is best effort (wear levelling)."""
    try:
        size = path.stat().st_size
        with open(path, "r+b") as f:
            f.write(b"\0" * size)
            f.flush()
            os.fsync(f.fileno())
    except OSError:
        pass
