"""`kiosk-authority collect /media/usb/*`: whatever else is on the stick is skipped with a note, never refused.

Export writes a .summary.txt beside each bundle, and a stick carries other
files too; the shell's glob hands them all to collect. A file that claims to
be a bundle (by its .kexport name or its KIOSK-EXPORT mark) and fails is still
refused, and the exit code says so.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import PEOPLE, World
from kiosk.trust import bundle
from provisioning.collect import collect
from provisioning.export import export

TOOL = str(Path(sys.executable).parent / "kiosk-authority")


@pytest.fixture
def usb(world: World, tmp_path: Path) -> Path:
    """A stick holding two kiosks' bundles, the summaries export wrote beside them, and other files."""
    stick = tmp_path / "usb"
    for name in ("k1", "k2"):
        installed = world.installed(name)
        ledger, registry = installed.open_ledger(), installed.open_registry()
        ledger.check_in(registry.voter_key(PEOPLE["eligible"].code if name == "k1" else PEOPLE["birthday_today"].code))
        ledger.close()
        registry.close()
        export(installed.state, stick)
    (stick / "README.txt").write_text("bundles for the authority")
    (stick / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    os.symlink(stick / "gone.kexport.bak", stick / "broken-link")   # points nowhere: cannot be read
    os.mkfifo(stick / "pipe")                                           # reading it would wait for ever
    return stick


def _collect(world: World, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TOOL, "collect", "--dir", str(world.authority.folder), *map(str, paths)],
                          capture_output=True, text=True, timeout=120)


def test_a_glob_over_the_stick_skips_what_is_not_a_bundle_with_one_note_each(world: World, usb: Path) -> None:
    summaries = sorted(p.name for p in usb.glob("*.summary.txt"))
    assert len(summaries) == 2 and len(list(usb.glob(f"*{bundle.SUFFIX}"))) == 2

    done = _collect(world, *sorted(usb.iterdir()))          # what `collect /media/usb/*` passes

    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "collected 2 bundles; refused 0"
    assert sorted(line for line in lines if line.startswith("skipped ")) == sorted([
        *(f"skipped {name}: not a bundle" for name in summaries),
        "skipped README.txt: not a bundle",
        "skipped photo.jpg: not a bundle",
        "skipped broken-link: not a bundle (cannot be read: No such file or directory)",
        "skipped pipe: not a bundle (not a regular file)",
    ])
    assert "branch 1001: 2 check-ins, 0 undone, 0 escalations" in lines


def test_a_stick_with_no_bundle_on_it_is_not_a_successful_collection(world: World, usb: Path) -> None:
    done = _collect(world, *sorted(usb.glob("*.summary.txt")))   # the bundles were left on another stick
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stderr == "kiosk-authority: none of the files given is a bundle (*.kexport): nothing was collected\n"
    assert done.stdout.splitlines()[0] == "collected 0 bundles; refused 0"


def test_a_folder_given_to_collect_is_a_note_too(world: World, usb: Path) -> None:
    (usb / "System Volume Information").mkdir()
    report = collect(world.authority, [usb / "System Volume Information", *sorted(usb.glob(f"*{bundle.SUFFIX}"))])
    assert [(s.file, s.reason) for s in report.skipped] == [("System Volume Information", "a folder, not a bundle")]
    assert (len(report.bundles), report.refused) == (2, [])


@pytest.mark.parametrize("name, data, reason", [
    ("k9.kexport", b"not a bundle at all", "not an export bundle (no KIOSK-EXPORT/1 mark)"),
    ("renamed.bin", bundle.MAGIC + b"{broken header\n", "bundle header"),
    ("pipe.kexport", None, "not a regular file"),
], ids=["named-like-a-bundle", "marked-like-a-bundle", "a-pipe-named-like-a-bundle"])
def test_a_file_that_claims_to_be_a_bundle_and_is_not_is_still_refused(
        world: World, usb: Path, name: str, data: bytes | None, reason: str) -> None:
    if data is None:
        os.mkfifo(usb / name)
    else:
        (usb / name).write_bytes(data)

    done = _collect(world, *sorted(usb.iterdir()))

    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stdout.splitlines()
    assert lines[0] == "collected 2 bundles; refused 1"
    [refusal] = [line for line in lines if line.startswith("REFUSED")]
    assert refusal.startswith(f"REFUSED  {name}: {reason}"), refusal
