"""`kiosk-authority collect`: open the devices' close-of-polls bundles and total the election.

Each bundle is decrypted with the authority's export key, its device
certificate checked against the authority, its signature checked, and the
device's own ledger verified whole: every hash, every signature, no gap, and
ending at the head the device signed (so a removed tail shows). A bundle that
fails any check is refused with its reason and counts for nothing.

Kiosks also carry the branch events they synced from each other. Those are
judged by the same rule as live sync (kiosk.store.ledger.verify_chain) and
compared, entry by entry, with every other copy of the same device's chain:
two copies that disagree on an entry both signed by the device are an
equivocation, named in the report. A copy is used only where a kiosk's own
bundle is missing or ends earlier, so a kiosk whose storage died on the day
is still counted. Undos count by the one rule of kiosk.core.undo; a revoked
device's entries from its revocation time count for nothing. The content is
bounded in size and nesting before it is parsed, and a bundle that fails in
any way is one REFUSED line: the others are still collected.
"""
from __future__ import annotations

import json
import re
import stat
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519

from kiosk.core.closing import ClosingSummary, outcome_of, summarize
from kiosk.core.national_code import InvalidCode, parse_national_code
from kiosk.logbook import Event as LogEvent
from kiosk.logbook import log
from kiosk.store.ledger import Event, Kind, LedgerCorrupt, verify_chain
from kiosk.store.registry import RegistryKeys
from kiosk.core.cases import CardEndorsement, decision_from_fields
from kiosk.official_card import endorsement_problem
from kiosk.trust import bundle, certs
from kiosk.trust.canonical import b64d
from kiosk.trust.decisions import decision_verifies
from kiosk.trust.officials import officials_key
from kiosk.trust.officials import parse as parse_officials
from kiosk.trust.roster import Member, member_from_pem
from provisioning.officials import signed_officials
from provisioning.collect_rules import (Chain, Equivocation, events_from_rows, merge, reported_equivocation,
                                        ruled_undos, without_revoked)
from provisioning.authority import Authority
from provisioning.voters_csv import split_line

MAX_BUNDLE = 1 << 30
MAX_DEPTH = 16   # the deepest honest content is five levels (content, cases, a case, its form, ...)
_CONTENT_KEYS = {"format", "election", "device", "role", "branches", "created", "device_cert", "head", "events",
                 "certificates", "cases", "anomalies", "audit", "wipe_reason"}
_JSON_TOKENS = re.compile(rb'\\.|["\[\]{}]')


@dataclass(frozen=True, slots=True)
class Collected:
    """A bundle that verified."""

    file: str
    device: str
    role: str
    branches: tuple[str, ...]
    created: str
    own_events: int
    cases: int
    wipe_reason: str


@dataclass(frozen=True, slots=True)
class Refusal:
    """A bundle that did not verify, and why."""

    file: str
    reason: str


@dataclass(frozen=True, slots=True)
class CheckInSeen:
    """One live check-in of a voter found at more than one branch."""

    branch: str
    device: str
    seq: int
    wall: str


@dataclass(frozen=True, slots=True)
class CrossBranch:
    """A voter with live check-ins at more than one branch (code and name when the extract names them)."""

    voter: str                   # the keyed hash, hex
    code: str
    name: str
    check_ins: tuple[CheckInSeen, ...]


@dataclass
class Report:
    """Everything `collect` found."""

    bundles: list[Collected] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    skipped: list[Refusal] = field(default_factory=list)   # files given that are not bundles at all (no claim)
    branches: dict[str, ClosingSummary] = field(default_factory=dict)
    console_cases: dict[str, int] = field(default_factory=dict)   # outcome → cases in the consoles' books
    cross_branch: list[CrossBranch] = field(default_factory=list)
    same_branch_doubles: int = 0
    missing: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # enrolled kiosks with no bundle
    notes: list[str] = field(default_factory=list)
    equivocations: list[Equivocation] = field(default_factory=list)
    foreign_undos: list[tuple[str, int, str, str]] = field(default_factory=list)  # (device, seq, target, why)
    revoked: list[tuple[str, int]] = field(default_factory=list)   # (device, entries from its revocation time)
    decisions_refused: list[tuple[str, str]] = field(default_factory=list)   # (case id, why): signatures that fail


class BundleRefused(Exception):
    """Why one bundle is refused (safe to print: no personal data)."""


def collect(authority: Authority, files: Sequence[Path], voters_csv: Path | None = None) -> Report:
    """Verify every bundle, then total the verified ones by the same rules the devices apply."""
    report = Report()
    export_key = authority.export_key()
    own: dict[str, Chain] = {}
    relayed: list[Chain] = []
    cases: dict[str, list[dict[str, Any]]] = {}
    for path in files:
        skip = not_a_bundle(path)
        if skip is not None:
            report.skipped.append(Refusal(path.name, skip))
            continue
        try:
            opened = _open(authority, export_key, path)
        except BundleRefused as exc:
            report.refused.append(Refusal(path.name, str(exc)))
            log(LogEvent.BUNDLE_REFUSED, file=path.name, reason=str(exc))
            continue
        collected, chain, others, bundle_cases = opened.collected, opened.chain, opened.others, opened.cases
        report.bundles.append(collected)
        report.equivocations += opened.reported
        log(LogEvent.BUNDLE_COLLECTED, file=path.name, device=collected.device, events=collected.own_events)
        if collected.role == certs.Role.REP.value:
            for c in bundle_cases:
                outcome = outcome_of(c.get("status", ""), (c.get("decision") or {}).get("ruling"))
                report.console_cases[outcome] = report.console_cases.get(outcome, 0) + 1
            continue
        if chain is not None:
            if chain.device in own:   # two exports of one device: the longer counts, the other is compared
                relayed.append(own[chain.device] if len(chain.events) > len(own[chain.device].events) else chain)
            if chain.device not in own or len(chain.events) > len(own[chain.device].events):
                own[chain.device] = chain   # a later export of the same device holds more
                cases[chain.device] = bundle_cases
        relayed += others
    merged = merge(own, relayed, authority.config.id)
    report.notes += merged.notes
    report.equivocations += merged.equivocations
    chains, report.revoked = without_revoked(merged.chains, authority.revocations())
    consoles = {d: m for d, m in _members(authority).items() if m.role is certs.Role.REP}

    def console_key(rep: str, branches: tuple[str, ...]) -> ed25519.Ed25519PublicKey | None:
        member = consoles.get(rep)
        return member.public_key if member is not None and set(member.branches) & set(branches) else None
    undone, report.foreign_undos = ruled_undos(chains, authority.config.id, console_key)
    report.decisions_refused = check_decisions(authority, {c.device: c.branches for c in chains}, cases, console_key)
    _total(chains, undone, cases, report)
    _find_doubles(chains, undone, cases, authority, voters_csv, report)
    covered = {b.device for b in report.bundles}
    report.missing = [(d.device_id, d.branches) for d in authority.roster()
                      if d.role is certs.Role.KIOSK and d.device_id not in covered]
    return report


def check_decisions(authority: Authority, branches_of: dict[str, tuple[str, ...]],
                    cases: dict[str, list[dict[str, Any]]],
                    console_key: Callable[[str, tuple[str, ...]], ed25519.Ed25519PublicKey | None]
                    ) -> list[tuple[str, str]]:
    """Every decision a kiosk recorded, checked as the kiosk checked it: the console's signature, and the
    representative's card signature, which must be there once a representative of the branch has a card."""
    roster = parse_officials(signed_officials(authority), authority.key.public_key(), authority.config.id)
    key, anchors, day = officials_key(authority.index_secret()), authority.card_anchors(), authority.config.day
    refused: list[tuple[str, str]] = []
    for device, kiosk_cases in cases.items():
        branches = branches_of.get(device, ())
        for c in kiosk_cases:
            stored = c.get("decision")
            if not stored:
                continue
            try:
                decision = decision_from_fields(stored)
                signature = b64d(stored["signature"])
                card = CardEndorsement(b64d(stored["card_certificate"]), b64d(stored["card_signature"])) \
                    if stored.get("card_certificate") else None
            except (KeyError, ValueError, TypeError):
                refused.append((str(c.get("case_id", "?")), "the decision is malformed"))
                continue
            public = console_key(decision.rep, branches)
            if public is None or not decision_verifies(decision, authority.config.id, signature, public):
                refused.append((decision.case_id, "the console's signature does not verify"))
            elif (problem := endorsement_problem(card, decision, authority.config.id, anchors, day.to_gregorian(),
                                                 roster, key, branches)) is not None:
                refused.append((decision.case_id, problem))
    return refused


def not_a_bundle(path: Path) -> str | None:
    """Why a file given to collect is no bundle at all (skipped with a note), or None for one to open.

    `collect /media/usb/*` also names the .summary.txt files export writes beside
    the bundles, and whatever else is on the stick. A file that claims to be a
    bundle, by its name or by its first bytes, is opened, and refused if it fails.
    """
    if path.name.endswith(bundle.SUFFIX):
        return None
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            return "a folder, not a bundle"
        if not stat.S_ISREG(info.st_mode):
            return "not a bundle (not a regular file)"
        with open(path, "rb") as f:
            head = f.read(len(bundle.MAGIC))
    except OSError as exc:
        return f"not a bundle (cannot be read: {exc.strerror or exc})"
    return None if head == bundle.MAGIC else "not a bundle"


@dataclass
class _Opened:
    """What one verified bundle holds."""

    collected: Collected
    chain: Chain | None
    others: list[Chain]
    cases: list[dict[str, Any]]
    reported: list[Equivocation]


def _open(authority: Authority, export_key: Any, path: Path) -> _Opened:
    """One bundle, verified; BundleRefused with the reason for anything wrong in it, whatever its shape."""
    try:
        return _read(authority, export_key, path)
    except BundleRefused:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        # A device signed content that no honest device writes: refuse it, keep collecting the others.
        raise BundleRefused(f"bundle content is malformed ({type(exc).__name__})") from exc


def _read(authority: Authority, export_key: Any, path: Path) -> _Opened:
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):   # a folder or a pipe named like a bundle: never read (a pipe blocks)
            raise BundleRefused("not a regular file")
        if info.st_size > MAX_BUNDLE:
            raise BundleRefused("bundle is larger than any device writes")
        data = path.read_bytes()
    except OSError as exc:
        raise BundleRefused(f"cannot be read: {exc.strerror}") from exc
    try:
        header = bundle.read_header(data)[0]
        if header.election != authority.config.id:
            raise BundleRefused(f"bundle is for election {header.election}, not {authority.config.id}")
        opened = bundle.open_bundle(data, export_key)
    except bundle.BundleRefused as exc:
        raise BundleRefused(str(exc)) from exc
    if nesting_exceeds(opened.content, MAX_DEPTH):   # anyone can encrypt to the export key: bound before parsing
        raise BundleRefused(f"bundle content nests deeper than {MAX_DEPTH} levels")
    try:
        content = json.loads(opened.content)
    except ValueError as exc:
        raise BundleRefused("bundle content is not readable JSON") from exc
    if not isinstance(content, dict) or set(content) != _CONTENT_KEYS or content["format"] != 1:
        raise BundleRefused("bundle content has unexpected fields")
    cert, claims = _device(authority, content["device_cert"])
    key = cert.public_key()
    assert isinstance(key, ed25519.Ed25519PublicKey)  # verify_device checked it
    try:
        opened.verify(key)   # before anything else in the content is believed
    except bundle.BundleRefused as exc:
        raise BundleRefused(str(exc)) from exc
    if (claims.device_id, claims.role.value, claims.branches) != (header.device, header.role, header.branches) or \
            [content["device"], content["role"], content["branches"]] != [header.device, header.role,
                                                                           list(header.branches)]:
        raise BundleRefused("bundle names another device than its certificate")
    try:
        events = events_from_rows(content["events"])
    except ValueError as exc:
        raise BundleRefused("bundle events are malformed") from exc
    by_device: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        by_device[e.device].append(e)
    mine = by_device.pop(claims.device_id, [])
    _verify_own(mine, content["head"], authority.config.id, claims.device_id, key)
    chain = Chain(claims.device_id, claims.branches, mine, path.name, key) if claims.role is certs.Role.KIOSK \
        else None
    pems = content["certificates"]
    if not isinstance(pems, dict):
        raise BundleRefused("bundle certificates are malformed")
    others, keys = [], {}
    for device, relayed in by_device.items():
        branches, keys[device] = _peer(authority, pems.get(device), device)
        others.append(Chain(device, branches, relayed, f"{path.name} (copy held by {claims.device_id})",
                            keys[device]))
    reported = _reported(authority, content["anomalies"], pems, path.name)
    cases = _cases(content["cases"])
    wipe_reason = content["wipe_reason"] if isinstance(content["wipe_reason"], str) else ""
    collected = Collected(path.name, claims.device_id, claims.role.value, claims.branches, header.created,
                          len(mine), len(cases), wipe_reason)
    return _Opened(collected, chain, others, cases, reported)


def _reported(authority: Authority, anomalies: object, pems: dict[str, Any], source: str) -> list[Equivocation]:
    """The equivocations a kiosk caught live and kept proof of, where the proof holds (both runs signed)."""
    if not isinstance(anomalies, list):
        raise BundleRefused("bundle anomalies are malformed")
    found: list[Equivocation] = []
    kept = [a for a in anomalies if isinstance(a, dict) and a.get("kind") == "equivocation"
            and isinstance(a.get("device"), str) and isinstance(a.get("seq"), int)]
    members = _members(authority) if kept else {}
    for a in kept:
        member = members.get(a["device"])
        if member is None:
            continue
        proof = reported_equivocation(a.get("evidence"), a["device"], member.public_key, source, a["seq"])
        if proof is not None:
            found.append(proof)
    return found


def _members(authority: Authority) -> dict[str, Member]:
    """The enrolled devices as their certificates say (the roster the packages carry)."""
    members = (member_from_pem(d.cert_pem, authority.cert) for d in authority.roster())
    return {m.device_id: m for m in members if m is not None}


def nesting_exceeds(data: bytes, limit: int) -> bool:
    """Whether JSON text nests arrays and objects deeper than `limit` (strings and escapes are skipped)."""
    depth, in_string = 0, False
    for token in _JSON_TOKENS.finditer(data):
        t = token.group()
        if t[0] == 0x5C:        # a backslash escape, inside a string
            continue
        if t == b'"':
            in_string = not in_string
        elif not in_string:
            depth += 1 if t in (b"[", b"{") else -1
            if depth > limit:
                return True
    return False


def _cases(cases: object) -> list[dict[str, Any]]:
    """The bundle's cases, each with the fields the totals read in the types they need."""
    if not isinstance(cases, list) or not all(
            isinstance(c, dict) and isinstance(c.get("status"), str)
            and isinstance(c.get("decision"), dict | None) and isinstance(c.get("form", {}), dict)
            for c in cases):
        raise BundleRefused("bundle cases are malformed")
    return cases


def _device(authority: Authority, pem: object) -> tuple[x509.Certificate, certs.DeviceClaims]:
    if not isinstance(pem, str):
        raise BundleRefused("bundle carries no device certificate")
    try:
        cert = certs.load_certificate(pem.encode())
        return cert, certs.verify_device(cert, authority.cert)
    except certs.CertificateRefused as exc:
        raise BundleRefused(f"device certificate: {exc}") from exc


def _peer(authority: Authority, pem: object, device: str) -> tuple[tuple[str, ...], ed25519.Ed25519PublicKey]:
    """Branches and key of a kiosk whose events a bundle relays, from the certificate the bundle carries."""
    if not isinstance(pem, str):
        raise BundleRefused(f"bundle holds events of {device} without its certificate")
    cert, claims = _device(authority, pem)
    if claims.device_id != device or claims.role is not certs.Role.KIOSK:
        raise BundleRefused(f"bundle's certificate for {device} is not that kiosk's")
    key = cert.public_key()
    assert isinstance(key, ed25519.Ed25519PublicKey)
    return claims.branches, key


def _verify_own(events: list[Event], head: object, election: str, device: str,
                key: ed25519.Ed25519PublicKey) -> None:
    """The device's chain whole, and ending where the device said it ends: nothing removed, nothing changed."""
    try:
        counts = verify_chain(iter(events), election, device, key)
    except LedgerCorrupt as exc:
        raise BundleRefused(f"ledger of {device}: {exc}") from exc
    if not isinstance(head, dict) or head.get("seq") != counts.events or \
            (counts.events and head.get("hash") != counts.head):
        raise BundleRefused(f"ledger of {device} ends at entry {counts.events}, but the device signed "
                            f"a head at entry {head.get('seq') if isinstance(head, dict) else '?'}")


def _total(chains: list[Chain], undone: frozenset[str], cases: dict[str, list[dict[str, Any]]], report: Report) -> None:
    for chain in chains:
        branch = chain.branches[0] if chain.branches else "?"
        summary = summarize({f"{e.device}:{e.seq}": e.wall for e in chain.events if e.kind is Kind.CHECK_IN},
                            undone,
                            [outcome_of(c.get("status", ""), (c.get("decision") or {}).get("ruling"))
                             for c in cases.get(chain.device, [])])
        report.branches[branch] = report.branches.get(branch, ClosingSummary()) + summary


def _find_doubles(chains: list[Chain], undone: frozenset[str], cases: dict[str, list[dict[str, Any]]],
                  authority: Authority, voters_csv: Path | None, report: Report) -> None:
    seen: dict[bytes, list[CheckInSeen]] = defaultdict(list)
    for chain in chains:
        branch = chain.branches[0] if chain.branches else "?"
        for e in chain.events:
            if e.kind is Kind.CHECK_IN and f"{e.device}:{e.seq}" not in undone:
                seen[e.voter].append(CheckInSeen(branch, e.device, e.seq, e.wall))
    doubles = {v: s for v, s in seen.items() if len(s) > 1}
    across = {v: s for v, s in doubles.items() if len({c.branch for c in s}) > 1}
    report.same_branch_doubles = len(doubles) - len(across)
    names = _names(authority, set(across), cases, voters_csv)
    report.cross_branch = [CrossBranch(v.hex(), *names.get(v, ("", "")), tuple(sorted(s, key=lambda c: c.wall)))
                           for v, s in sorted(across.items(), key=lambda kv: min(c.wall for c in kv[1]))]


def _names(authority: Authority, wanted: set[bytes], cases: dict[str, list[dict[str, Any]]],
           voters_csv: Path | None) -> dict[bytes, tuple[str, str]]:
    """(code, name) for keyed hashes: from approvals in the cases, then from the registry extract."""
    if not wanted:
        return {}
    keys = RegistryKeys.derive(authority.index_secret() + bytes(32))
    found: dict[bytes, tuple[str, str]] = {}
    for c in (c for kiosk_cases in cases.values() for c in kiosk_cases):
        decision, form = c.get("decision") or {}, c.get("form") or {}
        code = decision.get("national_code") or ""
        if not (isinstance(code, str) and code.isascii() and code):
            continue
        if (key := keys.index_of(code)) in wanted:
            found[key] = (code, f"{form.get('first_name', '')} {form.get('last_name', '')}".strip())
    if voters_csv is not None:
        found.update(_names_from_extract(keys, wanted - set(found), voters_csv))
    return found


def _names_from_extract(keys: RegistryKeys, wanted: set[bytes], voters_csv: Path) -> dict[bytes, tuple[str, str]]:
    found: dict[bytes, tuple[str, str]] = {}
    with open(voters_csv, encoding="utf-8-sig", errors="replace") as f:
        next(f, None)
        for line in f:
            if not wanted:
                break
            code = parse_national_code(line.split(",", 1)[0])
            if isinstance(code, InvalidCode) or (key := keys.index_of(code)) not in wanted:
                continue
            fields = split_line(line.rstrip("\n")) or []
            found[key] = (code, " ".join(fields[1:3]) if len(fields) >= 3 else "")
            wanted.discard(key)
    return found


def report_lines(report: Report) -> list[str]:
    """The report as the authority reads it on screen (the double check-in list names people: authority only)."""
    lines = [f"collected {len(report.bundles)} bundles; refused {len(report.refused)}"]
    lines += [f"REFUSED  {r.file}: {r.reason}" for r in report.refused]
    lines += [f"skipped {s.file}: {s.reason}" for s in report.skipped]
    for b in report.bundles:
        forced = f"; forced wipe: {b.wipe_reason}" if b.wipe_reason else ""
        lines.append(f"  ok  {b.file}: {b.role} {b.device}, branch {', '.join(b.branches)}, "
                     f"{b.own_events} events, {b.cases} cases{forced}")
    for branch, s in sorted(report.branches.items()):
        outcomes = ", ".join(f"{o} {n}" for o, n in sorted(s.escalations.items()))
        lines.append(f"branch {branch}: {s.check_ins} check-ins, {s.undone} undone, "
                     f"{sum(s.escalations.values())} escalations{f' ({outcomes})' if outcomes else ''}")
        lines += [f"    {h:02d}:00  {n}" for h, n in sorted(s.by_hour.items())]
    if report.console_cases:
        lines.append("consoles' case books: " + ", ".join(f"{o} {n}" for o, n in sorted(report.console_cases.items())))
    lines.append(f"checked in at more than one branch: {len(report.cross_branch)}")
    for d in report.cross_branch:
        who = f"{d.code} {d.name}".strip() or f"(keyed hash {d.voter[:16]}…; pass --voters to name)"
        lines.append(f"  {who}")
        lines += [f"      branch {c.branch}, device {c.device} entry {c.seq}, {c.wall}" for c in d.check_ins]
    if report.same_branch_doubles:
        lines.append(f"checked in twice within one branch: {report.same_branch_doubles}")
    lines.append(f"equivocations (a device signed two different entries): {len(report.equivocations)}")
    lines += [f"  device {q.device} entry {q.seq}: {q.first_hash[:16]}… in {q.first}, "
              f"{q.second_hash[:16]}… in {q.second}" for q in report.equivocations]
    lines.append(f"undos that count for nothing: {len(report.foreign_undos)}")
    lines += [f"  device {d} entry {q} undoes {t}: {why}" for d, q, t, why in report.foreign_undos]
    lines += [f"revoked device {d}: {n} entries from its revocation time not counted" for d, n in report.revoked]
    lines.append(f"decisions whose signatures do not hold: {len(report.decisions_refused)}")
    lines += [f"  case {case_id}: {why}" for case_id, why in report.decisions_refused]
    lines += [f"no bundle from kiosk {d} (branch {', '.join(b)})" for d, b in report.missing]
    lines += [f"note: {n}" for n in report.notes]
    return lines


def report_json(report: Report) -> dict[str, Any]:
    """The report as data, for the authority's reports folder."""
    return {
        "bundles": [asdict(b) for b in report.bundles],
        "refused": [asdict(r) for r in report.refused],
        "skipped": [asdict(r) for r in report.skipped],
        "branches": {b: {"check_ins": s.check_ins, "undone": s.undone, "escalations": dict(s.escalations),
                         "by_hour": {f"{h:02d}": n for h, n in sorted(s.by_hour.items())}}
                     for b, s in sorted(report.branches.items())},
        "console_cases": report.console_cases,
        "cross_branch": [{"voter": d.voter, "code": d.code, "name": d.name,
                          "check_ins": [asdict(c) for c in d.check_ins]} for d in report.cross_branch],
        "same_branch_doubles": report.same_branch_doubles,
        "missing": [{"device": d, "branches": list(b)} for d, b in report.missing],
        "notes": report.notes,
        "equivocations": [asdict(q) for q in report.equivocations],
        "foreign_undos": [{"device": d, "seq": q, "undoes": t, "why": why} for d, q, t, why in report.foreign_undos],
        "revoked": [{"device": d, "entries_not_counted": n} for d, n in report.revoked],
        "decisions_refused": [{"case": c, "why": why} for c, why in report.decisions_refused],
    }

