"""One tap, one press: the appliance reads its touchscreen through one path only.

On the Raspberry Pi, Kivy's default input setup hears each tap twice. The touchscreen reaches the app as a
mouse click (the X server's pointer emulation, or SDL's own touch-to-mouse events on the console's KMS/DRM
display), which Kivy's `mouse` provider turns into a touch; and Kivy's `probesysfs` provider (mtdev or
hidinput, as the Pi guide's config.ini sets it) also opens /dev/input/eventN and turns the same tap into a
second touch. A digit typed on the keypad then comes out twice.

The app keeps the mouse path, which every display has (the Pi's touchscreen, a technician's laptop, Xvfb):
whatever config.ini or a KCFG_INPUT_* variable says, the `[input]` section holds one provider, `mouse`,
without its right-click multitouch emulation (its red dots mean nothing to staff). SDL turns touches into
mouse events unless SDL_TOUCH_MOUSE_EVENTS=0 says otherwise (the unit sets no such thing). The kiosk needs no
two-finger gestures, which only the evdev path has.
"""
from __future__ import annotations

from kivy.config import Config

MOUSE_ONLY = "mouse,disable_multitouch"


def one_press_per_tap() -> None:
    """Leave the app one input provider before Kivy starts them (App.run starts what `[input]` names)."""
    for name in Config.options("input"):
        Config.remove_option("input", name)
    Config.set("input", "mouse", MOUSE_ONLY)
