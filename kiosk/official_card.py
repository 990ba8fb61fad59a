"""An official's smart national card at a device: sign-in, and the start-of-day unlock.

The card's certificate says who it claims to be; the election's card trust
anchors say the certificate is genuine; the signed officials roster says that
person heads or represents this branch. None of that shows the card is the
one the certificate was issued to, so nothing counts until the card has
verified its PIN itself and signed a fresh challenge this device made (a
copied certificate on another card fails there). An unlock further needs the
card's key to open the slot the authority wrapped the device's other share in.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from drivers.card import holder
from drivers.card.profiles import CardRead, Profile, Transmit, check_chain, parse_card_certificate, read_card
from drivers.errors import CardError
from kiosk.core.cases import CardEndorsement, Decision
from kiosk.core.national_code import ascii_digits_only
from kiosk.logbook import Event, log
from kiosk.state import Installed, UnlockRefused
from kiosk.trust import card_proof, card_slots
from kiosk.trust.decisions import signed_bytes
from kiosk.trust.officials import Official, OfficialRole, OfficialsRoster


@dataclass(frozen=True, slots=True)
class CardSignedIn:
    """The official is signed in; `installed` is the device as it now stands (unlocked, after an unlock)."""

    official: Official
    installed: Installed
    certificate: bytes = b""   # the card's certificate (DER): the console's decisions carry it with the card's signature


@dataclass(frozen=True, slots=True)
class CardPinWrong:
    """The card refused the PIN; it blocks after `tries_left` more wrong ones."""

    tries_left: int


@dataclass(frozen=True, slots=True)
class CardPinBlocked:
    """The card's PIN is blocked (after three wrong tries): the civil-registration office unblocks it."""


@dataclass(frozen=True, slots=True)
class CardRefused:
    """The card cannot sign in here; `reason` is one line for staff (no national code in it)."""

    reason: str


CardAnswer = CardSignedIn | CardPinWrong | CardPinBlocked | CardRefused

NOT_TRUSTED = "this card's certificate is not from the election's card authority"
NOT_ENROLLED = "this card's holder is not an official of this branch"
NOT_ITS_KEY = "this card cannot prove it holds its certificate's key (a copied certificate?)"
NO_SLOT = "this card is not enrolled to unlock this device"


def _election_day(installed: Installed) -> dt.date:
    return installed.config.day.to_gregorian()


def _refused(reason: str, account: str | None = None) -> CardRefused:
    log(Event.CARD_REFUSED, reason=reason, account=account or "")
    return CardRefused(reason)


def _pin_and_proof(transmit: Transmit, profile: Profile, installed: Installed, cert: x509.Certificate, pin: str,
                   purpose: str, account: str | None) -> CardAnswer | None:
    """Let the card verify the PIN, then sign a fresh challenge; None when both held."""
    answer = holder.verify_pin(transmit, profile, pin)
    if isinstance(answer, holder.PinBlocked):
        log(Event.CARD_PIN_BLOCKED, account=account or "")
        return CardPinBlocked()
    if isinstance(answer, holder.PinWrong):
        log(Event.CARD_PIN_WRONG, account=account or "", tries_left=answer.tries_left)
        return CardPinWrong(answer.tries_left) if answer.tries_left else CardPinBlocked()
    challenge = card_proof.fresh_challenge(purpose)
    digest = challenge.digest(installed.config.id, installed.claims.device_id)
    try:
        signature = holder.sign_digest(transmit, profile, digest)
    except CardError:
        return _refused(NOT_ITS_KEY, account)
    if not card_proof.signature_holds(cert, digest, signature):
        return _refused(NOT_ITS_KEY, account)
    return None


def _official_of_branch(installed: Installed, national_code: str) -> Official | None:
    found = installed.officials_roster().find(installed.officials_key, national_code)
    return found if found is not None and set(found.branches) & set(installed.claims.branches) else None


def _read_with_pin(installed: Installed, transmit: Transmit, profile: Profile, pin: str) -> tuple[str, CardRead]:
    """The PIN as the card takes it and the card's certificate read; PinRefused before the card is asked."""
    pin = ascii_digits_only(pin)
    holder.pin_bytes(profile, pin)
    return pin, read_card(transmit, profile, installed.card_anchors(), _election_day(installed))


def _signed_in(official: Official, installed: Installed, read: CardRead) -> CardSignedIn:
    log(Event.CARD_SIGNED_IN, account=official.account, role=official.role.value)
    return CardSignedIn(official, installed, read.certificate.public_bytes(serialization.Encoding.DER))


def sign_in(installed: Installed, transmit: Transmit, profile: Profile, pin: str) -> CardAnswer:
    """Sign an official in with their card on an unlocked device.

    The PIN may be typed in any digit script. holder.PinRefused for a PIN that is not 4 to 12 digits (the
    card is not asked); CardError when the card cannot be read or leaves the reader; StateRefused when the
    package carries no valid roster.
    """
    pin, read = _read_with_pin(installed, transmit, profile, pin)
    if not read.trusted:
        return _refused(NOT_TRUSTED)
    official = _official_of_branch(installed, read.national_code)
    if official is None:
        return _refused(NOT_ENROLLED)
    failed = _pin_and_proof(transmit, profile, installed, read.certificate, pin, "sign-in", official.account)
    return failed if failed is not None else _signed_in(official, installed, read)


def unlock(installed: Installed, transmit: Transmit, profile: Profile, pin: str) -> CardAnswer:
    """Unlock a locked device with the card of an official the authority enrolled for it, and sign them in.

    The same errors as sign_in. A device already unlocked is simply signed in to.
    """
    if not installed.locked:
        return sign_in(installed, transmit, profile, pin)
    pin, read = _read_with_pin(installed, transmit, profile, pin)
    if not read.trusted:
        return _refused(NOT_TRUSTED)
    slot = installed.envelope.slot_for(card_slots.certificate_id(read.certificate))
    if slot is None:
        return _refused(NO_SLOT)
    failed = _pin_and_proof(transmit, profile, installed, read.certificate, pin, "unlock", None)
    if failed is not None:
        return failed
    try:
        secret = holder.agree_key(transmit, profile, slot.ephemeral)
        share = card_slots.open_slot(slot, secret, installed.config.id, installed.claims.device_id)
        opened = installed.unlock(share)
    except (CardError, card_slots.CardSlotRefused, UnlockRefused):
        return _refused(NO_SLOT)
    official = _official_of_branch(opened, read.national_code)
    if official is None:
        opened.lock()   # the slot and the roster disagree: a package to rebuild, not a way in
        return _refused(NOT_ENROLLED)
    return _signed_in(official, opened, read)



# -- decisions signed on the representative's card ----------------------------------------------------------------

MAX_CARD_CERTIFICATE = 8192
MAX_CARD_SIGNATURE = 512


def decision_digest(decision: Decision, election_id: str) -> bytes:
    """What the card signs: the decision's signed bytes, bound to "decision", the election and the console."""
    return card_proof.challenge_digest("decision", election_id, decision.rep, signed_bytes(decision, election_id))


class CardEndorser:
    """The signed-in representative's card at the console: it signs each decision (its PIN verified at sign-in)."""

    def __init__(self, transmit: Transmit, profile: Profile, certificate: bytes) -> None:
        self._transmit, self._profile, self.certificate = transmit, profile, certificate

    def endorse(self, decision: Decision, election_id: str) -> CardEndorsement:
        """The card's signature over the decision; CardError when the card is gone or refuses."""
        signature = holder.sign_digest(self._transmit, self._profile, decision_digest(decision, election_id))
        return CardEndorsement(self.certificate, signature)


def card_required(roster: OfficialsRoster, branches: tuple[str, ...]) -> bool:
    """Whether a decision for these branches must carry a card signature: a representative has a card enrolled."""
    return any(official.card for branch in branches for official in roster.reps_of(branch))


def endorsement_problem(endorsement: CardEndorsement | None, decision: Decision, election_id: str,
                        anchors: list[x509.Certificate], election_day: dt.date, roster: OfficialsRoster,
                        officials_key: bytes, branches: tuple[str, ...]) -> str | None:
    """None when the decision's card signature stands (or none is required); otherwise why not (no code in it).

    The kiosk checks each decision with it before recording it, and collection checks every recorded one again.
    """
    if endorsement is None:
        return "not signed on the representative's card" if card_required(roster, branches) else None
    try:
        code, certificate = parse_card_certificate(endorsement.certificate)
    except CardError:
        return "the card certificate is not a card certificate"
    chain = check_chain(certificate, anchors, election_day)
    if chain is not None:
        return f"the card certificate is not trusted: {chain}"
    if not card_proof.signature_holds(certificate, decision_digest(decision, election_id), endorsement.signature):
        return "the card signature does not verify"
    official = roster.find(officials_key, code)
    if official is None or official.role is not OfficialRole.REP or not set(official.branches) & set(branches):
        return "the card is not a representative's of this branch"
    return None
