"""The representative's console app: status bar, alert banner and beep, four screens. The App stays small."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import kivy
from kivy.clock import Clock
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import NoTransition

from kiosk.core.console import CaseBookPort, KioskSeen
from kiosk.core.console_flow import ConsoleFlow, ConsoleStaffPort, ConsoleState
from kiosk.core.jalali import persian_digits
from kiosk.rep.ui.alert import AlertSound
from kiosk.rep.ui.bridge import ConsoleBridge
from kiosk.rep.ui.screens import KV, short_device, tehran_now_text
from kiosk.rep.ui.screens.case import ConsoleCaseScreen
from kiosk.rep.ui.screens.kiosks import ConsoleKiosksScreen
from kiosk.rep.ui.screens.queue import ConsoleQueueScreen
from kiosk.rep.ui.screens.sign_in import ConsoleSignInScreen
from kiosk.trust.manifest import Difference
from kiosk.ui.keyboard import keyboard_words, shared_keyboard
from kiosk.ui.lockdown import LockedDownApp
from kiosk.ui.screens import KV as KIOSK_KV
from kiosk.ui.screens import load_kv
from kiosk.ui.screens.stopped import StoppedScreen, stop_root
from kiosk.ui.text import say


class ConsoleRoot(BoxLayout):  # type: ignore[misc]
    """Status bar and alert banner on top, the current screen below."""

    def __init__(self, bridge: ConsoleBridge, title: str, branches: tuple[str, ...], **kw: Any) -> None:
        self.bridge, self._title, self._branches = bridge, title, branches
        self.stopped: StoppedScreen | None = None
        super().__init__(**kw)
        self.ids.screens.transition = NoTransition()
        for view in (ConsoleSignInScreen(bridge), ConsoleQueueScreen(bridge), ConsoleCaseScreen(bridge),
                     ConsoleKiosksScreen(bridge)):
            self.ids.screens.add_widget(view)
        bridge.bind(state=self.refresh, lang=self.refresh)
        Clock.schedule_interval(lambda _dt: self.refresh(), 1.0)
        self.refresh()

    def refresh(self, *_: Any) -> None:
        """Follow the core's screen and redraw the status bar and the banner."""
        if self.stopped is not None:
            return   # the stop screen is all there is
        state: ConsoleState = self.bridge.state
        lang = self.bridge.lang
        self.ids.screens.current = state.screen.value
        codes = "، ".join(persian_digits(b) for b in self._branches) if lang == "fa" else ", ".join(self._branches)
        branches = say(lang, "console.status.branches" if len(self._branches) > 1 else "console.status.branch",
                       codes=codes)
        self.ids.title.raw = f"{self._title or say(lang, 'console.app.title')}\n{branches}"
        self.ids.clock.raw = tehran_now_text(lang)
        online = sum(1 for kiosk in state.kiosks if kiosk.online)
        self.ids.kiosks.raw = say(lang, "console.status.kiosks", online=online, total=len(state.kiosks))
        self.ids.lang.raw = say(lang, "console.lang.switch")
        shared_keyboard().relabel(keyboard_words(lambda key: say(lang, key)))
        self.ids.alert.raw = say(lang, "console.alert", count=state.alert) if state.alert > 0 else ""
        # Shown on every screen, even locked, until the kiosks report that their staff acknowledged.
        self.ids.duplicates.raw = kiosks_banner("console.duplicates.banner", state.duplicates, lang)
        # Evidence kept on a kiosk (a rogue device's doing) is never cleared: shown all day, on every screen.
        self.ids.anomalies.raw = kiosks_banner("console.anomalies.banner", state.anomalies, lang)
        # A locked kiosk asking for the day's unlock: shown until the representative answers or it stops asking.
        self.ids.asking.raw = kiosks_banner("console.unlock.banner", state.asking, lang) if state.account else ""


    def stop(self, difference: Difference) -> None:
        """Only the stop screen from now on: no status bar, no banner, no screen of the flow."""
        if self.stopped is None:
            self.stopped = stop_root(self, difference, "console")


class ConsoleApp(LockedDownApp):
    """Builds the root, feeds the core's clock, and sounds the alert when new cases arrive."""

    def __init__(self, flow: ConsoleFlow, book: CaseBookPort, title: str, branches: tuple[str, ...],
                 lang: str = "fa", **kw: Any) -> None:
        super().__init__(**kw)
        self.bridge = ConsoleBridge(flow, book, lang=lang)
        self.alerts = AlertSound(Path(kivy.kivy_home_dir))
        self._console, self._branches = title, branches
        self._alert_heard = 0
        self.title = "Governor's representative's console"

    def build(self) -> ConsoleRoot:
        load_kv("common", KIOSK_KV)  # the kiosk's widgets and their look
        load_kv("app", KV)
        root = ConsoleRoot(self.bridge, self._console, self._branches)
        self.bridge.bind(state=self._sound_alert)
        self._sound_alert()
        Clock.schedule_interval(lambda _dt: self.bridge.flow.tick(), 1.0)
        return root

    def stop_serving(self, difference: Difference) -> None:
        """An installed file changed under the running console: sign out and show the stop screen (Kivy thread).

        Call after the staff gate was closed; the caller then stops the service kiosks talk to.
        """
        self.bridge.flow.lock()
        self.root.stop(difference)

    def _sound_alert(self, *_: Any) -> None:
        """Beep when the count of new cases rises (not when it is cleared)."""
        alert = self.bridge.state.alert
        if alert > self._alert_heard:
            self.alerts.play()
        self._alert_heard = alert


def kiosks_banner(key: str, kiosks: tuple[KioskSeen, ...], lang: str) -> str:
    """A banner naming kiosks by the short form their case ids carry; "" (no banner) when there are none."""
    named = ("، " if lang == "fa" else ", ").join(short_device(k.device) for k in kiosks)
    return say(lang, key, kiosks=named) if named else ""


def build_console(book: CaseBookPort, staff: ConsoleStaffPort, title: str, branches: tuple[str, ...],
                  lang: str = "fa") -> ConsoleApp:
    """The console app for the `kiosk-rep` command: the flow on a monotonic clock, the book's changes bridged."""
    return ConsoleApp(ConsoleFlow(book, staff, time.monotonic), book, title, branches, lang=lang)
