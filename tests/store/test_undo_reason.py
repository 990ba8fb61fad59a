"""An undo reason branch sync could not carry is refused where it is typed, and nothing reaches the ledger.

Before, `kiosk undo --reason` took any text: a 401-character or two-line reason was signed into the
ledger, every other kiosk of the branch then refused every page of this kiosk's ledger (their wire takes
400 characters on one line), and a voter checked in here later could be checked in again there.
"""
from __future__ import annotations

import pytest

from helpers import PEOPLE, World
from kiosk.cli import main as kiosk_main
from kiosk.core.outcome import CheckedIn, Recorded
from kiosk.desk import Desk
from kiosk.net import sync_messages as sm
from kiosk.state import Installed
from kiosk.store.ledger import Kind, UndoRefused
from kiosk.store.replica import Replica, Stored
from kiosk.trust import certs


def _check_in(installed: Installed, who: str) -> int:
    ledger = installed.open_ledger()
    try:
        done = Desk(installed.open_registry(), ledger, installed.config.rules).check_in(PEOPLE[who].code)
        assert isinstance(done, CheckedIn)
        return done.recorded.seq
    finally:
        ledger.close()


def _kinds(installed: Installed) -> list[str]:
    ledger = installed.open_ledger()
    try:
        return [e.kind.value for e in ledger.events(installed.claims.device_id)]
    finally:
        ledger.close()


def _peer_takes_every_page(one: Installed, two: Installed) -> Stored:
    """kiosk1's whole ledger, as branch sync sends it to kiosk2: encoded, decoded by the wire, stored."""
    ledger, other = one.open_ledger(), two.open_ledger()
    try:
        device = one.claims.device_id
        wire = sm.decode(sm.encode(sm.Page(device, certs.cert_pem(one.device_cert), tuple(ledger.events(device)))))
        assert isinstance(wire, sm.Page), wire
        replica = Replica(other, two.authority_cert, certs.cert_pem(two.device_cert), two.claims.branches)
        stored = replica.store(device, wire.cert_pem, wire.events)
        assert isinstance(stored, Stored), stored
        return stored
    finally:
        ledger.close()
        other.close()


@pytest.mark.parametrize("reason, message", [
    ("x" * 401, "kiosk: undo refused: the reason is 401 characters long; at most 400 fit"),
    ("recorded for\nthe wrong person", "kiosk: undo refused: the reason holds a line break; write it on one line"),
])
def test_kiosk_undo_refuses_a_reason_the_peers_would_refuse_and_records_nothing(
        world: World, reason: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    one, two = world.installed("kiosk1"), world.installed("kiosk2")
    seq = _check_in(one, "eligible")
    capsys.readouterr()
    code = kiosk_main(["undo", "--state", str(one.state), "--seq", str(seq), "--reason", reason])
    out = capsys.readouterr()
    assert (code, out.out, out.err) == (1, "", message + "\n")
    assert _kinds(one) == ["check_in"]          # nothing was signed into the ledger
    _check_in(one, "birthday_today")            # a later voter, as in the finding
    assert _peer_takes_every_page(one, two).new == 2   # the other kiosk still takes this kiosk's pages


def test_a_reason_of_exactly_400_characters_is_recorded_and_carried_to_the_peers(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    one, two = world.installed("kiosk1"), world.installed("kiosk2")
    seq = _check_in(one, "eligible")
    assert kiosk_main(["undo", "--state", str(one.state), "--seq", str(seq), "--reason", "ی" * 400]) == 0
    assert '"undone"' in capsys.readouterr().out
    assert _kinds(one) == ["check_in", "undo"]
    assert _peer_takes_every_page(one, two).new == 2


def test_the_ledger_itself_refuses_such_a_reason_whoever_calls_it(world: World) -> None:
    one = world.installed()
    seq = _check_in(one, "eligible")
    ledger = one.open_ledger()
    try:
        refused = ledger.undo(ledger.device_id, seq, "wrong\rperson")
        assert isinstance(refused, UndoRefused) and "line break" in refused.reason
        assert isinstance(ledger.undo(ledger.device_id, seq, "  the wrong person  "), Recorded)
        assert [e.reason for e in ledger.events(ledger.device_id) if e.kind is Kind.UNDO] == ["the wrong person"]
    finally:
        ledger.close()
