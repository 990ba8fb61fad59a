"""Builders shared by the tests: synthetic people, an authority, a provisioned device."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from drivers.card.minting import CardAuthority, IssuedCard
from kiosk.core.national_code import check_digit
from kiosk.state import Installed
from kiosk.trust import certs
from kiosk.trust.roster import ROSTER_DIR
from kiosk.trust.sealed import DataKeys
from provisioning.authority import Authority, load_election_toml
from provisioning.device import init_device, install
from provisioning.officials import add_official
from provisioning.package import build_package
from kiosk.store.atomic import write_atomic

ELECTION_DAY = "1405/03/01"
HEADER = "national_code,first_name,last_name,father_name,birth_date,gender,status"

ELECTION_TOML = """\
id = "{id}"
name = "انتخابات آزمایشی"
date = "{day}"
min_age = 18
constituency = "تهران"

[[branches]]
code = "1001"
name = "دبستان فردوسی"

[[branches]]
code = "1002"
name = "مسجد جامع"
"""


def code(n: int, office: int = 1) -> str:
    """The n-th synthetic valid national code of an office (n ≥ 1)."""
    first_nine = f"{office:03d}{n:06d}"
    return first_nine + str(check_digit(first_nine))


@dataclass(frozen=True)
class Person:
    """One synthetic registry row."""

    code: str
    first: str = "زهرا"
    last: str = "احمدی"
    father: str = "محمد"
    born: str = "1360/05/12"
    gender: str = "female"
    status: str = "alive"

    def row(self) -> str:
        return ",".join((self.code, self.first, self.last, self.father, self.born, self.gender, self.status))


# A small registry whose every person has a known verdict on ELECTION_DAY.
PEOPLE = {
    "eligible": Person(code(1), "علی", "رضایی", "حسن", "1360/05/12", "male"),
    "birthday_today": Person(code(2), "مریم", "کریمی", "احمد", "1387/03/01"),
    "one_day_short": Person(code(3), "سارا", "موسوی", "رضا", "1387/03/02"),
    "underage": Person(code(4), "امیر", "حسینی", "مهدی", "1395/01/20", "male"),
    "deceased": Person(code(5), "حسین", "جعفری", "علی", "1330/11/03", "male", "deceased"),
    "suspended": Person(code(6), "رضا", "صادقی", "کاظم", "1370/02/15", "male", "suspended"),
}


def write_csv(path: Path, lines: list[str], header: str = HEADER) -> Path:
    write_atomic(path, ("\n".join([header, *lines]) + "\n").encode())
    return path


def write_election(folder: Path, election_id: str = "test-1405", day: str = ELECTION_DAY) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{election_id}.toml"
    path.write_text(ELECTION_TOML.format(id=election_id, day=day), encoding="utf-8")
    return path


@dataclass
class World:
    """An authority, its election file and extract, and helpers to make devices."""

    root: Path
    authority: Authority
    election: Path
    voters: Path
    states: list[Path] = field(default_factory=list)

    def device(self, name: str, role: certs.Role = certs.Role.KIOSK, branches: tuple[str, ...] = ("1001",)) -> tuple[Path, Path]:
        """Initialise and enroll a device: (state folder, certificate path).

        Devices made earlier got their package before this one was enrolled: it is added to their
        roster as a technician would (`kiosk-provision update` with the new certificate).
        """
        state = self.root / name
        csr = init_device(state)
        cert = self.authority.enroll(csr.public_bytes(serialization.Encoding.PEM), role, branches)
        cert_path = self.root / f"{name}.crt"
        cert_path.write_bytes(certs.cert_pem(cert))
        device_id = certs.verify_device(cert, self.authority.cert).device_id
        for earlier in self.states:
            (earlier / ROSTER_DIR).mkdir(exist_ok=True)
            (earlier / ROSTER_DIR / f"{device_id}.pem").write_bytes(certs.cert_pem(cert))
        self.states.append(state)
        return state, cert_path

    def package(self, name: str = "PKG", **kw: object) -> Path:
        out = self.root / name
        result = build_package(self.authority, load_election_toml(self.election), self.election.parent,
                               self.voters, out, **kw)  # type: ignore[arg-type]
        assert result.package == out, result.rejects
        return out

    def installed(self, name: str = "kiosk1", role: certs.Role = certs.Role.KIOSK,
                  branches: tuple[str, ...] = ("1001",), unlocked: bool = True) -> Installed:
        """A device enrolled before the build, with the package installed (and unlocked for the day)."""
        state, cert = self.device(name, role, branches)
        pkg = self.package(f"PKG-{name}")
        installed = install(state, pkg, cert, self.authority.folder / "authority.crt")
        return self.unlock(installed) if unlocked else installed

    def recovery_code(self, device_id: str) -> str:
        """The device's recovery code, as the sheet for the branch's sealed envelope prints it."""
        return self.authority.device_secrets(device_id).recovery_code

    def unlock(self, installed: Installed) -> Installed:
        """The start-of-day unlock by recovery code (remembered for this boot's other processes)."""
        return installed.unlock_with_code(self.recovery_code(installed.claims.device_id))

    def unlock_state(self, state: Path) -> Installed:
        """The start-of-day unlock of the device installed in `state`, for the commands run on it next."""
        return self.unlock(Installed.open(state))

    def console(self, name: str = "rep1", branches: tuple[str, ...] = ("1001",)) -> Installed:
        """A representative's console for `branches`, provisioned like any device."""
        return self.installed(name, certs.Role.REP, branches)

    def trust_cards(self) -> CardAuthority:
        """A throwaway national-card authority, named in the election file as its card trust anchor."""
        ca = CardAuthority()
        (self.election.parent / "nid-ca.pem").write_bytes(ca.pem())
        toml = self.election.read_text("utf-8")
        self.election.write_text(toml.replace("[[branches]]", 'card_trust_anchors = ["nid-ca.pem"]\n\n[[branches]]',
                                              1), encoding="utf-8")
        return ca

    def official(self, account: str, role: str, national_code: str, card: IssuedCard | None = None,
                 branches: tuple[str, ...] = ("1001",)) -> None:
        """Enroll an official, with their card when one is given (before the package is built)."""
        add_official(self.authority, account, role, list(branches), national_code,
                     card.certificate if card is not None else None)


def data_keys() -> DataKeys:
    """A fresh unlocked data key, for a staff book or cases kept outside any device's state."""
    from cryptography.hazmat.primitives.asymmetric import x25519
    private = x25519.X25519PrivateKey.generate()
    return DataKeys(private.public_key(), private)


def make_world(root: Path, lines: list[str] | None = None, election_id: str = "test-1405") -> World:
    election = write_election(root / "config", election_id)
    authority = Authority.init(root / f"AUTH-{election_id}", load_election_toml(election))
    voters = write_csv(root / "voters.csv", lines if lines is not None else [p.row() for p in PEOPLE.values()])
    return World(root, authority, election, voters)
