"""The console's one bridge to Kivy: flow states and book changes arrive on the Kivy thread."""
from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.event import EventDispatcher
from kivy.properties import ObjectProperty, StringProperty

from kiosk.core.console import CaseBookPort
from kiosk.core.console_flow import ConsoleFlow, ConsoleState


class ConsoleBridge(EventDispatcher):  # type: ignore[misc]
    """`state` follows the flow and `lang` is the screen language; views bind to both and call `flow`."""

    state = ObjectProperty(None)
    lang = StringProperty("fa")

    def __init__(self, flow: ConsoleFlow, book: CaseBookPort, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.flow = flow
        self.state = flow.state
        self.card_sign_in: Any = None   # the representative's card sign-in, when the console has a card reader
        flow.subscribe(self._from_core)
        # A burst of changes from the network (a kiosk reconnecting with several cases) is read once.
        self._book_changed = Clock.create_trigger(lambda _dt: flow.book_changed())
        book.subscribe(self._book_changed)

    def _from_core(self, state: ConsoleState) -> None:
        # The flow runs on the Kivy thread already; scheduling keeps the order of states and never re-enters a view.
        Clock.schedule_once(lambda _dt: setattr(self, "state", state))

    def toggle_lang(self) -> None:
        """Persian ⇄ English."""
        self.lang = "en" if self.lang == "fa" else "fa"
