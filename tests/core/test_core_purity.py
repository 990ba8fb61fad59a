"""The core runs without a screen, hardware, network or database: importing it must pull none in."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = ("kivy", "smartcard", "serial", "zeroconf", "socket", "_socket", "sqlite3", "_sqlite3", "tinydb")
EXPECTED_CORE = {"kiosk.core.national_code", "kiosk.core.jalali", "kiosk.core.voter", "kiosk.core.eligibility"}

_IMPORT_ALL = """
import importlib, json, pkgutil, sys
import kiosk.core
core = sorted(m.name for m in pkgutil.walk_packages(kiosk.core.__path__, "kiosk.core."))
for name in core:
    importlib.import_module(name)
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps({"core": core, "modules": sorted(sys.modules)}))
"""


def imported_by_core(*extra: str) -> tuple[list[str], list[str]]:
    """(core modules found, every module loaded) in a fresh interpreter, so this test process can't mask it."""
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL, *extra],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=True,
    )
    result = json.loads(done.stdout)
    return result["core"], result["modules"]


def forbidden_in(modules: list[str]) -> list[str]:
    return [m for m in modules if m.split(".")[0] in FORBIDDEN]


def test_core_imports_no_ui_hardware_network_or_database() -> None:
    core, modules = imported_by_core()
    assert EXPECTED_CORE <= set(core)
    assert EXPECTED_CORE <= set(modules)
    assert forbidden_in(modules) == []


def test_the_check_would_notice_a_forbidden_import() -> None:
    _, modules = imported_by_core("socket")
    assert "socket" in forbidden_in(modules)
