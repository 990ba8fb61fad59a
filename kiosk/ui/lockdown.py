"""The appliance locked down: no key leaves the app, and a device whose installed files changed serves no one.

A USB keyboard (or a keyboard-mode scanner) is plugged into the appliance. Left
as it comes, Kivy opens its settings panel on F1 (full screen, rotation, log
level), quits on Esc, quits on a window manager's close request (Alt+F4, the
title bar's ×), and runs whichever of its debugging modules a config.ini or a
KCFG_MODULES_* variable names (inspector on Ctrl+E, screenshots and rotation
on F11/F12). None of that is for branch staff. SIGTERM, systemd stopping the
unit, still ends the app cleanly: SDL would otherwise turn it into one more
close request, refused like the others. Switching virtual terminals is the
operating system's to turn off (docs/raspberry-pi.md).

At every start the kiosk and the console re-hash the installed package
against the manifest the authority signed: the small files before anything
is served (`kiosk.state.recheck_installed`), the registry on a thread of its
own. A difference stops the device for good: the stop screen, nobody signs in.
"""
from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from kivy.app import App
from kivy.base import EventLoop
from kivy.config import Config
from kivy.modules import Modules

from kiosk.core.staff import Locked, Role, SignIn
from kiosk.logbook import Event, log
from kiosk.state import Part, recheck_installed
from kiosk.store.staff import StaffBook
from kiosk.systemd_notify import notify
from kiosk.trust.manifest import Difference
from kiosk.ui.screens import load_kv
from kiosk.ui.screens.stopped import Serves, StoppedScreen
from kiosk.ui.touch_input import one_press_per_tap
from kiosk.ui.watchdog import serve_systemd


class LockedDownApp(App):  # type: ignore[misc]
    """An App without the settings panel, the exit keys, the close request or Kivy's modules."""

    use_kivy_settings = False

    def open_settings(self, *_args: Any) -> bool:
        """F1 opens nothing: the panel would let anyone change the window, its rotation and the log level."""
        return False

    def display_settings(self, _settings: Any) -> bool:
        """Nothing shows a settings panel, however it was made."""
        return False

    def run(self) -> None:
        """Lock the window down, run until stopped (or SIGTERM), then put SIGTERM's handler back."""
        previous = signal.signal(signal.SIGTERM, _end_on_sigterm)
        try:
            one_press_per_tap()
            lock_down_window()
            super().run()
        finally:
            signal.signal(signal.SIGTERM, previous)


def lock_down_window() -> None:
    """Esc quits nothing, a close request is refused, and every Kivy module is switched off."""
    from kivy.core.window import Window  # creates the window if nothing has yet

    Config.set("kivy", "exit_on_escape", "0")
    for name in Config.options("modules"):
        Config.remove_option("modules", name)
    Modules.update()   # deactivates what the config activated when the window was made
    Window.unbind(on_request_close=refuse_close)
    Window.bind(on_request_close=refuse_close)


def refuse_close(*_args: Any, **_kwargs: Any) -> bool:
    """A close request (Esc, a window manager, SDL's quit) changes nothing: True tells Kivy it was handled."""
    return True


def _end_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    # What SDL's own SIGTERM handling does, minus the close request: leave the main loop, which then stops the app.
    EventLoop.quit = True


# -- a device whose installed files changed -----------------------------------------------------------

class StoppedApp(LockedDownApp):
    """The whole app when a small file changed: nothing of the package is opened or served, only the stop screen."""

    def __init__(self, difference: Difference, serves: Serves, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.difference, self.serves = difference, serves
        self.title = "Polling-branch device: stopped"

    def build(self) -> StoppedScreen:
        load_kv("common")
        return StoppedScreen(self.difference, self.serves)


def run_stopped(difference: Difference, serves: Serves) -> int:
    """Record why, tell systemd, and show the stop screen until the unit is stopped (0 then)."""
    stopped(difference, "start")
    serve_systemd(f"stopped: {difference.message()}")
    StoppedApp(difference, serves).run()
    return 0


def stopped(difference: Difference, when: str) -> None:
    """The audit line and systemd's status line of a stop (file names only: no personal data)."""
    log(Event.FILES_CHANGED, file=difference.name, change=difference.change.value, found=when)
    notify(f"STATUS=stopped: {difference.message()}")


def recheck_registry(package_dir: Path, found: Callable[[Difference], None]) -> threading.Thread:
    """Re-hash the registry on a thread of its own (it is most of the package); `found` hears of a difference.

    A daemon thread: an app stopped during the re-hash does not wait for it.
    """
    def run() -> None:
        difference = recheck_installed(package_dir, Part.REGISTRY)
        if difference is not None:
            found(difference)

    thread = threading.Thread(target=run, name="registry-recheck", daemon=True)
    thread.start()
    return thread


class StaffGate:
    """The staff book as the flows see it, until a stop: from then on nobody signs in, whatever the PIN."""

    def __init__(self, staff: StaffBook) -> None:
        self._staff = staff
        self._stopped = threading.Event()

    def stop(self) -> None:
        """Refuse every sign-in from now on (any thread)."""
        self._stopped.set()

    @property
    def is_stopped(self) -> bool:
        """Whether the device stopped serving."""
        return self._stopped.is_set()

    def sign_in(self, account: str, pin: str) -> SignIn:
        """Refused without looking at the PIN once stopped; otherwise the staff book's answer."""
        if self._stopped.is_set():
            return Locked(seconds=0.0)   # for as long as it takes the technician: no count-down to show
        return self._staff.sign_in(account, pin)

    def accounts(self) -> list[tuple[str, str, Role]]:
        """Every account (names for the sign-in list)."""
        return self._staff.accounts()

    def set_pin(self, account: str, name: str, role: Role, pin: str) -> None:
        """The branch head adds a poll worker (only reachable signed in)."""
        self._staff.set_pin(account, name, role, pin)

    def reset_lockout(self, account: str) -> None:
        """The branch head clears a lock-out (only reachable signed in)."""
        self._staff.reset_lockout(account)
