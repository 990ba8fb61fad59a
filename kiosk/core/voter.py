"""What the civil registry says about one person, as the kiosk needs it."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from kiosk.core.jalali import JalaliDate


class Gender(Enum):
    """Gender as the registry extract gives it."""

    MALE = "male"
    FEMALE = "female"


class CivilStatus(Enum):
    """Registry status of a person on the day the extract was frozen."""

    ALIVE = "alive"
    DECEASED = "deceased"
    SUSPENDED = "suspended"


@dataclass(frozen=True, slots=True)
class VoterRecord:
    """One registry row, without the national code (the kiosk already has it)."""

    first_name: str
    last_name: str
    father_name: str
    birth_date: JalaliDate
    gender: Gender
    status: CivilStatus
