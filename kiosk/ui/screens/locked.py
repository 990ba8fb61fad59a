"""The locked screen: until the day's unlock, the kiosk shows only its three ways to be unlocked.

The head's card with its PIN, a request to the governor's representative, or
the recovery code from the branch's sealed envelope: three buttons choose the
way, and only the chosen way's box and button show (the card first), so the
screen fits the 7" panel and a tired clerk sees one thing to do. The keypad
types into the chosen way's box. Nothing here reads a registry or shows a
person; the device's records stay as they were.
"""
from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.uix.screenmanager import Screen

from kiosk.unlock_routes import Answer, UnlockRoutes
from kiosk.ui.limits import limit_pin_box
from kiosk.ui.screens import load_kv
from kiosk.ui.text import say
from kiosk.ui.widgets import in_reading_order

CODE_MAX = 32   # 20 digits, with room for the spaces of the printed groups
WAYS = ("card", "console", "code")
_HINTS = {"card": "locked.card.hint", "console": "locked.console.hint", "code": "locked.code.hint"}


class LockedScreen(Screen):  # type: ignore[misc]
    """Three ways in; answers arrive from worker threads and are shown on Kivy's."""

    def __init__(self, routes: UnlockRoutes, lang: str = "fa", **kwargs: Any) -> None:
        load_kv("locked")
        super().__init__(name="locked", **kwargs)
        self.routes, self.lang = routes, lang
        self.answer: Answer | None = None
        self.way = "card"
        # Only the chosen way's panel is in the layout; the others are kept here (ids hold weak references).
        self.panels = {way: self.ids[f"{way}_panel"].__self__ for way in WAYS}
        for panel in self.panels.values():
            panel.parent.remove_widget(panel)
        self.ways_in_reading_order: tuple[Any, ...] = tuple(self.ids[f"way_{w}"].__self__ for w in WAYS)
        limit_pin_box(self.ids.pin)
        self.ids.with_card.bind(on_release=lambda *_: self.with_card())
        self.ids.with_code.bind(on_release=lambda *_: self.with_code())
        self.select("card")
        Clock.schedule_interval(lambda _dt: self.render(), 0.5)   # the console's state changes on its own

    def t(self, key: str, **values: object) -> str:
        """Catalogue text in the screen's language."""
        return say(self.lang, key, **values)

    def select(self, way: str) -> None:
        """Show one way's box and button; the keypad types into its box."""
        self.way = way
        self.ids.shown_way.clear_widgets()
        self.ids.shown_way.add_widget(self.panels[way])
        box = self.ids.pin if way == "card" else self.ids.code if way == "code" else None
        self.ids.keypad.target = box
        self.ids.keypad.max_length = CODE_MAX if way == "code" else 12
        self.ids.keypad.disabled = box is None
        self.render()

    def show(self, answer: Answer) -> None:
        """An answer from a route (any thread): shown on the next frame; a failed try clears what was typed."""
        def on_kivy(_dt: float) -> None:
            self.answer = answer
            if answer.key.startswith("card."):
                self.ids.pin.text = ""
            self.render()
        Clock.schedule_once(on_kivy, 0)

    def with_card(self) -> None:
        """Unlock with the card in the reader and the typed PIN."""
        self.routes.with_card(self.ids.pin.text)

    def with_code(self) -> None:
        """Unlock with the typed recovery code."""
        self.routes.with_code(self.ids.code.text)

    def ask_console(self) -> None:
        """Ask the representative's console."""
        self.answer = None
        self.routes.ask_console()
        self.render()

    def switch_language(self) -> None:
        """Persian ⇄ English."""
        self.lang = "en" if self.lang == "fa" else "fa"
        self.render()

    def console_text(self) -> str:
        """The console line: not found, linked, waiting for the representative, or refused (and why)."""
        state = self.routes.console_state()
        if state.denied is not None:
            return self.t(f"locked.console.denied.{state.denied}")
        if state.asked:
            return self.t("locked.console.waiting" if state.consoles else "locked.console.none")
        return self.t("locked.console.linked" if state.consoles else "locked.console.none")

    def render(self) -> None:
        """Every text in the current language."""
        ids = self.ids
        ids.title.raw, ids.why.raw = self.t("locked.title"), self.t("locked.why")
        # The first way comes first in reading order: on the right in Persian, on the left in English.
        in_reading_order(ids.ways, self.ways_in_reading_order, self.lang == "fa")
        for way in WAYS:
            button = ids[f"way_{way}"]
            button.raw = self.t(f"locked.{way}.title")
            button.background_color = (0.16, 0.32, 0.62, 1) if way == self.way else (0.55, 0.6, 0.7, 1)
        ids.hint.raw = self.t(_HINTS[self.way])
        ids.lang.raw = self.t("lang.switch")
        ids.with_card.raw = self.t("locked.card.button")
        ids.ask.raw = self.t("locked.console.button")
        ids.with_code.raw = self.t("locked.code.button")
        ids.console_state.raw = self.console_text() if self.way == "console" else ""
        answer = self.answer
        if answer is None:
            ids.notice.raw = ""
        elif answer.count is None:
            ids.notice.raw = self.t(f"locked.{answer.key}")
        else:
            ids.notice.raw = self.t(f"locked.{answer.key}", tries=answer.count, typed=answer.count)
        ids.keypad.relabel(self.lang == "fa", self.t("locked.keypad.clear"), self.t("locked.keypad.back"))
