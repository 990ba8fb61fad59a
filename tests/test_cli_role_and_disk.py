"""The `kiosk` command as a technician types it: codes on stdin, the device's role, a full or read-only disk.

Every command runs as the real program in a subprocess; each refusal is one line on stderr with exit
code 1 (2 for bad usage), never a traceback, and leaves the ledger as it was. Past the first test the
code is given as an argument, the form every version took, so each test fails only for what it tests.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from disks import fill, read_only, small_disk
from helpers import PEOPLE, World
from kiosk.logbook import AUDIT_LOG, SECURITY_LOG
from kiosk.state import LEDGER

ELIGIBLE, BIRTHDAY = PEOPLE["eligible"].code, PEOPLE["birthday_today"].code
CONSOLE = "kiosk: this device is the representative's console; "
FULL = "the state disk is full; nothing was written; free space on it and run the command again"
READ_ONLY = ("the state disk is read-only (a worn SD card turns read-only); nothing was written; "
             "use another kiosk and have this one's storage replaced")


def kiosk(*args: object, code: str | None = None, module: str = "kiosk.cli",
          umask: int = -1) -> subprocess.CompletedProcess[str]:
    """Run the command; `code`, if given, is typed on its standard input."""
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], input=code and code + "\n",
                          capture_output=True, text=True, timeout=120, umask=umask,
                          env={k: v for k, v in os.environ.items() if k != "KIOSK_LOG_LEVEL"})


def refused(done: subprocess.CompletedProcess[str], line: str, exit_code: int = 1) -> None:
    """Exactly one line on stderr, this one, and the exit code; nothing on stdout."""
    assert (done.returncode, done.stderr, done.stdout) == (exit_code, line + "\n", ""), done.stderr


def verified(state: Path) -> dict[str, object]:
    done = kiosk("ledger", "verify", "--state", state)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    counts: dict[str, object] = json.loads(done.stdout)
    return counts


def checked_in(state: Path, code: str, umask: int = -1) -> int:
    done = kiosk("checkin", "--state", state, code, umask=umask)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    seq: int = json.loads(done.stdout)["recorded"]["seq"]
    return seq


def test_a_code_typed_on_standard_input_is_used_and_never_shows_in_the_command_line(world: World) -> None:
    state = world.installed().state
    process = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "checkin", "--state", str(state), "-"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # What `ps` shows while the command runs (once the interpreter has started: before, it is empty).
        deadline, shown = time.monotonic() + 60, ""
        while "kiosk.cli" not in shown and time.monotonic() < deadline:
            shown = Path(f"/proc/{process.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            time.sleep(0.01)
        out, err = process.communicate(ELIGIBLE + "\n", timeout=120)
    finally:
        process.kill()
        process.wait()
    assert ELIGIBLE not in shown and "checkin" in shown
    assert process.returncode == 0 and err == ""
    assert json.loads(out)["recorded"]["seq"] == 1
    # No code argument at all reads standard input too; the argument form still works.
    looked = kiosk("check", "--state", state, code=ELIGIBLE)
    assert looked.returncode == 0 and json.loads(looked.stdout)["verdict"] == "already_voted"
    assert json.loads(kiosk("check", "--state", state, BIRTHDAY).stdout)["verdict"] == "eligible"
    refused(kiosk("checkin", "--state", state, "-", code=""),
            "kiosk: no national code given: type it when asked, or pipe it in "
            "(echo CODE | kiosk check --state STATE -)", exit_code=2)
    assert verified(state)["events"] == 1


def test_a_console_refuses_every_kiosk_command_and_writes_no_ledger(world: World) -> None:
    kiosk_state = world.installed("kiosk1").state
    console = world.console("rep1").state
    refused(kiosk("checkin", "--state", console, ELIGIBLE),
            CONSOLE + "check-ins are recorded on kiosks")
    refused(kiosk("check", "--state", console, ELIGIBLE),
            CONSOLE + "voters are looked up on the kiosks, which hold the branch's check-ins")
    refused(kiosk("undo", "--state", console, "--seq", 1, "--reason", "wrong person"),
            CONSOLE + "a check-in is undone on the kiosk that recorded it")
    refused(kiosk("ledger", "verify", "--state", console),
            CONSOLE + "it keeps no ledger (its case book travels in its export)")
    refused(kiosk("app", "--state", console, "--simulate"), CONSOLE + "start it with kiosk-rep")
    assert not (console / LEDGER).exists()
    # And the other way round: the console's program on a kiosk.
    refused(kiosk("--state", kiosk_state, "--lan", "127.0.0.1", module="kiosk.rep.cli"),
            "kiosk-rep: this device is not enrolled as a representative's console (it is a kiosk: start it "
            "with kiosk app)")


def test_an_undo_with_a_number_no_ledger_can_hold_is_refused_in_one_line(world: World) -> None:
    state = world.installed().state
    checked_in(state, ELIGIBLE)
    refused(kiosk("undo", "--state", state, "--seq", "100000000000000000000000", "--reason", "wrong person"),
            "kiosk: undo refused: no such check-in (--seq is the number kiosk checkin printed)")
    for seq in ("0", "-1"):
        refused(kiosk("undo", "--state", state, "--seq", seq, "--reason", "wrong person"),
                "kiosk: --seq must be 1 or more: the check-in's number, as kiosk checkin printed it", exit_code=2)
    assert verified(state)["undos"] == 0


def test_on_a_full_state_disk_look_ups_work_and_a_check_in_writes_nothing(world: World, tmp_path: Path) -> None:
    original = world.installed().state
    checked_in(original, ELIGIBLE)
    with small_disk(tmp_path / "disk", 2048) as disk:
        state = disk / "state"
        shutil.copytree(original, state, symlinks=True)
        fill(disk)
        looked = kiosk("check", "--state", state, ELIGIBLE)
        assert looked.returncode == 0 and looked.stderr == ""
        assert json.loads(looked.stdout)["verdict"] == "already_voted"
        refused(kiosk("checkin", "--state", state, BIRTHDAY), f"kiosk: check-in not recorded: {FULL}")
        refused(kiosk("undo", "--state", state, "--seq", 1, "--reason", "wrong person"),
                f"kiosk: undo not recorded: {FULL}")
        assert verified(state)["events"] == 1
        status = kiosk("status", "--state", state, module="provisioning.device_cli")
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["ledger"]["own_by_kind"] == {"check_in": 1}
        for filler in disk.glob(".filler*"):
            filler.unlink()
        assert verified(state)["events"] == 1       # no half-written entry surfaced
        assert checked_in(state, BIRTHDAY) == 2
        assert verified(state)["check_ins"] == 2


def test_a_check_in_that_fills_the_disk_while_the_app_holds_the_ledger_writes_nothing(world: World,
                                                                                       tmp_path: Path) -> None:
    original = world.installed().state
    checked_in(original, ELIGIBLE)
    with small_disk(tmp_path / "disk", 2048) as disk:
        state = disk / "state"
        shutil.copytree(original, state, symlinks=True)
        # As the running app does: the ledger open in WAL mode, its -wal and -shm in place.
        holder = subprocess.Popen([sys.executable, "-c", "import sqlite3, sys\n"
                                   f"db = sqlite3.connect({str(state / LEDGER)!r})\n"
                                   "db.execute('SELECT count(*) FROM events').fetchone()\n"
                                   "print('open', flush=True)\nsys.stdin.read()"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout is not None and holder.stdout.readline() == "open\n"
            fill(disk)
            refused(kiosk("checkin", "--state", state, BIRTHDAY), f"kiosk: check-in not recorded: {FULL}")
            assert json.loads(kiosk("check", "--state", state, BIRTHDAY).stdout)["verdict"] == "eligible"
            assert verified(state)["events"] == 1
        finally:
            holder.kill()
            holder.wait()
        for filler in disk.glob(".filler*"):
            filler.unlink()
        assert verified(state)["events"] == 1
        assert checked_in(state, BIRTHDAY) == 2


def test_on_a_read_only_state_disk_look_ups_work_and_a_check_in_says_why_not(world: World) -> None:
    state = world.installed().state
    checked_in(state, ELIGIBLE)
    before = sorted(p.name for p in state.iterdir())
    with read_only(state):
        assert json.loads(kiosk("check", "--state", state, ELIGIBLE).stdout)["verdict"] == "already_voted"
        assert verified(state)["events"] == 1
        refused(kiosk("checkin", "--state", state, BIRTHDAY), f"kiosk: check-in not recorded: {READ_ONLY}")
        refused(kiosk("undo", "--state", state, "--seq", 1, "--reason", "wrong person"),
                f"kiosk: undo not recorded: {READ_ONLY}")
    assert sorted(p.name for p in state.iterdir()) == before
    assert verified(state)["events"] == 1


def test_the_ledger_and_the_audit_log_are_the_owners_alone_whatever_the_umask(world: World) -> None:
    state = world.installed().state
    checked_in(state, ELIGIBLE, umask=0o022)
    for name in (LEDGER, AUDIT_LOG, SECURITY_LOG):
        assert stat.S_IMODE((state / name).stat().st_mode) == 0o600, name
    # A ledger an older version left readable is closed to others at the next write.
    (state / LEDGER).chmod(0o644)
    checked_in(state, BIRTHDAY, umask=0o022)
    assert stat.S_IMODE((state / LEDGER).stat().st_mode) == 0o600
