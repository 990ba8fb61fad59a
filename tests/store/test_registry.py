"""The registry snapshot: lookups, nothing readable without the key, integrity per record, cheap to open."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from helpers import PEOPLE, World, code, make_world
from kiosk.core.voter import CivilStatus, Gender
from kiosk.store.registry import Registry, RegistryError


def test_lookup_returns_the_person_or_none(world: World) -> None:
    registry = world.installed().open_registry()
    person = PEOPLE["deceased"]
    record = registry.lookup(person.code)
    assert record is not None
    assert (record.first_name, record.last_name, record.father_name) == (person.first, person.last, person.father)
    assert str(record.birth_date) == person.born
    assert record.gender is Gender.MALE and record.status is CivilStatus.DECEASED
    assert registry.lookup(code(999)) is None
    assert registry.voters == len(PEOPLE)


def test_wrong_key_is_refused(world: World) -> None:
    installed = world.installed()
    with pytest.raises(RegistryError, match="key does not match"):
        Registry(installed.package_dir / "registry.sqlite", b"\x00" * 64)


def test_a_record_moved_to_another_index_fails_to_open(world: World, tmp_path: Path) -> None:
    installed = world.installed()
    copy = tmp_path / "moved.sqlite"
    copy.write_bytes((installed.package_dir / "registry.sqlite").read_bytes())
    registry = Registry(copy, installed.registry_key)
    a, b = registry.voter_key(PEOPLE["eligible"].code), registry.voter_key(PEOPLE["deceased"].code)
    registry.close()
    db = sqlite3.connect(copy)
    va = db.execute("SELECT v FROM voters WHERE k=?", (a,)).fetchone()[0]
    vb = db.execute("SELECT v FROM voters WHERE k=?", (b,)).fetchone()[0]
    db.execute("UPDATE voters SET v=? WHERE k=?", (vb, a))
    db.execute("UPDATE voters SET v=? WHERE k=?", (va, b))
    db.commit()
    db.close()
    # The deceased person's record under the eligible person's index must not be served as theirs.
    registry = Registry(copy, installed.registry_key)
    with pytest.raises(RegistryError, match="integrity"):
        registry.lookup(PEOPLE["eligible"].code)


def test_not_a_registry_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.sqlite"
    bogus.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(RegistryError):
        Registry(bogus, b"\x01" * 64)


def _read_bytes_of_this_process() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar")


def test_opening_and_one_lookup_read_a_tiny_part_of_the_file(tmp_path: Path) -> None:
    codes = [code(n, office=11) for n in range(1, 20_001)]
    world = make_world(tmp_path, [f"{c},نرگس,امیری,یوسف,1350/01/01,female,alive" for c in codes])
    installed = world.installed()
    path = installed.package_dir / "registry.sqlite"
    size = path.stat().st_size
    before = _read_bytes_of_this_process()
    registry = Registry(path, installed.registry_key)
    assert registry.lookup(codes[12345]) is not None
    read = _read_bytes_of_this_process() - before
    registry.close()
    assert size > 1_000_000
    assert read < size / 20, f"read {read} of {size} bytes"


def test_installed_files_are_rechecked_against_the_signed_manifest(world: World) -> None:
    installed = world.installed()
    assert installed.verify_files() is None
    path = installed.package_dir / "registry.sqlite"
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x40
    path.write_bytes(bytes(data))
    assert installed.verify_files() == "package file altered: registry.sqlite"
