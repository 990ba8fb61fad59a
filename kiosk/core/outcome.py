"""What the kiosk tells staff about one person: plain values the UI renders and the CLI prints."""
from __future__ import annotations

from dataclasses import dataclass

from kiosk.core.eligibility import Verdict
from kiosk.core.jalali import JalaliDate
from kiosk.core.national_code import CodeProblem
from kiosk.core.voter import VoterRecord


@dataclass(frozen=True, slots=True)
class Recorded:
    """A check-in that is on disk."""

    seq: int
    wall: str


@dataclass(frozen=True, slots=True)
class AlreadyCheckedIn:
    """The voter has a live check-in: where and when."""

    device: str
    seq: int
    wall: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """The verdict on one person and what staff need to see with it."""

    verdict: Verdict
    record: VoterRecord | None = None
    eligible_on: JalaliDate | None = None
    previous: AlreadyCheckedIn | None = None
    problem: CodeProblem | None = None
    voter_key: bytes | None = None

    def to_json(self) -> dict[str, object]:
        """The fields staff need, for `kiosk check` (a technician's tool that may show names)."""
        out: dict[str, object] = {"verdict": self.verdict.value}
        if self.record is not None:
            r = self.record
            out.update(first_name=r.first_name, last_name=r.last_name, father_name=r.father_name,
                       birth_year=r.birth_date.year, birth_date=str(r.birth_date), gender=r.gender.value)
        if self.eligible_on is not None:
            out["eligible_on"] = str(self.eligible_on)
        if self.previous is not None:
            out["checked_in"] = {"device": self.previous.device, "seq": self.previous.seq,
                                 "at": self.previous.wall}
        if self.problem is not None:
            out["problem"] = self.problem.value
        return out


@dataclass(frozen=True, slots=True)
class CheckedIn:
    """A check-in that is durable; only now may the screen say "done"."""

    outcome: Outcome
    recorded: Recorded
