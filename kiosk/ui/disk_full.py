"""When the state disk is full: a notice over the app instead of a crash, in Persian and then in English.

A write to the ledger, the case outbox or the staff file on a full disk raises
OSError (ENOSPC) or sqlite3's "database or disk is full"; nothing was written
(the transaction rolled back). Whatever command of the flow it came from, the
exception reaches Kivy's main loop, where this handler catches exactly that
case, shows the notice and lets the app run on; staff can try again once the
technician has made room. Any other exception still stops the app as before.
"""
from __future__ import annotations

import errno
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

from kivy.base import ExceptionHandler, ExceptionManager
from kivy.uix.modalview import ModalView

from kiosk.logbook import Event, log
from kiosk.ui.screens import load_kv
from kiosk.ui.text import say

_FULL = (errno.ENOSPC, errno.EDQUOT)
PARTS = ("title", "body", "call", "technician")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and those it was raised from or during (a failed ROLLBACK after a failed write)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def is_disk_full(exc: BaseException) -> bool:
    """True when a write failed because the disk (or the user's quota) is full."""
    for link in _chain(exc):
        if isinstance(link, OSError) and link.errno in _FULL:
            return True
        if isinstance(link, sqlite3.OperationalError) and "database or disk is full" in str(link):
            return True
    return False


class DiskFullNotice(ModalView):  # type: ignore[misc]
    """Persian, then English: the storage is full, what was done was not recorded, call the technician."""

    def __init__(self, **kwargs: Any) -> None:
        load_kv("disk_full")
        super().__init__(auto_dismiss=False, **kwargs)
        for lang in ("fa", "en"):
            for part in PARTS:
                self.ids[f"{part}_{lang}"].raw = say(lang, f"disk_full.{part}")
        self.ids.close.raw = f"{say('fa', 'disk_full.close')} / {say('en', 'disk_full.close')}"


class DiskFullHandler(ExceptionHandler):  # type: ignore[misc]
    """Kivy's main loop asks this handler about every exception that reached it."""

    def __init__(self, show: Callable[[], None]) -> None:
        super().__init__()
        self._show = show

    def handle_exception(self, inst: BaseException) -> int:
        if not is_disk_full(inst):
            return int(ExceptionManager.RAISE)
        log(Event.STATE_DISK_FULL, error=type(inst).__name__)
        self._show()
        return int(ExceptionManager.PASS)


def watch_disk_full(show: Callable[[], None]) -> DiskFullHandler:
    """Install the handler for the app's lifetime; remove it with `ExceptionManager.remove_handler`."""
    handler = DiskFullHandler(show)
    ExceptionManager.add_handler(handler)
    return handler
