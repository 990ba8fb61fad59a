"""Decisions signed on the representative's card as well as by the console (issue 14), over real mutual TLS.

The console's card is the virtual card in the fake reader (the same card vpcd serves); its PIN is verified at
the representative's sign-in, and then every decision is signed on it. The kiosk verifies the console's
signature, the card's, and that the card is the branch's representative's in the signed officials roster.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from drivers.card import holder
from drivers.card.fake import FakeCardReader
from drivers.card.minting import IssuedCard
from drivers.card.profiles import PROFILES
from drivers.card.virtual import VirtualCard
from helpers import World, code
from kiosk.core.cases import CaseStatus, Ruling
from kiosk.desk import CaseDesk, Desk
from kiosk.official_card import CardEndorser
from kiosk.rep.service import RepService
from test_delivery import Branch, wait_for

REP = code(902)
PIN = "4821"


@dataclass
class Signed:
    branch: Branch
    rep_card: IssuedCard
    stranger_card: IssuedCard


@pytest.fixture
def signed(world: World) -> Iterator[Signed]:
    cards = world.trust_cards()
    rep, stranger = cards.issue(REP), cards.issue(code(904))
    world.official("rep-1", "rep", REP, rep)
    kiosk, console = world.installed("kiosk1"), world.console("rep1")
    ledger, registry = kiosk.open_ledger(), kiosk.open_registry()
    branch = Branch(kiosk, console, Desk(registry, ledger, kiosk.config.rules),
                    CaseDesk(kiosk.open_outbox(ledger), kiosk.config.rules, ledger, registry))
    yield Signed(branch, rep, stranger)
    branch.stop()
    ledger.close()
    registry.close()


def _card_at_the_console(service: RepService, issued: IssuedCard, key: ec.EllipticCurvePrivateKey | None = None
                         ) -> None:
    """The representative signs in with the card: the card checks the PIN, and signs every decision from then on."""
    reader = FakeCardReader()
    reader.insert_card(VirtualCard.of("test", issued.certificate, key=key or issued.key, pin=PIN))
    holder.select_application(reader.transmit, PROFILES["test"])
    assert holder.verify_pin(reader.transmit, PROFILES["test"], PIN) == holder.PinAccepted()
    service.endorser = CardEndorser(reader.transmit, PROFILES["test"], issued.certificate)


def _decided(signed: Signed) -> tuple[RepService, str]:
    branch = signed.branch
    service = branch.start_console()
    branch.start_courier()
    case_id = branch.raise_case()
    wait_for(lambda: branch.kiosk_status(case_id) is CaseStatus.DELIVERED)
    return service, case_id


def test_a_decision_signed_on_the_representatives_card_is_recorded(signed: Signed) -> None:
    service, case_id = _decided(signed)
    _card_at_the_console(service, signed.rep_card)
    decided = service.decide(case_id, Ruling.REJECT, "", "", "not of this branch")
    assert not isinstance(decided, list)
    wait_for(lambda: signed.branch.kiosk_status(case_id) is CaseStatus.DECIDED)
    wait_for(lambda: (service.case(case_id) or decided).delivered)
    kept = service._book.signed(case_id)
    assert kept is not None and kept.card is not None and kept.card.certificate == signed.rep_card.certificate


@pytest.mark.parametrize("card", ["none", "forged", "stranger"])
def test_a_decision_without_the_representatives_card_signature_is_refused(signed: Signed, card: str,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="kiosk")
    service, case_id = _decided(signed)
    if card == "forged":   # the representative's certificate on a card with another key
        _card_at_the_console(service, signed.rep_card, ec.generate_private_key(ec.SECP256R1()))
    elif card == "stranger":   # a genuine card of someone who is not the branch's representative
        _card_at_the_console(service, signed.stranger_card)
    decided = service.decide(case_id, Ruling.REJECT, "", "", "not of this branch")
    assert not isinstance(decided, list)
    reason = {"none": "not signed on the representative's card", "forged": "the card signature does not verify",
              "stranger": "the card is not a representative's of this branch"}[card]
    wait_for(lambda: any(reason in r.getMessage() for r in caplog.records))
    assert signed.branch.kiosk_status(case_id) is CaseStatus.DELIVERED   # not recorded
    assert not (service.case(case_id) or decided).delivered             # and not acknowledged


def test_a_card_taken_out_before_the_decision_signs_nothing(signed: Signed) -> None:
    service, case_id = _decided(signed)
    reader = FakeCardReader()   # the representative's card was taken out after sign-in
    service.endorser = CardEndorser(reader.transmit, PROFILES["test"], signed.rep_card.certificate)
    from kiosk.core.cases import DecisionProblem
    assert service.decide(case_id, Ruling.REJECT, "", "", "not of this branch") == [DecisionProblem.CARD]
    assert service.open_cases()[0].case_id == case_id   # still open: nothing was signed or kept
