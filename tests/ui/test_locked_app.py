"""A locked kiosk's real app under Xvfb (issue 14): the locked screen's three ways, then check-ins resume.

Each run first tries a recovery code that cannot be right and a wrong card PIN (both refused, the device
stays locked), then unlocks one way: the recovery code, the head's card, or the representative's console.
The kiosk app then starts in the same process and the head checks a voter in.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from helpers import PEOPLE, code, make_world
from kiosk.core.staff import Role
from kiosk.state import Installed
from screenshots import _under_xvfb

HEAD = code(901)


@pytest.mark.parametrize("way, lang", [("code", "fa"), ("card", "en"), ("console", "fa")])
def test_the_locked_screen_unlocks_and_the_day_goes_on(tmp_path: Path, way: str, lang: str) -> None:
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run is not installed (./dev test installs xvfb when run as root)")
    world = make_world(tmp_path)
    head = world.trust_cards().issue(HEAD)
    world.official("head-1001", "head", HEAD, head)
    kiosk = world.installed("k1", unlocked=False)
    console = world.console("rep1")
    kiosk.staff_book().set_pin("head", "رئیس شعبه", Role.HEAD, "135790")
    cards = tmp_path / "cards"
    cards.mkdir()
    (cards / "head.der").write_bytes(head.certificate)
    (cards / "head.key").write_bytes(head.key_pem())
    recovery = world.recovery_code(kiosk.claims.device_id)
    with tempfile.TemporaryDirectory() as tmp:
        report = _under_xvfb("drive_locked.py", [str(kiosk.state), str(console.state), str(tmp_path / "shots"), lang,
                                                 way, str(cards), recovery, "135790", PEOPLE["eligible"].code],
                             Path(tmp), "800x480")
    assert report["errors"] == []
    steps = {r["step"]: r for r in report["results"]}  # type: ignore[union-attr]
    assert list(steps) == ["locked", "code_mistyped", "card_wrong_pin", "unlocked", "signed_in", "verdict",
                           "checked_in"], report
    assert all(r["ok"] for r in steps.values()), [(r["step"], r["ok"]) for r in steps.values()]
    assert steps["locked"]["title"] == ("دستگاه قفل است" if lang == "fa" else "This device is locked")
    expected_tries = "۲" if lang == "fa" else "2"
    assert expected_tries in steps["card_wrong_pin"]["notice"]
    assert report["locked_after"] is False   # remembered for this boot's other processes
    # After the card unlock the head signs in with the card too (PIN on the card); else with the account's PIN.
    assert steps["signed_in"]["account"] == ("head-1001" if way == "card" else "head")
    ledger = Installed.open(kiosk.state).open_ledger(read_only=True)
    assert ledger.live_check_ins_since("") == 1
    [entry] = list(ledger.events(kiosk.claims.device_id))
    assert entry.account == steps["signed_in"]["account"]   # the entry names who was signed in
