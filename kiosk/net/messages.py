"""The messages between a kiosk and the representative's console: a versioned schema, decoded strictly.

Each message is one JSON object `{"v": 1, "type": ..., fields}` in one frame
(kiosk.net.channel). Decoding refuses anything that is not exactly one known
message: unknown or missing keys, wrong types, duplicate keys, values out of
range. A refusal is a value with a reason (never a national code or a name),
and changes nothing.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from collections.abc import Callable
from typing import Any, TypeVar

from kiosk.core.cases import (CASE_ID, CHECK_IN_REF, MAX_NAME, MAX_NOTE, MAX_REASON, MAX_REFERENCE, CardEndorsement,
                              CaseForm, CaseReason, Decision, Ruling, UndoAuthorization, decision_fields)
from kiosk.core.jalali import parse_jalali
from kiosk.trust.canonical import b64d, b64e

VERSION = 1
T = TypeVar("T")
MAX_BYTES = 64 * 1024
MAX_COUNT = 10_000_000
_DEVICE = re.compile(r"^[0-9a-f]{16}$")
_CODE = re.compile(r"^[0-9]{10}$")
_DIGITS = re.compile(r"^[0-9]{0,10}$")
_REFERENCE = re.compile(r"^[0-9A-Za-z/\\-]{0,32}$")
_BRANCH = re.compile(r"^[0-9A-Za-z-]{1,16}$")   # as kiosk/core/election.py accepts branch codes
_VERSION_TEXT = re.compile(r"^[0-9A-Za-z.+-]{1,32}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
ACK_STEPS = ("case", "decision", "cancel")


@dataclass(frozen=True, slots=True)
class OpenCase:
    """Kiosk → console: a new case (sent again until acknowledged; the case id makes it idempotent)."""

    case_id: str
    created: str
    form: CaseForm


@dataclass(frozen=True, slots=True)
class Ack:
    """Either way: the named step of a case is durable on the sender ("case", "decision" or "cancel")."""

    case_id: str
    step: str


@dataclass(frozen=True, slots=True)
class Decide:
    """Console → kiosk: the representative's decision and the console's Ed25519 signature over it.

    An approval of a disputed "already voted" also carries the console's authorization to undo
    exactly the disputed check-in (kiosk.trust.decisions.sign_undo); None for every other decision.
    """

    decision: Decision
    signature: bytes
    undo: UndoAuthorization | None = None
    card: CardEndorsement | None = None   # the representative's card's signature, when they signed in with it


@dataclass(frozen=True, slots=True)
class Cancel:
    """Kiosk → console: staff withdrew a delivered case (the person left)."""

    case_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Beacon:
    """Console → kiosk: the console's clock, so a kiosk without a real-time clock can see its skew."""

    wall_ms: int


@dataclass(frozen=True, slots=True)
class Status:
    """Kiosk → console: what the representative's list of kiosks shows."""

    branch: str
    checkins_today: int
    open_cases: int
    wall_ms: int
    software: str
    duplicates: int = 0     # double check-ins staff on the kiosk have not acknowledged yet
    anomalies: int = 0      # records the rules refused to count (kiosk.store.replica.list_anomalies)


@dataclass(frozen=True, slots=True)
class Revocations:
    """Either way: the newest revocation list the sender holds, as the authority signed it (the receiver verifies)."""

    signed: bytes


@dataclass(frozen=True, slots=True)
class AskUnlock:
    """Kiosk → console: this locked kiosk asks the representative to unlock it for the day."""


@dataclass(frozen=True, slots=True)
class UnlockShare:
    """Console → kiosk: the representative confirmed; the kiosk's other share (only ever to that kiosk's link)."""

    share: bytes


@dataclass(frozen=True, slots=True)
class UnlockDenied:
    """Console → kiosk: the representative refused, or this console cannot unlock the kiosk (one of DENIALS)."""

    reason: str


UNLOCK_SHARE_BYTES = 32
# Why a console does not unlock a kiosk, as codes the kiosk's screen translates.
REFUSED_BY_REP = "refused"                 # the representative said no
CONSOLE_LOCKED = "console_locked"          # the console is itself locked
NOT_ITS_KIOSK = "not_its_kiosk"            # the console holds no unlock for this kiosk (another branch, old package)
DENIALS = frozenset({REFUSED_BY_REP, CONSOLE_LOCKED, NOT_ITS_KIOSK})

# A list larger than this is not relayed (it would not fit one frame); it still travels by USB stick.
MAX_REVOCATIONS = 40 * 1024

Message = OpenCase | Ack | Decide | Cancel | Beacon | Status | Revocations | AskUnlock | UnlockShare | UnlockDenied


@dataclass(frozen=True, slots=True)
class Refused:
    """A message that was not accepted, and why (safe to log)."""

    reason: str


class Malformed(Exception):
    """Inside a decoder: the first thing wrong with a message."""


# -- encoding ------------------------------------------------------------------------------

def encode(message: Message) -> bytes:
    """The wire bytes of a message."""
    body: dict[str, Any]
    match message:
        case OpenCase():
            f = message.form
            body = {"type": "open_case", "case_id": message.case_id, "created": message.created,
                    "reason": f.reason.value, "first_name": f.first_name, "last_name": f.last_name,
                    "father_name": f.father_name, "birth_date": str(f.birth_date) if f.birth_date else "",
                    "birth_certificate": f.birth_certificate, "note": f.note, "disputed": f.disputed}
        case Ack():
            body = {"type": "ack", "case_id": message.case_id, "step": message.step}
        case Decide():
            undo = message.undo
            card = message.card
            body = {"type": "decide", **decision_fields(message.decision), "signature": b64e(message.signature),
                    "undo": undo.target if undo else "", "undo_signature": b64e(undo.signature) if undo else "",
                    "card_certificate": b64e(card.certificate) if card else "",
                    "card_signature": b64e(card.signature) if card else ""}
        case Cancel():
            body = {"type": "cancel", "case_id": message.case_id, "reason": message.reason}
        case Beacon():
            body = {"type": "beacon", "wall_ms": message.wall_ms}
        case Revocations():
            body = {"type": "revocations", "signed": b64e(message.signed)}
        case AskUnlock():
            body = {"type": "ask_unlock"}
        case UnlockShare():
            body = {"type": "unlock_share", "share": b64e(message.share)}
        case UnlockDenied():
            body = {"type": "unlock_denied", "reason": message.reason}
        case Status():
            body = {"type": "status", "branch": message.branch, "checkins_today": message.checkins_today,
                    "open_cases": message.open_cases, "wall_ms": message.wall_ms, "software": message.software,
                    "duplicates": message.duplicates, "anomalies": message.anomalies}
    return json.dumps({"v": VERSION, **body}, ensure_ascii=False, separators=(",", ":")).encode()


# -- decoding ------------------------------------------------------------------------------

_FIELDS: dict[str, frozenset[str]] = {
    "open_case": frozenset({"case_id", "created", "reason", "first_name", "last_name", "father_name",
                            "birth_date", "birth_certificate", "note", "disputed"}),
    "ack": frozenset({"case_id", "step"}),
    "decide": frozenset({"case_id", "kiosk", "ruling", "national_code", "reference", "reason", "decided_at",
                         "rep", "signature", "undo", "undo_signature", "card_certificate", "card_signature"}),
    "cancel": frozenset({"case_id", "reason"}),
    "beacon": frozenset({"wall_ms"}),
    "status": frozenset({"branch", "checkins_today", "open_cases", "wall_ms", "software", "duplicates",
                         "anomalies"}),
    "revocations": frozenset({"signed"}),
    "ask_unlock": frozenset(),
    "unlock_share": frozenset({"share"}),
    "unlock_denied": frozenset({"reason"}),
}


def decode(data: bytes) -> Message | Refused:
    """One message from wire bytes, or the reason it is refused."""
    return parse_strict(data, _message)


def parse_strict(data: bytes, build: Callable[[Any], T]) -> T | Refused:
    """Strict JSON (no duplicate keys, no NaN, bounded size) handed to `build`; a refusal for anything else.

    Shared by this schema and branch sync's (kiosk.net.sync_messages): `build` raises Malformed.
    """
    if len(data) > MAX_BYTES:
        return Refused("message too large")
    try:
        raw = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
        return build(raw)
    except Malformed as exc:
        return Refused(str(exc))
    except UnicodeDecodeError:
        return Refused("message is not UTF-8")
    except RecursionError:
        return Refused("message nests too deeply")
    except ValueError:
        return Refused("message is not JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise Malformed("duplicate key")
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise Malformed(f"{name} is not allowed")


def _message(raw: Any) -> Message:
    if not isinstance(raw, dict):
        raise Malformed("message is not an object")
    if type(raw.get("v")) is not int or raw["v"] != VERSION:
        raise Malformed("unsupported message version")
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in _FIELDS:
        raise Malformed("unknown message type")
    keys = set(raw) - {"v", "type"}
    if keys != _FIELDS[kind]:
        raise Malformed(f"{kind}: wrong fields")
    match kind:
        case "open_case":
            return _open_case(raw)
        case "ack":
            step = _text(raw, "step", 10)
            if step not in ACK_STEPS:
                raise Malformed("ack: unknown step")
            return Ack(_case_id(raw), step)
        case "decide":
            return _decide(raw)
        case "cancel":
            return Cancel(_case_id(raw), _text(raw, "reason", MAX_REASON))
        case "beacon":
            return Beacon(_int(raw, "wall_ms", 1 << 53))
        case "status":
            branch = _text(raw, "branch", 16)
            if not _BRANCH.match(branch):
                raise Malformed("status: bad branch")
            software = _text(raw, "software", 32)
            if not _VERSION_TEXT.match(software):
                raise Malformed("status: bad software version")
            return Status(branch, _int(raw, "checkins_today", MAX_COUNT), _int(raw, "open_cases", MAX_COUNT),
                          _int(raw, "wall_ms", 1 << 53), software, _int(raw, "duplicates", MAX_COUNT),
                          _int(raw, "anomalies", MAX_COUNT))
        case "revocations":
            return _revocations(raw)
        case "ask_unlock":
            return AskUnlock()
        case "unlock_share":
            return UnlockShare(_share(raw))
        case "unlock_denied":
            reason = _text(raw, "reason", 20)
            if reason not in DENIALS:
                raise Malformed("unlock_denied: unknown reason")
            return UnlockDenied(reason)
    raise AssertionError(kind)


def _revocations(raw: dict[str, Any]) -> Revocations:
    value = raw["signed"]
    if not isinstance(value, str) or len(value) > MAX_REVOCATIONS * 4 // 3 + 4:
        raise Malformed("revocations: not a list of at most the relayed size")
    try:
        signed = b64d(value)
    except (ValueError, TypeError) as exc:
        raise Malformed("revocations: bad encoding") from exc
    if not 0 < len(signed) <= MAX_REVOCATIONS:
        raise Malformed("revocations: not a list of at most the relayed size")
    return Revocations(signed)


def _open_case(raw: dict[str, Any]) -> OpenCase:
    try:
        reason = CaseReason(_text(raw, "reason", 32))
    except ValueError as exc:
        raise Malformed("open_case: unknown reason") from exc
    birth_text = _text(raw, "birth_date", 10)
    birth = parse_jalali(birth_text) if birth_text else None
    if birth_text and birth is None:
        raise Malformed("open_case: bad birth date")
    certificate = _text(raw, "birth_certificate", 10)
    if not _DIGITS.match(certificate):
        raise Malformed("open_case: bad birth-certificate number")
    names = [_text(raw, k, MAX_NAME) for k in ("first_name", "last_name", "father_name")]
    if not all(n.strip() for n in names):
        raise Malformed("open_case: a name is empty")
    note = _text(raw, "note", MAX_NOTE, newlines=True)
    disputed = _text(raw, "disputed", 30)
    if disputed and not CHECK_IN_REF.match(disputed):
        raise Malformed("open_case: bad disputed check-in")
    if disputed and reason is not CaseReason.DISPUTED:
        raise Malformed("open_case: a disputed check-in on a case that disputes none")
    form = CaseForm(names[0], names[1], names[2], birth, certificate, note, reason, disputed)
    return OpenCase(_case_id(raw), _when(raw, "created"), form)


def _decide(raw: dict[str, Any]) -> Decide:
    try:
        ruling = Ruling(_text(raw, "ruling", 10))
    except ValueError as exc:
        raise Malformed("decide: unknown ruling") from exc
    code = _text(raw, "national_code", 10)
    if code and not _CODE.match(code):
        raise Malformed("decide: bad national code")
    reference = _text(raw, "reference", MAX_REFERENCE)
    if not _REFERENCE.match(reference):
        raise Malformed("decide: bad reference")
    signature = _signature(raw, "signature")
    decision = Decision(_case_id(raw), _device(raw, "kiosk"), ruling, code, reference,
                        _text(raw, "reason", MAX_REASON), _when(raw, "decided_at"), _device(raw, "rep"))
    return Decide(decision, signature, _undo(raw, ruling), _card(raw))


MAX_CARD_CERTIFICATE, MAX_CARD_SIGNATURE = 8192, 512


def _card(raw: dict[str, Any]) -> CardEndorsement | None:
    """The card signature of a decide message: both fields or neither (the kiosk judges the certificate)."""
    certificate, signature = raw["card_certificate"], raw["card_signature"]
    if certificate == "" and signature == "":
        return None
    if not (isinstance(certificate, str) and isinstance(signature, str)) or \
            len(certificate) > MAX_CARD_CERTIFICATE * 4 // 3 + 4 or len(signature) > MAX_CARD_SIGNATURE * 4 // 3 + 4:
        raise Malformed("decide: bad card signature fields")
    try:
        card = CardEndorsement(b64d(certificate), b64d(signature))
    except (ValueError, TypeError) as exc:
        raise Malformed("decide: bad card signature encoding") from exc
    if not card.certificate or not card.signature:
        raise Malformed("decide: a card signature needs both its certificate and its signature")
    return card


def _undo(raw: dict[str, Any], ruling: Ruling) -> UndoAuthorization | None:
    """The undo authorization of a decide message: both fields or neither, and only with an approval."""
    target = _text(raw, "undo", 30)
    if not target and raw["undo_signature"] == "":
        return None
    if not CHECK_IN_REF.match(target):
        raise Malformed("decide: bad undo target")
    if ruling is not Ruling.APPROVE:
        raise Malformed("decide: an undo with a decision that approves nothing")
    return UndoAuthorization(target, _signature(raw, "undo_signature"))


def _signature(raw: dict[str, Any], key: str) -> bytes:
    try:
        signature = b64d(raw[key])
    except (ValueError, TypeError) as exc:
        raise Malformed(f"decide: bad {key} encoding") from exc
    if len(signature) != 64:
        raise Malformed(f"decide: bad {key} length")
    return signature


def _share(raw: dict[str, Any]) -> bytes:
    value = raw["share"]
    if not isinstance(value, str) or len(value) > 64:
        raise Malformed("unlock_share: bad share")
    try:
        share = b64d(value)
    except (ValueError, TypeError) as exc:
        raise Malformed("unlock_share: bad share encoding") from exc
    if len(share) != UNLOCK_SHARE_BYTES:
        raise Malformed("unlock_share: the share has the wrong length")
    return share


def _text(raw: dict[str, Any], key: str, limit: int, newlines: bool = False) -> str:
    value = raw[key]
    if not isinstance(value, str) or len(value) > limit:
        raise Malformed(f"{key}: not text of at most {limit} characters")
    if _CONTROL.search(value.replace("\n", "") if newlines else value):
        raise Malformed(f"{key}: control characters")
    if _SURROGATE.search(value):  # "\ud800" in JSON decodes to a string nothing can store or print
        raise Malformed(f"{key}: not valid Unicode")
    return value


def _int(raw: dict[str, Any], key: str, limit: int) -> int:
    value = raw[key]
    if type(value) is not int or not 0 <= value <= limit:
        raise Malformed(f"{key}: not a whole number in range")
    return value


def _case_id(raw: dict[str, Any]) -> str:
    value = _text(raw, "case_id", 20)
    if not CASE_ID.match(value):
        raise Malformed("bad case id")
    return value


def _device(raw: dict[str, Any], key: str) -> str:
    value = _text(raw, key, 16)
    if not _DEVICE.match(value):
        raise Malformed(f"{key}: bad device id")
    return value


def _when(raw: dict[str, Any], key: str) -> str:
    value = _text(raw, key, 40)
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise Malformed(f"{key}: not a time") from exc
    if parsed.tzinfo is None:
        raise Malformed(f"{key}: time without a zone")
    return value
