"""`kiosk-provision init` writes device keys only into an empty folder or the device's own state folder.

Keys written into the election authority's folder (a technician who typed
`--state AUTH`) made the next `wipe` delete the authority's keys, roster and
reports. Each case runs the real command and checks the exit code, the one
line shown, and that the folder is exactly as it was.
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from disks import read_only
from helpers import World
from kiosk.state import load_signing_key
from kiosk.trust import certs

TOOL = str(Path(sys.executable).parent / "kiosk-provision")


def provision(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TOOL, *map(str, args)], capture_output=True, text=True, timeout=120)


def refused(*args: object) -> str:
    """Run a command that must be refused: exit 1, one line on stderr, no traceback; that line."""
    done = provision(*args)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    return done.stderr.rstrip("\n")


def contents(folder: Path) -> dict[str, str]:
    """Every entry under `folder`, with each file's hash: what a refusal must leave exactly as it was."""
    found = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        found[rel] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def test_init_refuses_the_authoritys_folder_and_writes_nothing_into_it(world: World) -> None:
    world.device("k1")                                # the authority's folder as it is on the day: a roster,
    world.package()                                   # a package built, a collection report kept
    (world.authority.reports_dir() / "collect-20260522T200000.json").write_text("{}")
    folder = world.authority.folder
    before = contents(folder)
    assert {"authority.key", "export.key", "roster.json", "reports"} <= set(before)

    line = refused("init", "--state", folder)

    assert line == (f"kiosk-provision: refused: {folder} is the election authority's folder (it holds "
                    "authority.key); a device needs a state folder of its own: nothing was written")
    assert contents(folder) == before                  # no keys/, no device.csr, not even an audit log


def test_init_refuses_a_folder_of_other_files(tmp_path: Path) -> None:
    folder = tmp_path / "documents"
    (folder / "photos").mkdir(parents=True)
    (folder / "notes.txt").write_text("not the device's")
    before = contents(folder)

    line = refused("init", "--state", folder)

    assert line == (f"kiosk-provision: refused: {folder} is not empty and is not a device's state folder "
                    "(it holds notes.txt, photos); give init an empty folder: nothing was written")
    assert contents(folder) == before


def test_init_refuses_a_path_that_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "state.txt"
    path.write_text("a file")
    assert refused("init", "--state", path) == (
        f"kiosk-provision: refused: {path} is not a folder; give init the device's state folder "
        "(an empty folder, e.g. /var/lib/kiosk)")
    assert path.read_text() == "a file"


@pytest.mark.parametrize("made", ["missing", "empty"])
def test_init_names_the_device_in_its_marker(tmp_path: Path, made: str) -> None:
    state = tmp_path / "STATE"
    if made == "empty":
        state.mkdir()
    done = provision("init", "--state", state)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    device_id = certs.device_id_for(load_signing_key(state).public_key())
    assert done.stdout == f"device {device_id} initialised; enrollment request: {state / 'device.csr'}\n"
    marker = state / "kiosk-device.json"
    assert json.loads(marker.read_text("utf-8"))["device"] == device_id
    assert stat.S_IMODE(marker.stat().st_mode) == 0o600


def test_init_again_on_a_device_keeps_its_keys_as_before(tmp_path: Path) -> None:
    state = tmp_path / "STATE"
    assert provision("init", "--state", state).returncode == 0
    keys = contents(state / "keys")
    assert refused("init", "--state", state) == (
        f"kiosk-provision: refused: {state} already holds device keys; wipe it before initialising again")
    assert contents(state / "keys") == keys


def test_a_wiped_device_is_initialised_again_and_a_folder_left_with_other_files_is_not(tmp_path: Path) -> None:
    state = tmp_path / "STATE"
    assert provision("init", "--state", state).returncode == 0
    wiped = provision("wipe", "--state", state, "--force", "--reason", "bench test")
    assert wiped.returncode == 0, wiped.stderr
    assert sorted(os.listdir(state)) == ["retired.json"]
    assert provision("init", "--state", state).returncode == 0     # a wiped device's folder is its own

    assert provision("wipe", "--state", state, "--force", "--reason", "bench test").returncode == 0
    (state / "notes.txt").write_text("left by a technician")
    assert "is not empty and is not a device's state folder (it holds notes.txt)" in refused(
        "init", "--state", state)


def test_init_on_a_read_only_disk_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "STATE"
    folder.mkdir()
    with read_only(folder):
        line = refused("init", "--state", folder)
    assert line == (f"kiosk-provision: init failed: {folder}: Read-only file system "
                    "(free space on the disk, or check that it is writable)")
    assert os.listdir(folder) == []
