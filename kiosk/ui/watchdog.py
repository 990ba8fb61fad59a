"""Tell systemd the app is up once its first frame is drawn, and ping the watchdog from Kivy's main loop."""
from __future__ import annotations

from kivy.clock import Clock

from kiosk.systemd_notify import notify, watchdog_interval


def serve_systemd(status: str) -> None:
    """READY=1 after the first frame; WATCHDOG=1 at half the watchdog period, from the UI thread itself.

    A ping from any other thread would keep a frozen screen alive: it must come from the loop that draws.
    """
    Clock.schedule_once(lambda _dt: notify("READY=1", f"STATUS={status}"), 0)
    interval = watchdog_interval()
    if interval is not None:
        Clock.schedule_interval(lambda _dt: notify("WATCHDOG=1"), interval)
