"""One colour scheme for the kiosk and the console: green success, red error, blue information, amber attention.

Staff learn it once: a green line is good news, a red one a refusal or a fault, blue says what is going on,
amber asks for their attention. Text on amber is dark, on the others white.
"""
from __future__ import annotations

Rgba = tuple[float, float, float, float]

SUCCESS: Rgba = (0.11, 0.50, 0.22, 1)
ERROR: Rgba = (0.74, 0.11, 0.11, 1)
INFO: Rgba = (0.10, 0.35, 0.66, 1)
ATTENTION: Rgba = (0.93, 0.62, 0.05, 1)
NEUTRAL: Rgba = (0.32, 0.32, 0.36, 1)
WHITE: Rgba = (1, 1, 1, 1)
DARK: Rgba = (0.08, 0.08, 0.10, 1)

# Text drawn on the screen's light background in each sense (the notices): darker shades of the same hues.
SUCCESS_TEXT: Rgba = (0.05, 0.42, 0.15, 1)
ERROR_TEXT: Rgba = (0.70, 0.08, 0.08, 1)
INFO_TEXT: Rgba = (0.06, 0.28, 0.58, 1)
ATTENTION_TEXT: Rgba = (0.55, 0.33, 0.0, 1)


def ink_on(background: Rgba) -> Rgba:
    """Dark text on a light background (amber, yellow), white on a dark one: by the colour's luminance."""
    red, green, blue, _ = background
    return DARK if 0.2126 * red + 0.7152 * green + 0.0722 * blue > 0.5 else WHITE


# The sense of each notice of the kiosk and the console, by its value; any other is an error or a refusal.
_SUCCESS_NOTICES = frozenset({"worker_added", "decision_arrived", "case_withdrawn", "printed", "decided",
                              "unlock_sent"})
_INFO_NOTICES = frozenset({"printing", "case_gone", "unlock_not_asking"})
_ATTENTION_NOTICES = frozenset({"form_incomplete", "head_confirmation", "approval_reason", "approval_changed",
                                "decision_incomplete", "duplicate_check_in", "card_removed"})


def notice_ink(value: str) -> Rgba:
    """The colour of a notice's words on the screen's light background: green, blue, amber or red."""
    if value in _SUCCESS_NOTICES:
        return SUCCESS_TEXT
    if value in _INFO_NOTICES:
        return INFO_TEXT
    if value in _ATTENTION_NOTICES:
        return ATTENTION_TEXT
    return ERROR_TEXT
