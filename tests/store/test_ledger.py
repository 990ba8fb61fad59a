"""The ledger: durable check-ins, undo as an entry of its own, and verification that catches tampering."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import PEOPLE, World
from kiosk.cli import main as kiosk_main
from kiosk.core.eligibility import Verdict
from kiosk.core.outcome import CheckedIn, Outcome, Recorded
from kiosk.desk import Desk
from kiosk.state import LEDGER, Installed, load_signing_key
from kiosk.store.registry import RegistryKeys
from kiosk.store.ledger import Ledger, LedgerCorrupt, UndoRefused, verify_chain


def _desk(installed: Installed) -> tuple[Desk, Ledger]:
    ledger = installed.open_ledger()
    return Desk(installed.open_registry(), ledger, installed.config.rules), ledger


def _verify(installed: Installed) -> object:
    ledger = installed.open_ledger()
    try:
        return verify_chain(ledger.events(installed.claims.device_id), installed.config.id,
                            installed.claims.device_id, installed.device_public_key())
    finally:
        ledger.close()


def test_check_in_then_already_voted_with_where_and_when(world: World) -> None:
    installed = world.installed()
    desk, ledger = _desk(installed)
    done = desk.check_in(PEOPLE["eligible"].code)
    assert isinstance(done, CheckedIn) and done.recorded.seq == 1
    again = desk.check(PEOPLE["eligible"].code)
    assert again.verdict is Verdict.ALREADY_VOTED
    assert again.previous is not None and again.previous.device == installed.claims.device_id
    second = desk.check_in(PEOPLE["eligible"].code)
    assert isinstance(second, Outcome) and second.verdict is Verdict.ALREADY_VOTED
    ledger.close()


@pytest.mark.parametrize("who", ["underage", "deceased", "suspended", "one_day_short"])
def test_only_eligible_people_are_checked_in(world: World, who: str) -> None:
    desk, ledger = _desk(world.installed())
    result = desk.check_in(PEOPLE[who].code)
    assert isinstance(result, Outcome) and result.verdict is not Verdict.ELIGIBLE
    assert list(ledger.events(ledger.device_id)) == []
    ledger.close()


def test_undo_needs_a_reason_is_kept_and_lets_the_voter_check_in_again(world: World) -> None:
    installed = world.installed()
    desk, ledger = _desk(installed)
    done = desk.check_in(PEOPLE["birthday_today"].code)
    assert isinstance(done, CheckedIn)
    assert isinstance(ledger.undo(ledger.device_id, done.recorded.seq, "  "), UndoRefused)
    assert isinstance(ledger.undo(ledger.device_id, done.recorded.seq, "wrong person"), Recorded)
    assert isinstance(ledger.undo(ledger.device_id, done.recorded.seq, "twice"), UndoRefused)
    assert isinstance(ledger.undo(ledger.device_id, 99, "no such"), UndoRefused)
    assert desk.check(PEOPLE["birthday_today"].code).verdict is Verdict.ELIGIBLE
    assert isinstance(desk.check_in(PEOPLE["birthday_today"].code), CheckedIn)
    kinds = [e.kind.value for e in ledger.events(ledger.device_id)]
    assert kinds == ["check_in", "undo", "check_in"]
    ledger.close()
    counts = _verify(installed)
    assert (counts.events, counts.check_ins, counts.undos, counts.live_check_ins) == (3, 2, 1, 1)  # type: ignore[attr-defined]


def test_ledger_never_holds_a_national_code(world: World) -> None:
    installed = world.installed()
    desk, ledger = _desk(installed)
    for who in ("eligible", "birthday_today"):
        assert isinstance(desk.check_in(PEOPLE[who].code), CheckedIn)
    ledger.close()
    raw = b"".join(p.read_bytes() for p in installed.state.glob("ledger.sqlite*"))
    for who in ("eligible", "birthday_today"):
        assert PEOPLE[who].code.encode() not in raw
        assert PEOPLE[who].first.encode() not in raw


def _three_check_ins(world: World) -> Installed:
    installed = world.installed()
    desk, ledger = _desk(installed)
    for who in ("eligible", "birthday_today"):
        assert isinstance(desk.check_in(PEOPLE[who].code), CheckedIn)
    ledger.undo(ledger.device_id, 1, "mistake")
    ledger.close()
    return installed


@pytest.mark.parametrize("tamper, message", [
    ("UPDATE events SET voter = zeroblob(16) WHERE seq = 2", "entry 2 was altered"),
    ("DELETE FROM events WHERE seq = 2", "gap in the ledger"),
    ("UPDATE events SET sig = zeroblob(64) WHERE seq = 3", "entry 3 has a bad signature"),
    ("UPDATE events SET wall = '2020-01-01' WHERE seq = 1", "entry 1 was altered"),
    ("UPDATE events SET kind = 'vote' WHERE seq = 1", "unknown kind"),
    ("DELETE FROM events WHERE seq = 1", "gap in the ledger"),
])
def test_verify_fails_loudly_on_any_alteration(world: World, tamper: str, message: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    installed = _three_check_ins(world)
    assert kiosk_main(["ledger", "verify", "--state", str(installed.state)]) == 0
    assert '"events": 3' in capsys.readouterr().out
    db = sqlite3.connect(installed.state / LEDGER)
    db.execute(tamper)
    db.commit()
    db.close()
    with pytest.raises(LedgerCorrupt, match=message):
        _verify(installed)
    assert kiosk_main(["ledger", "verify", "--state", str(installed.state)]) == 1
    assert message.split()[0] in capsys.readouterr().err


def test_a_rehashed_forgery_is_caught_by_the_signature(world: World) -> None:
    """Someone who recomputes the hash chain still cannot sign without the device key."""
    from kiosk.store.ledger import event_hash
    installed = _three_check_ins(world)
    db = sqlite3.connect(installed.state / LEDGER)
    rows = db.execute("SELECT device, seq, hlc, kind, voter, ref, reason, wall, prev FROM events ORDER BY seq").fetchall()
    prev = rows[0][8]
    for device, seq, hlc, kind, voter, ref, reason, wall, _ in rows:
        if seq == 2:
            voter = b"\x01" * 16
        digest = event_hash(prev, device, seq, hlc, kind, voter, ref, reason, wall)
        db.execute("UPDATE events SET voter=?, prev=?, hash=? WHERE seq=?", (voter, prev, digest, seq))
        prev = digest
    db.commit()
    db.close()
    with pytest.raises(LedgerCorrupt, match="entry 2 has a bad signature"):
        _verify(installed)


@pytest.mark.parametrize("election, index_check, refusal", [
    ("other-election", None, "another election"),
    (None, "00" * 32, "another registry index"),
])
def test_ledger_of_another_election_or_index_is_refused(world: World, election: str | None,
                                                         index_check: str | None, refusal: str) -> None:
    installed = world.installed()
    installed.open_ledger().close()
    with pytest.raises(LedgerCorrupt, match=refusal):
        Ledger(installed.state / LEDGER, election or installed.config.id, installed.claims.device_id,
               load_signing_key(installed.state),
               index_check or RegistryKeys.derive(installed.registry_key).index_check)


_RACER = """
import sys
from kiosk.state import Installed
from kiosk.core.outcome import CheckedIn
from kiosk.desk import Desk
inst = Installed.open(__import__('pathlib').Path(sys.argv[1]))
ledger = inst.open_ledger()
desk = Desk(inst.open_registry(), ledger, inst.config.rules)
sys.stdin.readline()
print('won' if isinstance(desk.check_in(sys.argv[2]), CheckedIn) else 'lost', flush=True)
"""


def test_two_processes_cannot_both_check_the_same_voter_in(world: World) -> None:
    installed = world.installed()
    procs = [subprocess.Popen([sys.executable, "-c", _RACER, str(installed.state), PEOPLE["eligible"].code],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in range(4)]
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    results = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
    assert results == ["lost", "lost", "lost", "won"]


def test_a_card_that_is_not_trusted_is_its_own_verdict_and_never_checked_in(world: World) -> None:
    desk, ledger = _desk(world.installed())
    assert desk.check_card(PEOPLE["eligible"].code, certificate_trusted=False).verdict is Verdict.CARD_NOT_TRUSTED
    assert desk.check_card(PEOPLE["eligible"].code, certificate_trusted=True).verdict is Verdict.ELIGIBLE
    assert list(ledger.events(ledger.device_id)) == []
    ledger.close()


def test_todays_count_leaves_out_earlier_days_and_undone_check_ins(world: World) -> None:
    installed = world.installed()
    desk, ledger = _desk(installed)
    for who in ("eligible", "birthday_today"):
        assert isinstance(desk.check_in(PEOPLE[who].code), CheckedIn)
    assert ledger.live_check_ins_since("2000-01-01T00:00:00.000+00:00") == 2
    ledger.undo(ledger.device_id, 1, "wrong person")
    assert ledger.live_check_ins_since("2000-01-01T00:00:00.000+00:00") == 1
    assert ledger.live_check_ins_since("2999-01-01T00:00:00.000+00:00") == 0
    ledger.close()
