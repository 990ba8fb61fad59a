"""Wipe after the polls, and what a re-provisioned device refuses afterwards."""
from __future__ import annotations

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
    import os
    import subprocess
    import sys
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
    import os
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
