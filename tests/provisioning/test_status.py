"""`kiosk-provision status`: a technician's look at a device, with no personal data in it."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from helpers import PEOPLE, World
from kiosk.desk import Desk
from provisioning.device_cli import main
from provisioning.export import export
from provisioning.status import device_status


def test_status_names_the_device_election_package_and_counts(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    installed = world.installed()
    ledger, registry = installed.open_ledger(), installed.open_registry()
    Desk(registry, ledger, installed.config.rules).check_in(PEOPLE["eligible"].code)
    ledger.close()
    registry.close()
    election_morning = dt.datetime(2026, 5, 22, 4, 0, tzinfo=dt.timezone.utc)  # 1405/03/01, 07:30 in Tehran
    status = device_status(installed.state, election_morning)
    assert (status["device"], status["role"], status["branches"]) == (installed.claims.device_id, "kiosk", ["1001"])
    assert status["election"] == {"id": "test-1405", "day": "1405/03/01", "today_is_election_day": True}
    assert status["package"]["voters"] == len(PEOPLE) and len(status["package"]["manifest_sha256"]) == 64
    assert status["package"]["build"] == 1          # the first package this authority built
    assert status["ledger"]["own_by_kind"] == {"check_in": 1} and status["ledger"]["other_kiosks"] == 0
    assert status["clock"]["tehran_time"] == "07:30"
    assert status["last_export"] is None
    export(installed.state, installed.state.parent / "usb")
    assert device_status(installed.state)["last_export"]["verified"] is True
    assert main(["status", "--state", str(installed.state)]) == 0
    printed = capsys.readouterr().out
    assert json.loads(printed)["device"] == installed.claims.device_id
    for person in PEOPLE.values():  # nothing personal: no code, no name
        assert person.code not in printed and person.first not in printed


def test_status_of_a_device_without_a_package_is_a_one_line_refusal(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--state", str(tmp_path / "nothing")]) == 1
    assert "no election package is installed" in capsys.readouterr().err
