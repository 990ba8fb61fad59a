"""The recovery codes, one sheet per branch, for the branch's sealed envelope.

Written into the authority's folder only (0600): a code with a copy of the
device's SD card opens it, so the sheet travels sealed, apart from the
devices, and is opened only when neither the head's card nor the console can
unlock a kiosk.
"""
from __future__ import annotations

from pathlib import Path

from kiosk.store.atomic import write_atomic
from kiosk.trust import certs
from kiosk.trust.daykeys import format_recovery_code
from provisioning.authority import Authority

SHEETS = "recovery-sheets"
_ROLE = {certs.Role.KIOSK: ("کیوسک", "kiosk"), certs.Role.REP: ("کنسول نماینده", "representative's console")}


def write_sheets(authority: Authority) -> list[Path]:
    """One sheet per branch listing the code of every device that serves it; returns the files written."""
    folder = authority.folder / SHEETS
    folder.mkdir(mode=0o700, exist_ok=True)
    names = {b.code: b.name for b in authority.config.branches}
    written, roster = [], authority.roster()
    for branch in sorted(names):
        devices = [d for d in roster if branch in d.branches and d.role in _ROLE]
        if not devices:
            continue
        lines = [f"{authority.config.name} — {authority.config.id}",
                 f"شعبه {branch} ({names[branch]}) — branch {branch}",
                 "رمز بازگشایی دستگاه‌ها، برای پاکت مهروموم‌شده شعبه. فقط وقتی به کار می‌رود که نه کارت رئیس شعبه و نه "
                 "کنسول نماینده دستگاه را باز کند.",
                 "Recovery codes for the branch's sealed envelope: only when neither the head's card nor the "
                 "representative's console can unlock a device.", ""]
        for device in devices:
            fa, en = _ROLE[device.role]
            code = format_recovery_code(authority.device_secrets(device.device_id).recovery_code)
            lines.append(f"{fa} / {en} {device.device_id[:8]}:  {code}")
        path = folder / f"{authority.config.id}-{branch}.txt"
        write_atomic(path, ("\n".join(lines) + "\n").encode("utf-8"), mode=0o600)
        written.append(path)
    return written
