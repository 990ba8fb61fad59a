"""One byte form for signed JSON, so signer and verifier hash the same bytes."""
from __future__ import annotations

import base64
import json
from typing import Any


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: the form every signature in the project covers."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def b64e(data: bytes) -> str:
    """Standard base64 text for bytes inside JSON."""
    return base64.b64encode(data).decode("ascii")


def b64d(text: object) -> bytes:
    """Strict base64 decoding of a JSON field; ValueError on anything else."""
    if not isinstance(text, str):
        raise ValueError("expected base64 text")
    return base64.b64decode(text.encode("ascii"), validate=True)
