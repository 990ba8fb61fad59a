"""The one bridge between the core and Kivy: core states arrive on the Kivy thread as a property."""
from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.event import EventDispatcher
from kivy.properties import ObjectProperty, StringProperty

from kiosk.core.branch import SyncStatus
from kiosk.core.flow import CheckInFlow, FlowState
from kiosk.net.courier import LinkStatus


class FlowBridge(EventDispatcher):  # type: ignore[misc]
    """`state` follows the flow; `lang` is the screen language. Views bind to both and call `flow`."""

    state = ObjectProperty(None)
    lang = StringProperty("fa")
    reader = StringProperty("no_reader")
    scanner = StringProperty("")  # empty: no scanner configured
    printer = StringProperty("")  # empty: no printer configured
    rep = StringProperty("offline")  # the representative's console: offline | online | skew
    rep_skew_minutes = StringProperty("0")
    sync = ObjectProperty(SyncStatus())  # the other kiosks of the branch, as branch sync sees them

    def __init__(self, flow: CheckInFlow, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.flow = flow
        self.state = flow.state
        # The official's card sign-in (kiosk.ui.card_sign_in), when the kiosk has a reader and a roster.
        self.card_sign_in: Any = None
        flow.subscribe(self._from_core)

    def _from_core(self, state: FlowState) -> None:
        Clock.schedule_once(lambda _dt: setattr(self, "state", state))

    def on_kivy_thread(self, command: Any, *args: Any) -> None:
        """Run a flow command on the Kivy thread (drivers call back on their own threads)."""
        Clock.schedule_once(lambda _dt: command(*args))

    def link_changed(self, status: LinkStatus) -> None:
        """The courier's view of the consoles (any thread): online, offline, or online with a clock off."""
        def apply(_dt: float) -> None:
            self.rep = "offline" if not status.consoles else "skew" if status.skew_alarm else "online"
            self.rep_skew_minutes = str(round(abs(status.skew_ms or 0) / 60_000))
        Clock.schedule_once(apply)

    def sync_changed(self, status: SyncStatus) -> None:
        """Branch sync's view of the other kiosks (any thread): linked, behind, refused."""
        Clock.schedule_once(lambda _dt: setattr(self, "sync", status))

    def toggle_lang(self) -> None:
        """Persian ⇄ English."""
        self.lang = "en" if self.lang == "fa" else "fa"
