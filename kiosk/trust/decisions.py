"""The representative's decisions, signed by the console's device key and checked by the kiosk.

The signature covers the decision and the election, so a decision cannot be
replayed into another election or altered on the way; the kiosk checks it
against the certificate of the console it came from.
"""
from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from kiosk.core.cases import Decision, decision_fields
from kiosk.trust.canonical import canonical_json

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
