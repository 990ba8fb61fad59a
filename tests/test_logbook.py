"""Log lines: structured, from the one catalogue, and never carrying a national code or a name."""
from __future__ import annotations

import json
import logging

import pytest

from helpers import PEOPLE, World
from kiosk.cli import main as kiosk_main
from kiosk.core.outcome import CheckedIn
from kiosk.desk import Desk
from kiosk.logbook import Event, log, mask
from provisioning.device import InstallRefused, install


def test_a_day_of_provisioning_and_check_ins_logs_only_catalogued_events_without_personal_data(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kiosk")
    installed = world.installed()
    ledger = installed.open_ledger()
    desk = Desk(installed.open_registry(), ledger, installed.config.rules)
    assert isinstance(desk.check_in(PEOPLE["eligible"].code), CheckedIn)
    ledger.close()
    assert kiosk_main(["ledger", "verify", "--state", str(installed.state)]) == 0
    with pytest.raises(InstallRefused):
        install(installed.state, world.root / "no-such-package", world.root / "kiosk1.crt",
                world.authority.folder / "authority.crt")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "kiosk"]
    ids = {e.id for e in Event}
    seen = [line["event"] for line in lines]
    assert set(seen) <= ids
    for wanted in (Event.DEVICE_ENROLLED, Event.PACKAGE_BUILT, Event.INSTALLED, Event.CHECKED_IN,
                   Event.LEDGER_VERIFIED, Event.INSTALL_REFUSED):
        assert wanted.id in seen
    text = caplog.text
    for person in PEOPLE.values():
        assert person.code not in text and person.first not in text and person.last not in text


def test_text_that_looks_like_a_code_or_a_name_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kiosk")
    log(Event.INSTALL_REFUSED, reason=f"bad row for {PEOPLE['eligible'].code} علی رضایی")
    line = json.loads(caplog.records[-1].getMessage())
    assert PEOPLE["eligible"].code not in line["reason"] and "علی" not in line["reason"]
    assert line["reason"].startswith("bad row for *")
    assert mask("entry 12 of device ab12") == "entry 12 of device ab12"


def test_with_a_log_level_set_the_commands_write_structured_lines_to_stderr(world: World) -> None:
    import os
    import subprocess
    import sys
    installed = world.installed()
    env = {**os.environ, "KIOSK_LOG_LEVEL": "INFO"}
    done = subprocess.run([sys.executable, "-m", "kiosk.cli", "ledger", "verify", "--state", str(installed.state)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0
    assert json.loads(done.stderr.strip().splitlines()[-1])["event"] == Event.LEDGER_VERIFIED.id
    quiet = subprocess.run([sys.executable, "-m", "kiosk.cli", "ledger", "verify", "--state", str(installed.state)],
                           capture_output=True, text=True, env={k: v for k, v in env.items() if k != "KIOSK_LOG_LEVEL"},
                           timeout=60)
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_device_ids_and_fingerprints_stay_readable_but_a_code_beside_them_does_not() -> None:
    masked = mask("device 6d1d4e12345678e1 fp ab12345678901234cd checked 0012345679 and ۰۰۱۲۳۴۵۶۷۹")
    assert masked == "device 6d1d4e12345678e1 fp ab12345678901234cd checked * and *"
