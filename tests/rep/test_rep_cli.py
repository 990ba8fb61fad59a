"""`kiosk-rep` refuses a state folder that is not a provisioned console, with one line and exit code 1."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers import World
from kiosk.rep.cli import main


def test_a_kiosk_state_or_an_empty_folder_is_not_a_console(world: World, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    kiosk = world.installed("kiosk1")
    assert main(["--state", str(kiosk.state), "--lan", "127.0.0.1"]) == 1
    assert "not enrolled as a representative's console" in capsys.readouterr().err
    assert main(["--state", str(tmp_path / "nothing"), "--lan", "127.0.0.1"]) == 1
    assert "no election package is installed" in capsys.readouterr().err


def test_a_console_without_a_pin_refuses_to_open(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    console = world.console("rep1")
    assert main(["--state", str(console.state), "--lan", "127.0.0.1"]) == 1
    assert "no PIN is set" in capsys.readouterr().err
