"""Officials' smart national cards at a device: the head's card unlocks the day and signs in (issue 14).

In-process, through the fake reader and the same virtual card the vpcd process serves; the same flow
through real pcscd + vpcd is in tests/drivers/test_card_pcsc.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from drivers.card.fake import FakeCardReader
from drivers.card.holder import PinRefused
from drivers.card.minting import CardAuthority, IssuedCard
from drivers.card.profiles import PROFILES
from drivers.card.virtual import VirtualCard
from helpers import PEOPLE, World, code
from kiosk import official_card
from kiosk.official_card import CardPinBlocked, CardPinWrong, CardRefused, CardSignedIn
from kiosk.state import Installed
from kiosk.trust import certs
from kiosk.trust.officials import OfficialRole
from provisioning.authority import AuthorityRefused
from provisioning.officials import add_official, load_officials

PIN = "4821"
HEAD, REP, OTHER_HEAD, STRANGER = code(901), code(902), code(903), code(904)
TEST = PROFILES["test"]


@dataclass
class Branch:
    world: World
    ca: CardAuthority
    head: IssuedCard
    rep: IssuedCard
    kiosk: Installed
    console: Installed


@pytest.fixture
def branch(world: World) -> Branch:
    ca = world.trust_cards()
    head, rep, other = ca.issue(HEAD), ca.issue(REP), ca.issue(OTHER_HEAD)
    world.official("head-1001", "head", HEAD, head)
    world.official("rep-1", "rep", REP, rep, branches=("1001", "1002"))
    world.official("head-1002", "head", OTHER_HEAD, other, branches=("1002",))
    kiosk = world.installed("k1", unlocked=False)
    console = world.installed("rep1", certs.Role.REP, ("1001",), unlocked=False)
    return Branch(world, ca, head, rep, kiosk, console)


def _reader(card: VirtualCard) -> FakeCardReader:
    reader = FakeCardReader()
    reader.insert_card(card)
    return reader


def _card(issued: IssuedCard, key: ec.EllipticCurvePrivateKey | None = None, tries: int = 3) -> VirtualCard:
    return VirtualCard.of("test", issued.certificate, key=key or issued.key, pin=PIN, tries_left=tries)


def test_the_heads_card_unlocks_the_kiosk_and_signs_the_head_in(branch: Branch) -> None:
    reader = _reader(_card(branch.head))
    answer = official_card.unlock(branch.kiosk, reader.transmit, TEST, PIN)
    assert isinstance(answer, CardSignedIn)
    assert (answer.official.account, answer.official.role) == ("head-1001", OfficialRole.HEAD)
    assert not answer.installed.locked
    assert isinstance(official_card.sign_in(answer.installed, reader.transmit, TEST, "۴۸۲۱"), CardSignedIn)
    assert answer.installed.open_registry().lookup(PEOPLE["eligible"].code) is not None
    assert not Installed.open(branch.kiosk.state).locked   # the next process of this boot finds it unlocked


def test_a_wrong_pin_shows_the_tries_left_then_the_card_blocks(branch: Branch) -> None:
    card = _card(branch.head)
    reader = _reader(card)
    answers = [official_card.unlock(branch.kiosk, reader.transmit, TEST, "0000") for _ in range(3)]
    assert answers == [CardPinWrong(2), CardPinWrong(1), CardPinBlocked()]
    reader.remove_card()
    reader.insert_card(card)   # the card keeps its counter out of the reader, as a real one does
    assert official_card.unlock(branch.kiosk, reader.transmit, TEST, PIN) == CardPinBlocked()
    assert Installed.open(branch.kiosk.state).locked


def test_a_right_pin_resets_the_count_of_wrong_ones(branch: Branch) -> None:
    kiosk = branch.world.unlock(branch.kiosk)
    reader = _reader(_card(branch.head))
    assert official_card.sign_in(kiosk, reader.transmit, TEST, "1111") == CardPinWrong(2)
    assert isinstance(official_card.sign_in(kiosk, reader.transmit, TEST, PIN), CardSignedIn)
    assert official_card.sign_in(kiosk, reader.transmit, TEST, "1111") == CardPinWrong(2)


def test_a_blocked_card_is_shown_as_blocked(branch: Branch) -> None:
    reader = _reader(_card(branch.head, tries=0))
    assert official_card.unlock(branch.kiosk, reader.transmit, TEST, PIN) == CardPinBlocked()
    assert Installed.open(branch.kiosk.state).locked


def test_a_copied_certificate_on_a_card_without_its_key_is_refused(branch: Branch) -> None:
    thief_key = ec.generate_private_key(ec.SECP256R1())
    reader = _reader(_card(branch.head, key=thief_key))
    assert official_card.unlock(branch.kiosk, reader.transmit, TEST, PIN) == CardRefused(official_card.NOT_ITS_KEY)
    assert Installed.open(branch.kiosk.state).locked
    kiosk = branch.world.unlock(branch.kiosk)
    assert official_card.sign_in(kiosk, reader.transmit, TEST, PIN) == CardRefused(official_card.NOT_ITS_KEY)


def test_a_card_that_cannot_sign_at_all_is_refused(branch: Branch) -> None:
    reader = _reader(VirtualCard.of("test", branch.head.certificate, pin=PIN))
    assert official_card.unlock(branch.kiosk, reader.transmit, TEST, PIN) == CardRefused(official_card.NOT_ITS_KEY)


def test_another_persons_card_neither_unlocks_nor_signs_in(branch: Branch) -> None:
    stranger = _reader(_card(branch.ca.issue(STRANGER)))
    other_head = _reader(_card(branch.ca.issue(OTHER_HEAD)))   # a head, of another branch (and another card)
    for reader in (stranger, other_head):
        assert official_card.unlock(branch.kiosk, reader.transmit, TEST, PIN) == CardRefused(official_card.NO_SLOT)
    kiosk = branch.world.unlock(branch.kiosk)
    for reader in (stranger, other_head):
        assert official_card.sign_in(kiosk, reader.transmit, TEST, PIN) == CardRefused(official_card.NOT_ENROLLED)


def test_a_card_of_another_authority_is_not_trusted(branch: Branch) -> None:
    forged = CardAuthority().issue(HEAD)   # the head's national code, from a CA the election does not trust
    reader = _reader(_card(forged))
    assert official_card.unlock(branch.kiosk, reader.transmit, TEST, PIN) == CardRefused(official_card.NOT_TRUSTED)
    kiosk = branch.world.unlock(branch.kiosk)
    assert official_card.sign_in(kiosk, reader.transmit, TEST, PIN) == CardRefused(official_card.NOT_TRUSTED)


def test_the_reps_card_unlocks_the_console_and_not_a_kiosk(branch: Branch) -> None:
    rep = _reader(_card(branch.rep))
    assert official_card.unlock(branch.kiosk, rep.transmit, TEST, PIN) == CardRefused(official_card.NO_SLOT)
    answer = official_card.unlock(branch.console, rep.transmit, TEST, PIN)
    assert isinstance(answer, CardSignedIn) and answer.official.account == "rep-1"
    assert not Installed.open(branch.console.state).locked
    assert Installed.open(branch.kiosk.state).locked


def test_a_pin_that_is_not_digits_is_refused_before_the_card_is_asked(branch: Branch) -> None:
    card = _card(branch.head)
    reader = _reader(card)
    for typed in ("", "12", "12ab", "1234567890123"):
        with pytest.raises(PinRefused):
            official_card.unlock(branch.kiosk, reader.transmit, TEST, typed)
    assert card.tries_left == 3


def test_a_power_cut_after_a_card_unlock_locks_again(branch: Branch, unlocks_of_this_test: Path) -> None:
    reader = _reader(_card(branch.head))
    assert isinstance(official_card.unlock(branch.kiosk, reader.transmit, TEST, PIN), CardSignedIn)
    for remembered in unlocks_of_this_test.iterdir():
        remembered.unlink()
    assert Installed.open(branch.kiosk.state).locked


def test_enrolling_a_card_checks_it_is_the_officials(world: World) -> None:
    ca = world.trust_cards()
    with pytest.raises(AuthorityRefused, match="another national code"):
        add_official(world.authority, "head-1001", "head", ["1001"], HEAD, ca.card_certificate(STRANGER))
    with pytest.raises(AuthorityRefused, match="not a readable card certificate"):
        add_official(world.authority, "head-1001", "head", ["1001"], HEAD, b"not a certificate")
    assert load_officials(world.authority) == []
    card = ca.issue(HEAD)
    add_official(world.authority, "head-1001", "head", ["1001"], HEAD, card.certificate)
    add_official(world.authority, "head-1001", "head", ["1001", "1002"], HEAD)   # new branches, same card
    [kept] = load_officials(world.authority)
    assert kept.card_certificate == card.certificate and kept.branches == ("1001", "1002")


def test_the_sign_in_screens_let_in_only_the_official_each_device_serves(branch: Branch) -> None:
    from kiosk.core.staff import CardOutcome, CardSignIn
    from kiosk.ui.card_sign_in import CardSignInWiring
    kiosk, console = branch.world.unlock(branch.kiosk), branch.world.unlock(branch.console)
    delivered: list[CardSignIn] = []
    certificates: list[bytes] = []
    for installed, role, right, wrong in ((kiosk, OfficialRole.HEAD, branch.head, branch.rep),
                                          (console, OfficialRole.REP, branch.rep, branch.head)):
        for card, expected in ((right, CardOutcome.GRANTED), (wrong, CardOutcome.REFUSED)):
            reader = _reader(_card(card))
            wiring = CardSignInWiring(installed, reader, TEST, role, delivered.append, certificates.append)
            assert wiring.answer(PIN).outcome is expected
        empty = CardSignInWiring(installed, FakeCardReader(), TEST, role, delivered.append)
        empty.sign_in(PIN)
        assert delivered[-1] == CardSignIn(CardOutcome.NO_CARD)
    assert certificates == [branch.head.certificate, branch.rep.certificate]   # only for the ones let in
