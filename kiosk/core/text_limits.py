"""One limit for each free-text field, equal to what the wire accepts, and the one check of typed text.

The decoders of the wire (kiosk.net.messages between kiosk and console,
kiosk.net.sync_messages between kiosks) refuse a longer text, or one holding
a control character or a lone surrogate. A kiosk that signed such a text into
its ledger would have every page of its ledger refused by its peers from then
on, so the core refuses it before anything is written, and the screens, the
console and the command line stop at the same limits.
"""
from __future__ import annotations

import re

MAX_EVENT_TEXT = 400    # a ledger event's ref and reason, as branch sync carries them
MAX_UNDO_REASON = MAX_EVENT_TEXT   # the typed reason of an undo is the undo event's reason, whole
MAX_NAME = 64           # a first, last or father's name on a case form
MAX_STAFF_NAME = MAX_NAME   # a staff member's name (shown on the sign-in list)
MAX_NOTE = 300          # the note on a case form (line breaks allowed: the case message carries them)
MAX_REASON = 200        # the representative's reason for a decision; a withdrawn case's reason
MAX_REFERENCE = 32      # a civil-registration reference

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class TextRefused(ValueError):
    """Typed text the wire would refuse: empty where text is needed, too long, or holding a control character."""


def text_problem(value: str, limit: int, newlines: bool = False, required: bool = False) -> str | None:
    """What is wrong with `value` as a field of at most `limit` characters, in words for one line; None if fine."""
    if required and not value.strip():
        return "is empty"
    if len(value) > limit:
        return f"is {len(value)} characters long; at most {limit} fit"
    if not newlines and ("\n" in value or "\r" in value):
        return "holds a line break; write it on one line"
    if _CONTROL.search(value.replace("\n", "") if newlines else value):
        return "holds a control character (a tab or another invisible character); type it again"
    if _SURROGATE.search(value):
        return "is not valid text (a broken character); type it again"
    return None


def check_text(value: str, what: str, limit: int, newlines: bool = False, required: bool = False) -> str:
    """`value` itself if the wire accepts it as `what`; TextRefused saying what is wrong and what to do if not."""
    problem = text_problem(value, limit, newlines, required)
    if problem is not None:
        raise TextRefused(f"{what} {problem}")
    return value


def clip(value: str, limit: int, newlines: bool = False) -> str:
    """What a text box keeps of typed or pasted text: no control characters (line breaks only if allowed), at most
    `limit` characters, so that what staff see is what the core accepts."""
    kept = value.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    if not newlines:
        kept = kept.replace("\n", " ")
    kept = _SURROGATE.sub("", (_CONTROL_BUT_NEWLINE if newlines else _CONTROL).sub("", kept))
    return kept[:limit]
