"""The stolen-copy test (issue 14): a byte-for-byte copy of a kiosk's and of a console's storage, taken while
they serve and again after they were shut down, with the package and the public parts of the authority's
folder, yields no name, no national code, and no link from a ledger entry to a person.

The thief runs this project's own code on the copy (it is open source): it opens the device's envelope with
the at-rest key it finds, tries every key-sized string of every file as the other share, as the registry key,
as the index key and as the officials' key, and enumerates national codes against every keyed hash present
(the ledger's voters, the officials roster's codes). Before this issue's fix every one of these held.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import PEOPLE, World, code
from kiosk.core.cases import CaseForm, CaseReason, Decision, Ruling
from kiosk.core.staff import Role
from kiosk.rep.book import CaseBook
from kiosk.rep.service import CASE_BOOK
from kiosk.state import Installed, UnlockRefused
from kiosk.store.registry import Registry, RegistryError, RegistryKeys
from kiosk.trust.officials import officials_key
from provisioning.device import install

PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
HEAD = code(901)
APPROVED = code(950)                      # the national code the representative approved for a case
TYPED = ("نرگس", "کاظمی", "جواد", "مریم رضایی", "شناسنامه ۴۵۶۷")   # what staff typed: a case, the head's name


@dataclass
class Day:
    kiosk: Installed
    console: Installed
    package: Path
    public: list[Path]


def _a_day(world: World) -> Day:
    """A kiosk and a console of one branch after a morning's work: staff, a check-in, a case decided."""
    world.official("head-1001", "head", HEAD, world.trust_cards().issue(HEAD))
    kiosk_state, kiosk_cert = world.device("k1")
    console = world.console("rep1")
    kiosk = world.unlock(install(kiosk_state, world.root / "PKG-rep1", kiosk_cert,
                                 world.authority.folder / "authority.crt"))
    kiosk.staff_book().set_pin("head", "مریم رضایی", Role.HEAD, "135790")
    console.staff_book().set_pin("rep", "نماینده فرماندار", Role.HEAD, "246802")
    ledger = kiosk.open_ledger()
    registry = kiosk.open_registry()
    ledger.check_in(registry.voter_key(PEOPLE["eligible"].code))
    outbox = kiosk.open_outbox(ledger)
    form = CaseForm("نرگس", "کاظمی", "جواد", None, "4567", "شناسنامه ۴۵۶۷", CaseReason.NOT_FOUND)
    case = outbox.raise_case(form)
    decision = Decision(case.case_id, kiosk.claims.device_id, Ruling.APPROVE, APPROVED, "", "",
                        "2026-11-25T08:00:00+00:00", console.claims.device_id)
    outbox.record_decision(decision, b"s" * 64, registry.voter_key(APPROVED))
    outbox.cancel(outbox.raise_case(form).case_id, "نرگس کاظمی left")
    ledger.close()
    book = CaseBook(console.state / CASE_BOOK, console.data_keys())
    book.receive(kiosk.claims.device_id, "1001", case.case_id, case.created, form)
    book.decide(case.case_id, decision, b"s" * 64)
    book.close()
    folder = world.authority.folder
    public = [folder / "authority.crt", folder / "election.json", world.election, world.election.parent / "nid-ca.pem"]
    return Day(kiosk, console, world.root / "PKG-rep1", public)


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]


def _candidates(roots: list[Path]) -> set[bytes]:
    """Every 32- and 64-byte string a thief can find: raw slices of small files, base64 and hex in JSON, rows."""
    found: set[bytes] = set()
    for root in roots:
        for path in _files(root) if root.is_dir() else [root]:
            data = path.read_bytes()
            if len(data) in (32, 64):
                found.add(data)
            texts: list[str] = []
            try:
                texts = _strings(json.loads(data))
            except ValueError:
                pass
            if path.suffix == ".sqlite" and path.stat().st_size < 64 << 20:
                texts += _sqlite_texts(path, found)
            for text in texts:
                for decode in (lambda t: base64.b64decode(t, validate=True), bytes.fromhex):
                    try:
                        raw = decode(text.removeprefix("sealed:"))
                    except ValueError:
                        continue
                    found.update(raw[i:i + n] for n in (32, 64) for i in range(0, max(len(raw) - n, 0) + 1, 8)
                                 if len(raw) >= n)
    return found


def _sqlite_texts(path: Path, found: set[bytes]) -> list[str]:
    texts: list[str] = []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            if table == "voters":
                continue   # the registry's rows: encrypted records, 16-byte keyed hashes
            for row in db.execute(f"SELECT * FROM {table}"):
                for value in row:
                    if isinstance(value, bytes) and len(value) in (32, 64):
                        found.add(value)
                    elif isinstance(value, str):
                        texts.append(value)
    finally:
        db.close()
    return texts


def _voter_hashes(state: Path) -> set[bytes]:
    db = sqlite3.connect(f"file:{state / 'ledger.sqlite'}?mode=ro", uri=True)
    try:
        return {bytes(v) for (v,) in db.execute("SELECT voter FROM events") if v}
    finally:
        db.close()


def _everyone() -> list[str]:
    return [p.code for p in PEOPLE.values()] + [HEAD, APPROVED]


def _look_for_people(roots: list[Path]) -> list[str]:
    """Every name and national code, in every way a file may hold it, found anywhere in the copy."""
    needles: dict[str, bytes] = {}
    names = [n for p in PEOPLE.values() for n in (p.first, p.last, p.father)] + list(TYPED)
    for text in [*names, *_everyone(), *(c.translate(PERSIAN) for c in _everyone())]:
        needles[text] = text.encode()
        needles[text + " (json)"] = json.dumps(text)[1:-1].encode()
        needles[text + " (utf-16)"] = text.encode("utf-16-le")
    hits = []
    for root in roots:
        for path in _files(root) if root.is_dir() else [root]:
            data = path.read_bytes()
            hits += [f"{label} in {path.relative_to(root.parent)}" for label, needle in needles.items()
                     if len(needle) >= 8 and needle in data]
    return hits


@pytest.fixture
def thiefs_machine(unlocks_of_this_test: Path) -> Path:
    """Another machine: its RAM holds none of this boot's unlocks."""
    elsewhere = unlocks_of_this_test.parent / f"{unlocks_of_this_test.name}-thief"
    elsewhere.mkdir()
    return elsewhere


def _thief(copy_of_kiosk: Path, copy_of_console: Path, package: Path, public: list[Path],
           machine: Path) -> list[str]:
    """Everything the thief gets out of the copies on its own machine: an empty list when nothing opened."""
    import os
    kept = os.environ["KIOSK_UNLOCK_DIR"]
    os.environ["KIOSK_UNLOCK_DIR"] = str(machine)
    try:
        return _attack(copy_of_kiosk, copy_of_console, package, public)
    finally:
        os.environ["KIOSK_UNLOCK_DIR"] = kept


def _attack(copy_of_kiosk: Path, copy_of_console: Path, package: Path, public: list[Path]) -> list[str]:
    roots = [copy_of_kiosk, copy_of_console, package, *public]
    got = _look_for_people(roots)
    candidates = _candidates(roots)
    assert len(candidates) > 100   # the attack had material to try
    codes = _everyone()
    voters = _voter_hashes(copy_of_kiosk)
    assert len(voters) >= 2
    roster = json.loads((package / "officials.json").read_text("utf-8"))
    code_hashes = {o["code_hash"] for o in roster["officials"]}
    for copy in (copy_of_kiosk, copy_of_console):
        device = Installed.open(copy)   # the project's own code: it opens the envelope with the at-rest key
        assert device.locked
        for share in (c for c in candidates if len(c) == 32):
            try:
                device.unlock(share)
                got.append(f"the share {share.hex()[:8]} unlocked {copy.name}")
            except UnlockRefused:
                pass
    registry = package / "registry.sqlite"
    for key in candidates:
        if len(key) == 64:
            try:
                Registry(registry, key).close()
                got.append("a registry key")
            except RegistryError:
                pass
            index_of = RegistryKeys.derive(key).index_of
            if any(index_of(c) in voters for c in codes):
                got.append("a ledger entry linked to a person (registry key)")
        else:
            raw = [hashlib.blake2b(c.encode(), key=key, digest_size=16).digest() for c in codes]
            if set(raw) & voters:
                got.append("a ledger entry linked to a person (index key)")
            for secret in (key, officials_key(key)):
                if {hmac.new(secret, c.encode(), hashlib.sha256).hexdigest() for c in codes} & code_hashes:
                    got.append("an official's national code")
    return got


def test_a_copy_taken_while_serving_and_after_shutdown_gives_away_no_one(world: World, tmp_path: Path,
                                                                       unlocks_of_this_test: Path,
                                                                       thiefs_machine: Path) -> None:
    day = _a_day(world)
    running_kiosk, running_console = tmp_path / "stolen-running" / "kiosk", tmp_path / "stolen-running" / "console"
    ledger = day.kiosk.open_ledger()   # serving: the ledger open, its write-ahead log on the card
    try:
        shutil.copytree(day.kiosk.state, running_kiosk, symlinks=True)
        shutil.copytree(day.console.state, running_console, symlinks=True)
    finally:
        ledger.close()
    assert _thief(running_kiosk, running_console, day.package, day.public, thiefs_machine) == []
    for remembered in unlocks_of_this_test.iterdir():   # shut down: the RAM folder is gone
        remembered.unlink()
    off_kiosk, off_console = tmp_path / "stolen-off" / "kiosk", tmp_path / "stolen-off" / "console"
    shutil.copytree(day.kiosk.state, off_kiosk, symlinks=True)
    shutil.copytree(day.console.state, off_console, symlinks=True)
    assert _thief(off_kiosk, off_console, day.package, day.public, thiefs_machine) == []


def test_the_thiefs_tools_do_find_what_is_left_in_clear(world: World, tmp_path: Path, thiefs_machine: Path) -> None:
    """The attack is not blind: a registry key left on the disk, or a name in clear, is found."""
    day = _a_day(world)
    kiosk, console = tmp_path / "kiosk", tmp_path / "console"
    shutil.copytree(day.kiosk.state, kiosk, symlinks=True)
    shutil.copytree(day.console.state, console, symlinks=True)
    assert day.kiosk.secrets is not None and day.kiosk.secrets.registry_key is not None
    (kiosk / "registry.key").write_bytes(day.kiosk.secrets.registry_key)   # the first wave's mistake
    (console / "note.txt").write_text("مریم رضایی", encoding="utf-8")
    got = _thief(kiosk, console, day.package, day.public, thiefs_machine)
    assert "a registry key" in got and "a ledger entry linked to a person (registry key)" in got
    assert any(hit.startswith("مریم رضایی in") for hit in got)
