"""Log lines: structured, from the one catalogue, and never carrying a national code or a name."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from helpers import PEOPLE, World
from kiosk.cli import main as kiosk_main
from kiosk.core.outcome import CheckedIn
from kiosk.desk import Desk
from kiosk.logbook import SECURITY_LOG, Event, Tally, audit_lines, keep_audit_log, log, mask, stop_audit_log
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


# --- tallies and the security record ----------------------------------------------------------------

class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def refusal_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "kiosk"]
    return [line for line in lines if line["event"] == Event.PEER_REFUSED.id]


def test_a_tally_logs_the_first_at_once_then_one_line_per_address_reason_and_interval(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kiosk")
    clock = Clock()
    tally = Tally(Event.PEER_REFUSED, ("address", "reason"), interval=10, clock=clock)

    def refuse(address: str, port: int, reason: str = "timed out") -> None:
        tally.add((address, reason), reason=reason, address=f"{address}:{port}")

    for n in range(500):
        refuse("10.0.0.5", n)
    refuse("10.0.0.5", 500, "peer is revoked")   # a new reason is news: logged at once too
    refuse("10.0.0.6", 1)
    assert [(e["address"], e["reason"]) for e in refusal_lines(caplog)] == [
        ("10.0.0.5:0", "timed out"), ("10.0.0.5:500", "peer is revoked"), ("10.0.0.6:1", "timed out")]
    clock.now += 5
    assert tally.flush() == 5          # nothing due yet: the next line falls due in 5 s
    clock.now += 5
    tally.flush()
    tallied = refusal_lines(caplog)[3:]
    assert tallied == [{"event": "N100", "msg": Event.PEER_REFUSED.value[2], "reason": "timed out",
                        "address": "10.0.0.5", "count": 499, "interval_s": 10}]   # the others were quiet
    refuse("10.0.0.5", 600)            # still flooding: counted
    refuse("10.0.0.6", 2)              # a quiet interval passed: at once
    assert refusal_lines(caplog)[-1]["address"] == "10.0.0.6:2"
    tally.flush(everything=True)       # the owner stops: nothing counted is lost
    assert refusal_lines(caplog)[-1] == {**tallied[0], "count": 1}
    assert tally.flush() is None


def test_a_tally_of_many_addresses_keeps_a_bounded_table(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kiosk")
    tally = Tally(Event.PEER_REFUSED, ("address", "reason"), interval=10, clock=Clock(), max_keys=4)
    for n in range(100):
        tally.add((f"10.0.1.{n}", "timed out"), reason="timed out", address=f"10.0.1.{n}:1")
    tally.flush(everything=True)
    lines = refusal_lines(caplog)
    assert len(lines) == 6             # four addresses, the first of the rest, and one tally for the rest
    assert lines[-1]["address"] == "others" and lines[-1]["count"] == 95 and lines[-1]["reason"] == "timed out"


def stamped(state: Path) -> list[dict[str, object]]:
    return [json.loads(line.split(" ", 2)[2]) for line in audit_lines(state)]


def test_warnings_are_kept_apart_from_rotation_and_audit_lines_returns_everything_in_order(tmp_path: Path) -> None:
    keep_audit_log(tmp_path, rotate_bytes=2048, kept=1)
    log(Event.PEER_REFUSED, reason="peer is for another election", address="10.0.0.7:1")
    time.sleep(0.002)                  # lines are stamped to the millisecond: order across files needs one between
    for n in range(200):               # about 20 KiB of ordinary lines through a 2 KiB rotation
        log(Event.PEER_CONNECTED, peer=f"{n:016x}", role="kiosk", address="10.0.0.8:1")
    time.sleep(0.002)
    log(Event.LEDGER_CORRUPT, reason="chain broken")
    stop_audit_log()
    kept = stamped(tmp_path)
    assert kept[0]["reason"] == "peer is for another election" and kept[-1]["event"] == Event.LEDGER_CORRUPT.id
    connected = [int(str(e["peer"]), 16) for e in kept if e["event"] == Event.PEER_CONNECTED.id]
    assert connected == sorted(connected) and connected[-1] == 199 and len(connected) < 200   # rotated, in order
    assert (tmp_path / SECURITY_LOG).read_text().count("\n") == 2


def test_a_full_security_log_keeps_its_oldest_lines_and_says_where_the_rest_went(tmp_path: Path) -> None:
    keep_audit_log(tmp_path, rotate_bytes=1 << 20, security_bytes=1024)
    for n in range(50):
        log(Event.PEER_REFUSED, reason=f"refusal {n}", address="10.0.0.9:1")
    stop_audit_log()
    security = [json.loads(line.split(" ", 2)[2]) for line in (tmp_path / SECURITY_LOG).read_text().splitlines()]
    assert security[0]["reason"] == "refusal 0" and security[-1]["event"] == Event.SECURITY_LOG_FULL.id
    assert [e["reason"] for e in stamped(tmp_path) if e["event"] == Event.PEER_REFUSED.id] == [
        f"refusal {n}" for n in range(50)]     # the later ones went to the rotating file: none is lost
    keep_audit_log(tmp_path, security_bytes=1024)   # a restart finds it full and writes no second marker
    log(Event.PEER_REFUSED, reason="after restart", address="10.0.0.9:1")
    stop_audit_log()
    assert (tmp_path / SECURITY_LOG).read_text().count(Event.SECURITY_LOG_FULL.id) == 1
    assert stamped(tmp_path)[-1]["reason"] == "after restart"
