"""How each verdict looks: its own band colour and its own icon, so no two verdicts are told apart by words alone.

Within the scheme of kiosk/ui/colours.py: green is the one verdict that records, the refusals are reds and
darks, the verdicts a correction may mend are amber and yellow, "not found" is the blue of a question.
"""
from __future__ import annotations

from dataclasses import dataclass

from kiosk.core.eligibility import Verdict
from kiosk.ui import colours
from kiosk.ui.colours import Rgba


@dataclass(frozen=True, slots=True)
class Look:
    """A verdict's band colour, the ink of its words and the icon drawn beside them (kiosk/ui/icons.py)."""

    band: Rgba
    icon: str

    @property
    def ink(self) -> Rgba:
        return colours.ink_on(self.band)


LOOKS: dict[Verdict, Look] = {
    Verdict.ELIGIBLE: Look(colours.SUCCESS, "check"),
    Verdict.ALREADY_VOTED: Look(colours.ERROR, "ballot_box"),
    Verdict.UNDERAGE: Look((0.90, 0.50, 0.05, 1), "eighteen"),
    Verdict.DECEASED: Look((0.20, 0.20, 0.23, 1), "ribbon"),
    Verdict.SUSPENDED: Look((0.48, 0.07, 0.26, 1), "no_entry"),
    Verdict.NOT_FOUND: Look(colours.INFO, "magnifier"),
    Verdict.INVALID_CODE: Look((0.98, 0.82, 0.22, 1), "wrong_digit"),
    Verdict.CARD_NOT_TRUSTED: Look((0.40, 0.22, 0.60, 1), "card_warning"),
}
