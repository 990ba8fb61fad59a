"""`kiosk-provision export` onto a stick that cannot take the bundle: one line, exit 1, nothing half-written.

The real command in a subprocess, onto real file systems: a read-only bind mount (a write-protected
stick), a tmpfs filled to the last block (a full stick), a path that is a file; and from a device whose
own state disk is full. What was on the stick before is there after, byte for byte.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from disks import fill, read_only, small_disk
from helpers import PEOPLE, World
from kiosk.state import EXPORTS, Installed
from kiosk.trust import bundle

REFUSED = "kiosk-provision: export refused: "


def export(state: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "provisioning.device_cli", "export", "--state", str(state),
                           "--out", str(out)], capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in os.environ.items() if k not in ("KIOSK_LOG_LEVEL", "TERM")})


def refused(done: subprocess.CompletedProcess[str]) -> str:
    """The one line a refusal shows, after checking it is one line, exit code 1, and nothing on stdout."""
    assert done.returncode == 1 and done.stdout == "", (done.stdout, done.stderr)
    assert done.stderr.startswith(REFUSED) and done.stderr.count("\n") == 1, done.stderr
    return done.stderr[len(REFUSED):-1]


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def kiosk_with_a_check_in(world: World) -> Installed:
    installed = world.installed()
    ledger, registry = installed.open_ledger(), installed.open_registry()
    try:
        ledger.check_in(registry.voter_key(PEOPLE["eligible"].code))
    finally:
        ledger.close()
        registry.close()
    return installed


def test_a_write_protected_stick_is_named_and_left_as_it_was(world: World, tmp_path: Path) -> None:
    state = kiosk_with_a_check_in(world).state
    stick = tmp_path / "usb"
    stick.mkdir()
    (stick / "notes.txt").write_text("the branch head's notes")
    with read_only(stick):
        for out in (stick, stick / "close-of-polls"):
            assert refused(export(state, out)) == (f"{out} is read-only (is the stick's write-protect switch on?); "
                                                   "nothing was left on it; use a writable stick")
    assert contents(stick) == {"notes.txt": b"the branch head's notes"}
    assert not (state / EXPORTS).exists()


def test_a_path_that_is_a_file_is_refused_and_the_file_is_untouched(world: World, tmp_path: Path) -> None:
    state = kiosk_with_a_check_in(world).state
    stick = tmp_path / "usb"
    stick.mkdir()
    (stick / "bundle").write_text("an older file")
    for out in (stick / "bundle", stick / "bundle" / "inside"):
        assert refused(export(state, out)) == (f"{out} is not a folder (a file has that name or stands in its "
                                               "path): give --out a folder on the USB stick; nothing was left on it")
    assert contents(stick) == {"bundle": b"an older file"}
    assert not (state / EXPORTS).exists()


def test_a_full_stick_keeps_no_half_bundle_and_loses_nothing(world: World, tmp_path: Path) -> None:
    state = kiosk_with_a_check_in(world).state
    with small_disk(tmp_path / "usb", 64) as stick:
        (stick / "notes.txt").write_text("the branch head's notes")
        fill(stick)
        for room in ("none", "a page"):   # a page holds this small bundle but not its summary beside it
            if room == "a page":
                (stick / ".filler-0").unlink()
            before = contents(stick)
            for out in (stick, stick / "new-folder"):
                line = refused(export(state, out))
                assert re.fullmatch(rf"{re.escape(str(out))} is full \(the export needs \d+ KiB\); nothing was "
                                    "left on it; free space on the stick or use another one", line), (room, line)
            assert contents(stick) == before, room
        assert sorted(p.name for p in stick.iterdir() if p.is_dir()) == []
        assert not (state / EXPORTS).exists()
        # With room made, the same command writes a bundle that opens, and records it for wipe.
        for filler in stick.glob(".filler*"):
            filler.unlink()
        done = export(state, stick)
        assert done.returncode == 0, done.stderr
    assert json.loads((state / EXPORTS).read_text())["verified"] is True


def test_a_full_state_disk_still_exports_and_says_wipe_will_not_take_it(world: World, tmp_path: Path) -> None:
    original = kiosk_with_a_check_in(world).state
    usb = tmp_path / "usb"
    with small_disk(tmp_path / "disk", 2048) as disk:
        state = disk / "state"
        shutil.copytree(original, state, symlinks=True)
        fill(disk)
        line = refused(export(state, usb))
        written = sorted(usb.glob(f"*{bundle.SUFFIX}"))
        assert len(written) == 1
        assert line == (f"the bundle {written[0].name} is on the stick and reads back, but this device could not "
                        "record it (No space left on device), so wipe will not accept it; free space on the "
                        "state disk and export again")
        assert not (state / EXPORTS).exists()
    content = json.loads(bundle.open_bundle(written[0].read_bytes(), world.authority.export_key()).content)
    assert [e[3] for e in content["events"]] == ["check_in"]   # the day's record reached the authority
