"""Wipe after the polls, and what a re-provisioned device refuses afterwards."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from helpers import PEOPLE, World, make_world
from kiosk.net.channel import PeerPolicy, PeerRefused, Server, TlsIdentity, connect
from kiosk.state import RETIRED, Installed, StateRefused, claim_app_lock
from kiosk.trust import certs
from provisioning.collect import collect
from provisioning.device import InstallRefused, init_device, install
from provisioning.device_cli import main as provision_main
from provisioning.export import export
from provisioning.wipe import WipeRefused, wipe

CODE = PEOPLE["eligible"].code


def check_in(installed: Installed, code: str = CODE) -> None:
    ledger, registry = installed.open_ledger(), installed.open_registry()
    ledger.check_in(registry.voter_key(code))
    ledger.close()
    registry.close()


def test_wipe_is_refused_until_an_export_holds_everything_the_device_recorded(world: World, tmp_path: Path) -> None:
    kiosk = world.installed("k1")
    check_in(kiosk)
    with pytest.raises(WipeRefused, match="no export was made"):
        wipe(kiosk.state)
    export(kiosk.state, tmp_path / "usb")
    check_in(kiosk, PEOPLE["birthday_today"].code)      # a check-in after the export
    with pytest.raises(WipeRefused, match="recorded more after the export"):
        wipe(kiosk.state)
    ledger = kiosk.open_ledger()
    assert ledger.live_check_ins_since("2000-01-01") == 2     # the refused wipe removed nothing
    ledger.close()

    export(kiosk.state, tmp_path / "usb")
    done = wipe(kiosk.state)

    assert done.election == "test-1405" and not done.forced_reason
    assert [p.name for p in kiosk.state.iterdir()] == [RETIRED]


def test_a_forced_wipe_needs_a_reason_and_leaves_it_in_a_last_export(world: World, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    kiosk = world.installed("k1")
    check_in(kiosk)
    state = str(kiosk.state)
    assert provision_main(["wipe", "--state", state, "--force"]) == 2
    assert provision_main(["wipe", "--state", state]) == 1
    assert "wipe refused: no export was made" in capsys.readouterr().err
    assert (kiosk.state / "keys").is_dir()

    usb = tmp_path / "usb"
    assert provision_main(["wipe", "--state", state, "--force", "--reason", "screen broken at 14:00",
                           "--out", str(usb)]) == 0
    shown = capsys.readouterr().out
    assert "FORCED WIPE" in shown and "screen broken at 14:00" in shown and "a last export" in shown

    report = collect(world.authority, list(usb.glob("*.kexport")))
    assert [b.wipe_reason for b in report.bundles] == ["screen broken at 14:00"]
    assert report.branches["1001"].check_ins == 1


def test_a_re_provisioned_device_refuses_the_old_elections_package_and_peers(world: World, tmp_path: Path) -> None:
    kiosk = world.installed("k1")
    old_package = next(p for p in world.root.iterdir() if p.name == "PKG-k1")
    old_cert = world.root / "k1.crt"
    export(kiosk.state, tmp_path / "usb")
    wipe(kiosk.state)

    # The same Pi, provisioned for the next election.
    new = make_world(tmp_path / "next", election_id="next-1406")
    csr = init_device(kiosk.state)
    cert = new.authority.enroll(csr.public_bytes(serialization.Encoding.PEM), certs.Role.KIOSK, ("1001",))
    new_cert = tmp_path / "new.crt"
    new_cert.write_bytes(certs.cert_pem(cert))
    with pytest.raises(InstallRefused, match="wiped after election test-1405"):
        install(kiosk.state, old_package, old_cert, world.authority.folder / "authority.crt")
    reprovisioned = install(kiosk.state, new.package(), new_cert, new.authority.folder / "authority.crt")
    assert reprovisioned.config.id == "next-1406"

    # A kiosk still holding the old election's certificate cannot sync with it, either way round.
    old_peer = TlsIdentity.from_installed(world.installed("k2"))
    new_identity = TlsIdentity.from_installed(reprovisioned)
    policy = PeerPolicy(certs.Role.KIOSK, frozenset({"1001"}))
    for server_side, client_side in ((new_identity, old_peer), (old_peer, new_identity)):
        server = Server(server_side, policy, lambda channel: None, "127.0.0.1")
        server.start()
        try:
            with pytest.raises(PeerRefused, match="not from our election authority"):
                connect("127.0.0.1", server.port, client_side, policy, timeout=3)
        finally:
            server.close()


def test_wipe_is_refused_while_the_app_runs_on_the_device(world: World, tmp_path: Path) -> None:
    kiosk = world.installed("k1")
    export(kiosk.state, tmp_path / "usb")
    # Another process holds the folder as a running app does (the lock is an flock, released at exit).
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pathlib import Path; "
                               "from kiosk.state import claim_app_lock; claim_app_lock(Path(sys.argv[1])); "
                               "print('held', flush=True); time.sleep(60)", str(kiosk.state)],
                              stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(WipeRefused, match="the app is running"):
            wipe(kiosk.state)
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    assert wipe(kiosk.state).election == "test-1405"      # the app has stopped (killed, even)


def test_a_second_app_on_the_same_state_folder_is_refused(world: World) -> None:
    kiosk = world.installed("k1")
    held = claim_app_lock(kiosk.state)
    try:
        with pytest.raises(StateRefused, match="already runs"):
            claim_app_lock(kiosk.state)
    finally:
        os.close(held)
    os.close(claim_app_lock(kiosk.state))


def test_nothing_to_wipe_is_said_plainly(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(WipeRefused, match="holds no device"):
        wipe(tmp_path / "empty")


# -- issue 13: a wipe removes only the device's own files, and only in a device's folder -------------------

TOOL = str(Path(sys.executable).parent / "kiosk-provision")


def _provision(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TOOL, *map(str, args)], capture_output=True, text=True, timeout=120)


def _contents(folder: Path) -> dict[str, str]:
    """Every entry under `folder` (links as links), with each file's hash."""
    found = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            found[rel] = "-> " + os.readlink(path)
        else:
            found[rel] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _refused_wipe(state: Path) -> str:
    done = _provision("wipe", "--state", state, "--force", "--reason", "x")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    return done.stderr.rstrip("\n")


@pytest.mark.parametrize("left_by", ["old-init", "copied-marker"])
def test_a_wipe_of_the_authoritys_folder_is_refused_and_deletes_nothing(world: World, left_by: str) -> None:
    """What an older `init --state AUTH` left there (device keys), or a device's marker copied in."""
    world.device("k1")
    world.package()
    folder = world.authority.folder
    (world.authority.reports_dir() / "collect-20260522T200000.json").write_text("{}")
    (folder / "keys").mkdir()
    (folder / "keys" / "signing.key").write_bytes(b"device key written by mistake")
    if left_by == "copied-marker":
        shutil.copyfile(world.root / "k1" / "kiosk-device.json", folder / "kiosk-device.json")
    before = _contents(folder)
    assert {"authority.key", "export.key", "roster.json", "reports/collect-20260522T200000.json"} <= set(before)

    line = _refused_wipe(folder)

    assert line == (f"kiosk-provision: wipe refused: {folder} is the election authority's folder (it holds "
                    "authority.key), not a device's: nothing was deleted")
    assert _contents(folder) == before


def test_a_folder_without_the_device_marker_is_not_wiped(tmp_path: Path) -> None:
    folder = tmp_path / "backup"
    (folder / "keys").mkdir(parents=True)
    (folder / "keys" / "signing.key").write_bytes(b"a copy kept by hand")
    (folder / "notes.txt").write_text("the technician's")
    before = _contents(folder)
    assert _refused_wipe(folder) == (f"kiosk-provision: wipe refused: {folder} carries no device marker "
                                     "(kiosk-device.json), so it is not known as a device's state folder: "
                                     "nothing was deleted")
    assert _contents(folder) == before


def test_a_wipe_removes_links_never_what_they_point_at_and_leaves_what_the_device_did_not_write(
        world: World, tmp_path: Path) -> None:
    kiosk = world.installed("k1")
    check_in(kiosk)
    state = kiosk.state
    outside = tmp_path / "outside"
    (outside / "pkg").mkdir(parents=True)
    (outside / "precious.txt").write_text("the only copy")
    (outside / "pkg" / "registry.key").write_bytes(b"another election's key")
    (outside / "logs").mkdir()
    (outside / "logs" / "day.log").write_text("kept elsewhere")
    before = _contents(outside)
    os.symlink(outside / "precious.txt", state / "keys" / "backup.key")   # a link among the secrets
    os.symlink(outside / "pkg", state / "packages" / "old")               # a link to a folder of packages
    os.symlink(outside / "precious.txt", state / "audit.log.7")           # a link under a device's name
    os.symlink(outside / "logs", state / "roster")                        # a folder link under a device's name
    (state / "notes.txt").write_text("the technician's")
    (state / "photos").mkdir()
    (state / "photos" / "seal.jpg").write_bytes(b"\xff\xd8")

    done = _provision("wipe", "--state", state, "--force", "--reason", "x")

    assert done.returncode == 0, done.stderr
    assert _contents(outside) == before                # nothing outside overwritten or removed
    assert sorted(os.listdir(state)) == ["notes.txt", "photos", RETIRED]
    assert (state / "photos" / "seal.jpg").read_bytes() == b"\xff\xd8"
    assert done.stdout.splitlines()[-1] == ("left 2 entries the device did not write (move them before init): "
                                            "notes.txt, photos")
