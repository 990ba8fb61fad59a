"""`./dev screenshots`: every screen in Persian and English at 800×480 and 1280×800, as PNGs in .dev/screenshots."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

sys.path.insert(0, str(REPO / "tests" / "rep"))

from drive_console import drive_console  # noqa: E402
from helpers import PEOPLE, World, code, make_world  # noqa: E402
from kiosk.core.cases import CaseForm, CaseReason, Decision, Ruling  # noqa: E402
from kiosk.core.staff import Role  # noqa: E402
from kiosk.store.replica import Replica  # noqa: E402
from kiosk.trust import certs  # noqa: E402


def drive(lang: str, out: Path, window: str = "800x480", pcsc: bool = False) -> dict[str, object]:
    """One fresh kiosk, walked through every screen by tests/ui/drive.py under Xvfb.

    `pcsc`: the app reads cards from vpcd's reader through a running pcscd, and the election's package
    trusts the card authority that signed them (else the simulated reader and its panel).
    """
    with tempfile.TemporaryDirectory() as tmp:
        world = make_world(Path(tmp))
        cards = _cards(world, Path(tmp) / "cards") if pcsc else []
        installed = world.installed()
        installed.staff_book().set_pin("head", "رئیس شعبه", Role.HEAD, "135790")
        codes = Path(tmp) / "codes.json"
        codes.write_text(json.dumps({k: PEOPLE[k].code for k in ("eligible", "underage", "deceased", "suspended")}))
        return _under_xvfb("drive.py", [str(installed.state), str(out), lang, str(codes), "135790", *cards],
                           Path(tmp), window)


def _cards(world: World, folder: Path) -> list[str]:
    """Card certificates of a national-card authority the election trusts (and of one it does not)."""
    from drivers.card.minting import CardAuthority

    issuer, forger = CardAuthority(), CardAuthority("Test National ID CA")
    (world.election.parent / "nid-ca.pem").write_bytes(issuer.pem())
    toml = world.election.read_text("utf-8")
    world.election.write_text(toml.replace("[[branches]]", 'card_trust_anchors = ["nid-ca.pem"]\n\n[[branches]]', 1),
                              "utf-8")
    folder.mkdir()
    for kind, authority, person in (("eligible", issuer, "eligible"), ("deceased", issuer, "deceased"),
                                    ("untrusted", forger, "eligible")):
        (folder / f"{kind}.der").write_bytes(authority.card_certificate(PEOPLE[person].code))
    return [str(folder)]


def drive_link(lang: str, out: Path) -> dict[str, object]:
    """A fresh kiosk and console on loopback: a case referred, decided on the console, recorded on the kiosk."""
    with tempfile.TemporaryDirectory() as tmp:
        world = make_world(Path(tmp))
        kiosk, console = world.installed(), world.console()
        kiosk.staff_book().set_pin("head", "رئیس شعبه", Role.HEAD, "135790")
        return _under_xvfb("drive_link.py", [str(kiosk.state), str(console.state), str(out), lang, "135790"],
                           Path(tmp), "800x480")


def drive_approval(lang: str, out: Path) -> dict[str, object]:
    """A fresh kiosk and console: a deceased person's code approved, refused to a poll worker, confirmed by the head."""
    with tempfile.TemporaryDirectory() as tmp:
        world = make_world(Path(tmp))
        kiosk, console = world.installed(), world.console()
        staff = kiosk.staff_book()
        staff.set_pin("head", "رئیس شعبه", Role.HEAD, "135790")
        staff.set_pin("w1", "کارمند شعبه", Role.WORKER, "246802")
        return _under_xvfb("drive_approval.py", [str(kiosk.state), str(console.state), str(out), lang, "246802",
                                                 "135790", PEOPLE["deceased"].code], Path(tmp), "800x480")


def drive_duplicates(lang: str, out: Path) -> dict[str, object]:
    """Two kiosks of one branch that checked the same voters in while the LAN was split: alert, list, acknowledged."""
    with tempfile.TemporaryDirectory() as tmp:
        world = make_world(Path(tmp))
        one, two = world.installed("kiosk1"), world.installed("kiosk2")
        one.staff_book().set_pin("head", "رئیس شعبه", Role.HEAD, "135790")
        registry, ledger, other = one.open_registry(), one.open_ledger(), two.open_ledger()
        voter = registry.voter_key(PEOPLE["eligible"].code)
        ledger.check_in(voter)
        other.check_in(voter)
        device = two.claims.device_id
        replica = Replica(ledger, one.authority_cert, certs.cert_pem(one.device_cert), one.claims.branches)
        replica.store(device, certs.cert_pem(two.device_cert), list(other.events(device)))
        # Then the LAN splits again: kiosk2 checks in someone kiosk1 has not heard of, and the app does too.
        other.check_in(registry.voter_key(PEOPLE["birthday_today"].code))
        ledger.close()
        other.close()
        return _under_xvfb("drive_duplicates.py", [str(one.state), str(two.state), str(out), lang, "135790",
                                                   PEOPLE["birthday_today"].code], Path(tmp), "800x480")


def drive_summary(lang: str, out: Path, window: str = "800x480") -> dict[str, object]:
    """A kiosk with a day behind it: three check-ins (one undone), two more synced from another kiosk, a case of
    each outcome; the head checks one more person in, then opens and prints today's summary."""
    with tempfile.TemporaryDirectory() as tmp:
        world = make_world(Path(tmp))
        one, two = world.installed("kiosk1"), world.installed("kiosk2")
        staff = one.staff_book()
        staff.set_pin("head", "رئیس شعبه", Role.HEAD, "135790")
        staff.set_pin("w1", "زهرا کاظمی", Role.WORKER, "246802")
        registry, ledger, other = one.open_registry(), one.open_ledger(), two.open_ledger()
        device = one.claims.device_id
        for n in (11, 12, 13):
            ledger.check_in(registry.voter_key(code(n)))
        ledger.undo(device, 2, "recorded for the wrong person")
        for n in (21, 22):
            other.check_in(registry.voter_key(code(n)))
        replica = Replica(ledger, one.authority_cert, certs.cert_pem(one.device_cert), one.claims.branches)
        replica.store(two.claims.device_id, certs.cert_pem(two.device_cert), list(other.events(two.claims.device_id)))
        outbox = one.open_outbox(ledger)
        for ruling in (Ruling.APPROVE, Ruling.REJECT, Ruling.REFER, None, None):
            case = outbox.raise_case(CaseForm("نرگس", "کاظمی", "جواد", None, "", "", CaseReason.NO_CODE))
            if ruling is not None:
                outbox.record_decision(Decision(case.case_id, device, ruling, "", "", "not of this branch",
                                                "2026-11-25T08:00:00+00:00", "rep"), b"s" * 64, b"")
        outbox.cancel(case.case_id, "the person left")   # the last one withdrawn; the fourth stays open
        ledger.close()
        other.close()
        return _under_xvfb("drive_summary.py", [str(one.state), str(out), lang, "135790", "246802",
                                                PEOPLE["eligible"].code], Path(tmp), window)


def _under_xvfb(script: str, args: list[str], tmp: Path, window: str) -> dict[str, object]:
    """Run a driver script from tests/ui under Xvfb; its last stdout line is the JSON report."""
    env = {**os.environ, "KIVY_HOME": str(tmp / "kivy"), "KIVY_NO_ARGS": "1", "KIVY_LOG_MODE": "PYTHON",
           "PYTHONPATH": str(REPO), "KIOSK_WINDOW": window}
    done = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", sys.executable,
                           str(REPO / "tests" / "ui" / script), *args], capture_output=True, text=True, env=env,
                          timeout=300)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    report: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def main() -> None:
    out = REPO / ".dev" / "screenshots"
    shutil.rmtree(out, ignore_errors=True)
    for lang in ("fa", "en"):
        drive(lang, out)
    for lang in ("fa", "en"):
        drive(lang, out / "1280x800", window="1280x800")
        drive_link(lang, out)
        drive_approval(lang, out)
        drive_duplicates(lang, out)
        drive_summary(lang, out)
        drive_summary(lang, out / "1280x800", window="1280x800")
        drive_console(lang, out / "console")
    count = sum(len(list(folder.glob("*.png"))) for folder in (out, out / "1280x800", out / "console"))
    print(f"{count} screenshots in {out} (the kiosk at 800x480, with the console link), {out / '1280x800'} "
          f"and {out / 'console'} (the representative's console)")


if __name__ == "__main__":
    main()
