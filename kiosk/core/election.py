"""An election's settings as the authority signs them and devices read them."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kiosk.core.eligibility import ElectionRules
from kiosk.core.jalali import JalaliDate, parse_jalali

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_BRANCH = re.compile(r"^[0-9A-Za-z-]{1,16}$")


class ConfigRefused(Exception):
    """An election config that is incomplete or wrong, with the field named."""


@dataclass(frozen=True, slots=True)
class Branch:
    """One polling branch of the constituency."""

    code: str
    name: str


@dataclass(frozen=True, slots=True)
class ElectionConfig:
    """The signed settings every device of one election shares."""

    id: str
    name: str
    day: JalaliDate
    min_age: int
    constituency: str
    branches: tuple[Branch, ...]
    card_trust_anchors: tuple[str, ...] = ()

    @property
    def rules(self) -> ElectionRules:
        """The eligibility rules of this election."""
        return ElectionRules(self.day, self.min_age)

    def branch_codes(self) -> frozenset[str]:
        """Codes of every branch, to check enrollments against."""
        return frozenset(b.code for b in self.branches)

    def to_mapping(self) -> dict[str, Any]:
        """The JSON form stored in the package."""
        return {
            "id": self.id, "name": self.name, "date": str(self.day), "min_age": self.min_age,
            "constituency": self.constituency,
            "branches": [{"code": b.code, "name": b.name} for b in self.branches],
            "card_trust_anchors": list(self.card_trust_anchors),
        }


def config_from_mapping(raw: Mapping[str, Any]) -> ElectionConfig:
    """Validate a parsed TOML or JSON election config; ConfigRefused names the first bad field."""
    election_id = _field(raw, "id", str)
    if not _ID.match(election_id):
        raise ConfigRefused("id: letters, digits, '.', '_' or '-', at most 64")
    day = parse_jalali(_field(raw, "date", str))
    if day is None:
        raise ConfigRefused("date: not a Jalali YYYY/MM/DD date")
    min_age = raw.get("min_age", 18)
    if not isinstance(min_age, int) or isinstance(min_age, bool) or not 15 <= min_age <= 25:
        raise ConfigRefused("min_age: an integer between 15 and 25")
    branches_raw = raw.get("branches")
    if not isinstance(branches_raw, list) or not branches_raw:
        raise ConfigRefused("branches: at least one [[branches]] entry")
    branches = tuple(_branch(b) for b in branches_raw)
    if len({b.code for b in branches}) != len(branches):
        raise ConfigRefused("branches: a branch code appears twice")
    anchors = raw.get("card_trust_anchors", [])
    if not isinstance(anchors, list) or not all(isinstance(a, str) and a for a in anchors):
        raise ConfigRefused("card_trust_anchors: a list of file names")
    return ElectionConfig(
        id=election_id, name=_field(raw, "name", str), day=day, min_age=min_age,
        constituency=_field(raw, "constituency", str), branches=branches,
        card_trust_anchors=tuple(anchors),
    )


def _branch(raw: object) -> Branch:
    if not isinstance(raw, Mapping):
        raise ConfigRefused("branches: each entry needs code and name")
    code = _field(raw, "code", str)
    if not _BRANCH.match(code):
        raise ConfigRefused(f"branches: code {code!r} is not 1-16 letters or digits")
    return Branch(code, _field(raw, "name", str))


def _field(raw: Mapping[str, Any], name: str, kind: type) -> Any:
    value = raw.get(name)
    if not isinstance(value, kind) or (isinstance(value, str) and not value.strip()):
        raise ConfigRefused(f"{name}: missing or not a {kind.__name__}")
    return value
