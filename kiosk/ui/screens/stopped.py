"""The stop screen: an installed file is not as the authority signed it, so the device serves no one.

It says so in Persian, then in English, on one screen whatever the language
switch says, names the file and how it changed, and tells staff to call the
technician. The kiosk and the console show the same screen; it has no button.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from kivy.uix.screenmanager import Screen

from kiosk.trust.manifest import Difference
from kiosk.ui.screens import load_kv
from kiosk.ui.text import say

Serves = Literal["kiosk", "console"]
# What staff call each file of the package (the file's own name follows in brackets for the technician).
_WHAT = {"election.json": "election", "registry.sqlite": "registry", "authority.crt": "authority",
         "export.pub": "export_key", "manifest.json": "manifest", "manifest.sig": "manifest"}
_WHAT_UNDER = {"anchors/": "anchor", "roster/": "roster"}


class StoppedScreen(Screen):  # type: ignore[misc]
    """Persian, then English: stopped, which file, call the technician."""

    def __init__(self, difference: Difference, serves: Serves, **kwargs: Any) -> None:
        load_kv("stopped")
        super().__init__(name="stopped", **kwargs)
        self.difference = difference
        for lang in ("fa", "en"):
            for part, text in zip(("title", "body", "call", "technician"), stop_text(lang, difference, serves)):
                self.ids[f"{part}_{lang}"].raw = text


def stop_text(lang: str, difference: Difference, serves: Serves) -> tuple[str, str, str, str]:
    """The screen's parts in one language: title, what happened and to which file, whom to call, what they do."""
    what = say(lang, f"stopped.what.{what_file(difference.name)}")
    changed = say(lang, "stopped.file", what=what, name=difference.name,
                  how=say(lang, f"stopped.how.{difference.change.value}"))
    body = "\n".join((say(lang, "stopped.why"), say(lang, f"stopped.{serves}"), changed))
    return say(lang, "stopped.title"), body, say(lang, "stopped.call"), say(lang, "stopped.technician")


def what_file(name: str) -> str:
    """The catalogue's word for a package file."""
    if name in _WHAT:
        return _WHAT[name]
    return next((word for prefix, word in _WHAT_UNDER.items() if name.startswith(prefix)), "other")


def stop_root(root: Any, difference: Difference, serves: Serves) -> StoppedScreen:
    """Replace everything under an app's root (status bar, banners, the flow's screens) with the stop screen."""
    unfocus([root, *root.ids.screens.screens])   # screens off the window keep their text boxes
    stopped = StoppedScreen(difference, serves)
    root.clear_widgets()
    root.add_widget(stopped)
    return stopped


def unfocus(roots: Iterable[Any]) -> None:
    """No text box under `roots` keeps the keyboard: a focused box takes keys even off the screen (a wedge scanner)."""
    for root in roots:
        for widget in root.walk(restrict=True):
            if getattr(widget, "focus", False):
                widget.focus = False
