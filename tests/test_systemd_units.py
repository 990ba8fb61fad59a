"""The appliance's systemd files: valid units that start the project's own entry points; user and folders."""
from __future__ import annotations

import configparser
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
UNITS = sorted((REPO / "systemd").glob("*.service"))
INSTALLED_BIN = "/opt/polling-kiosk/venv/bin/"


def entry_points() -> set[str]:
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    return {line.split("=")[0].strip() for line in cfg["options.entry_points"]["console_scripts"].splitlines()
            if line.strip()}


def exec_start(unit: Path) -> str:
    [line] = [line for line in unit.read_text().splitlines() if line.startswith("ExecStart=")]
    return line.removeprefix("ExecStart=")


def need(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (./dev test installs systemd when run as root)")


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_each_unit_starts_an_entry_point_of_the_project_with_a_watchdog(unit: Path) -> None:
    command = exec_start(unit).split()
    assert command[0].startswith(INSTALLED_BIN) and command[0].removeprefix(INSTALLED_BIN) in entry_points()
    text = unit.read_text()
    for setting in ("Type=notify", "WatchdogSec=", "Restart=always", "User=kiosk", "ProtectSystem=strict",
                    "NoNewPrivileges=yes", "PrivateTmp=yes", "StateDirectory="):
        assert setting in text, setting


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_systemd_analyze_verifies_each_unit(unit: Path, tmp_path: Path) -> None:
    need("systemd-analyze")
    # The unit as installed, its ExecStart pointed at this checkout's virtualenv (where the entry points are).
    copy = tmp_path / unit.name
    copy.write_text(unit.read_text().replace(INSTALLED_BIN, str(Path(sys.executable).parent) + "/"))
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", str(copy)], capture_output=True, text=True,
                          timeout=60)
    problems = [line for line in done.stderr.splitlines() if unit.name in line or "Unknown" in line]
    assert done.returncode == 0 and not problems, done.stderr


def test_sysusers_and_tmpfiles_make_the_user_and_private_state_folders(tmp_path: Path) -> None:
    need("systemd-sysusers")
    need("systemd-tmpfiles")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    subprocess.run(["systemd-sysusers", f"--root={root}", str(REPO / "systemd" / "kiosk.sysusers")], check=True,
                   capture_output=True, timeout=60)
    passwd = (root / "etc" / "passwd").read_text()
    assert any(line.startswith("kiosk:") for line in passwd.splitlines())
    groups = {line.split(":")[0]: line.split(":")[3] for line in (root / "etc" / "group").read_text().splitlines()}
    assert all("kiosk" in groups[g].split(",") for g in ("video", "render", "input", "dialout", "audio"))
    subprocess.run(["systemd-tmpfiles", "--create", f"--root={root}", str(REPO / "systemd" / "kiosk.tmpfiles")],
                   check=True, capture_output=True, timeout=60)
    for folder in ("var/lib/kiosk", "var/lib/kiosk-rep"):
        mode = stat.S_IMODE(os.stat(root / folder).st_mode)
        assert mode == 0o700, (folder, oct(mode))
