"""Branch sync's messages between kiosks: hello, what I hold (want), and pages of ledger events.

Same framing and strictness as kiosk.net.messages: one JSON object per frame,
exact fields, bounded sizes, and a `Refused(reason)` value for anything else.
An event travels as a compact array; its hash and signature are checked by
the receiving replica (kiosk.store.replica), not here.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from kiosk.core.text_limits import MAX_EVENT_TEXT
from kiosk.net.messages import Malformed, Refused, parse_strict
from kiosk.store.ledger import ACCOUNT_CHARS, Event, Kind
from kiosk.trust.canonical import b64d, b64e

PROTOCOL = 1
MAX_EVENTS = 100
MAX_DEVICES = 256
_DEVICE = re.compile(r"^[0-9a-f]{16}$")
_TEXT = re.compile(r"^[^\x00-\x1f\x7f\ud800-\udfff]*$")
_PEM = re.compile(r"^[A-Za-z0-9+/= \n-]*$")
_KINDS = {k.value: k for k in Kind}


@dataclass(frozen=True, slots=True)
class Hello:
    """First message each way: who this is and which sync protocol and software it runs."""

    election: str
    branch: str
    protocol: int
    software: str


@dataclass(frozen=True, slots=True)
class Want:
    """The sender's highest sequence per device, and the kiosks it is linked to directly (no relay needed)."""

    heads: dict[str, int]
    direct: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Page:
    """Consecutive events of one device, with the authority's certificate for that device."""

    device: str
    cert_pem: bytes
    events: tuple[Event, ...]


SyncMessage = Hello | Want | Page


def encode(message: SyncMessage) -> bytes:
    """The wire bytes of a sync message."""
    body: dict[str, Any]
    match message:
        case Hello():
            body = {"type": "hello", "election": message.election, "branch": message.branch,
                    "protocol": message.protocol, "software": message.software}
        case Want():
            body = {"type": "want", "heads": message.heads, "direct": list(message.direct)}
        case Page():
            body = {"type": "page", "device": message.device, "cert": message.cert_pem.decode("ascii"),
                    "events": [[e.seq, e.hlc, e.kind.value, b64e(e.voter), e.ref, e.reason, e.wall, b64e(e.prev),
                                b64e(e.hash), b64e(e.sig), *([e.account] if e.account else [])]
                               for e in message.events]}
    return json.dumps({"v": 1, **body}, ensure_ascii=False, separators=(",", ":")).encode()


def decode(data: bytes) -> SyncMessage | Refused:
    """One sync message from wire bytes, or the reason it is refused."""
    return parse_strict(data, _message)


_FIELDS = {"hello": {"election", "branch", "protocol", "software"}, "want": {"heads", "direct"},
           "page": {"device", "cert", "events"}}


def _message(raw: Any) -> SyncMessage:
    if not isinstance(raw, dict) or type(raw.get("v")) is not int or raw["v"] != 1:
        raise Malformed("not a version 1 sync message")
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in _FIELDS:
        raise Malformed("unknown message type")
    if set(raw) - {"v", "type"} != _FIELDS[kind]:
        raise Malformed(f"{kind}: wrong fields")
    if kind == "hello":
        return Hello(_text(raw["election"], 64), _text(raw["branch"], 16), _int(raw["protocol"], 1000),
                     _text(raw["software"], 32))
    if kind == "want":
        heads, direct = raw["heads"], raw["direct"]
        if not isinstance(heads, dict) or len(heads) > MAX_DEVICES or not isinstance(direct, list) or \
                len(direct) > MAX_DEVICES:
            raise Malformed("want: bad heads or direct list")
        return Want({_device(d): _int(s, 1 << 40) for d, s in heads.items()}, tuple(_device(d) for d in direct))
    device, cert, events = _device(raw["device"]), raw["cert"], raw["events"]
    if not isinstance(cert, str) or len(cert) > 4096 or not _PEM.match(cert):
        raise Malformed("page: the certificate is not PEM text")
    if not isinstance(events, list) or not 0 < len(events) <= MAX_EVENTS:
        raise Malformed("page: 1 to 100 events")
    return Page(device, cert.encode("ascii"), tuple(_event(device, e) for e in events))


def _event(device: str, raw: Any) -> Event:
    # 11 fields when the entry names the staff account that recorded it (an earlier kiosk sends 10).
    if not isinstance(raw, list) or len(raw) not in (10, 11):
        raise Malformed("page: an event is not a 10- or 11-field array")
    seq, hlc, kind, voter, ref, reason, wall, prev, digest, sig = raw[:10]
    account = _text(raw[10], ACCOUNT_CHARS) if len(raw) == 11 else ""
    if len(raw) == 11 and (not account or account != account.strip()):
        raise Malformed("page: an event's account is empty or padded")
    if not isinstance(kind, str) or kind not in _KINDS:
        raise Malformed("page: unknown event kind")
    try:
        voter_b, prev_b, hash_b, sig_b = b64d(voter), b64d(prev), b64d(digest), b64d(sig)
    except (ValueError, TypeError) as exc:
        raise Malformed("page: bad base64") from exc
    # A signature is 64 bytes, or absent: a relayed copy holds only each page's newest one.
    if len(voter_b) > 32 or len(prev_b) != 32 or len(hash_b) != 32 or len(sig_b) not in (0, 64):
        raise Malformed("page: bad field length")
    return Event(device, _int(seq, 1 << 40, low=1), _int(hlc, 1 << 62), _KINDS[kind], voter_b,
                 _text(ref, MAX_EVENT_TEXT), _text(reason, MAX_EVENT_TEXT), _text(wall, 40), prev_b, hash_b, sig_b,
                 account)


def _text(value: Any, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit or not _TEXT.match(value):
        raise Malformed(f"not text of at most {limit} characters")
    return value


def _int(value: Any, limit: int, low: int = 0) -> int:
    if type(value) is not int or not low <= value <= limit:
        raise Malformed("not a whole number in range")
    return value


def _device(value: Any) -> str:
    if not isinstance(value, str) or not _DEVICE.match(value):
        raise Malformed("bad device id")
    return value
