"""The representative's decisions, signed by the console's device key and checked by the kiosk.

The signature covers the decision and the election, so a decision cannot be
replayed into another election or altered on the way; the kiosk checks it
against the certificate of the console it came from.
"""
from __future__ import annotations

from collections.abc import Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from kiosk.core.cases import Decision, decision_fields
from kiosk.core.text_limits import MAX_UNDO_REASON, check_text
from kiosk.trust.canonical import b64d, b64e, canonical_json

_CONTEXT = "kiosk decision v1"


def signed_bytes(decision: Decision, election_id: str) -> bytes:
    """The exact bytes a decision's signature covers."""
    return canonical_json({"context": _CONTEXT, "election": election_id, **decision_fields(decision)})


def sign_decision(decision: Decision, election_id: str, key: ed25519.Ed25519PrivateKey) -> bytes:
    """The console's signature over a decision."""
    return key.sign(signed_bytes(decision, election_id))


def decision_verifies(decision: Decision, election_id: str, signature: bytes,
                      public_key: ed25519.Ed25519PublicKey) -> bool:
    """True when `signature` is the console's over exactly this decision in this election."""
    try:
        public_key.verify(signature, signed_bytes(decision, election_id))
    except InvalidSignature:
        return False
    return True


# -- the representative's authorization to undo one check-in ----------------------------------
# A disputed "already voted" that the representative approves undoes the earlier check-in, which
# may be another kiosk's. Every device that holds the undo must be able to check it without the
# person's code, so the console signs a second, small statement: this case, this kiosk, exactly
# that check-in. The kiosk writes it into the undo event's reason; peers verify it against the
# console's key from the roster (kiosk.trust.roster), and kiosk.core.undo rules on the result.
_UNDO_CONTEXT = "kiosk undo v1"
_UNDO_PREFIX = "representative:"


def undo_bytes(election_id: str, case_id: str, kiosk: str, rep: str, target: str) -> bytes:
    """The exact bytes an undo authorization's signature covers (no personal data)."""
    return canonical_json({"context": _UNDO_CONTEXT, "election": election_id, "case_id": case_id,
                           "kiosk": kiosk, "rep": rep, "undo": target})


def sign_undo(election_id: str, case_id: str, kiosk: str, rep: str, target: str,
              key: ed25519.Ed25519PrivateKey) -> bytes:
    """The console's signature authorizing `kiosk` to undo the check-in `target` ("device:seq")."""
    return key.sign(undo_bytes(election_id, case_id, kiosk, rep, target))


def undo_reason(case_id: str, rep: str, signature: bytes) -> str:
    """The undo event's reason text that carries the authorization, checked against branch sync's limit.

    Nothing typed goes into it: the prefix, a case id (18 characters at most, kiosk.core.cases.CASE_ID),
    the console's device id (16) and the signature (88 in base64) make 139 at most of the 400 that fit.
    TextRefused otherwise, before anything is signed into the ledger.
    """
    return check_text(f"{_UNDO_PREFIX}{case_id}:{rep}:{b64e(signature)}", "the representative's undo authorization",
                      MAX_UNDO_REASON)


def parse_undo_reason(reason: str) -> tuple[str, str, bytes] | None:
    """(case id, console device id, signature) of an undo reason that carries an authorization, else None."""
    if not reason.startswith(_UNDO_PREFIX):
        return None
    parts = reason[len(_UNDO_PREFIX):].split(":")
    if len(parts) != 3:
        return None
    try:
        signature = b64d(parts[2])
    except ValueError:
        return None
    return (parts[0], parts[1], signature) if len(signature) == 64 else None


def undo_authorized(election_id: str, undo_device: str, target: str, reason: str,
                    rep_key: Callable[[str], ed25519.Ed25519PublicKey | None]) -> bool:
    """Whether an undo written by `undo_device` of `target` carries a valid representative's authorization.

    `rep_key` gives the public key of a console of the undoing kiosk's branch from the roster (None if unknown).
    """
    parsed = parse_undo_reason(reason)
    if parsed is None:
        return False
    case_id, rep, signature = parsed
    key = rep_key(rep)
    if key is None:
        return False
    try:
        key.verify(signature, undo_bytes(election_id, case_id, undo_device, rep, target))
    except InvalidSignature:
        return False
    return True
