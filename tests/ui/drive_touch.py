"""One tap on the Pi's touchscreen, fed to the real kiosk app through both of the paths it takes there.

Run as `python tests/ui/drive_touch.py STATE FIFO SETUP` under Xvfb; prints one JSON object: what the sign-in
screen's PIN box holds after one tap on the keypad's «۱», which input each touch the window received came
from, and which input providers Kivy started.

On the Pi a tap reaches Kivy twice: as a mouse click through the display (X's pointer emulation, or SDL's
touch-to-mouse events), and as multitouch events read from /dev/input/eventN by the provider the Pi guide's
config.ini names. Here the click goes through the X server by xdotool (XTEST), and the same tap's evdev
records (ABS_MT_TRACKING_ID, ABS_MT_POSITION_X/Y, SYN_MT_REPORT, SYN_REPORT; then a SYN_REPORT without a
point, the finger lifted) go through a FIFO to Kivy's own hidinput provider, configured as config.ini would
for a touchscreen. This machine has no /dev/uinput, so the kernel's part, the capability ioctls a touchscreen
answers (its name, EV_ABS, the two position axes and their range), is answered by a stand-in for that
provider's `fcntl` alone; every byte of the tap goes through the provider's reading and parsing as on a Pi.

SETUP `app` is the app as it ships; `kivy` is the same app with its input setup left as Kivy makes it, the
control that shows both paths deliver a touch.
"""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("KIVY_NO_ARGS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from kivy.clock import Clock  # noqa: E402
from kivy.config import Config  # noqa: E402
from kivy.core.window import Window  # noqa: E402
from kivy.input.providers import hidinput  # noqa: E402

import kiosk.ui.lockdown as lockdown  # noqa: E402
from kiosk.ui.run import build  # noqa: E402
from person import where  # noqa: E402

EV_SYN, EV_ABS, SYN_REPORT, SYN_MT_REPORT = 0x00, 0x03, 0, 2
ABS_MT_POSITION_X, ABS_MT_POSITION_Y, ABS_MT_TRACKING_ID = 0x35, 0x36, 0x39
AXIS_MAX = 10_000


class TouchscreenIoctls:
    """What the kernel answers for a touchscreen's evdev node, in place of the `fcntl` module of hidinput."""

    @staticmethod
    def ioctl(_fd: Any, request: int, _buffer: Any) -> bytes:
        number = request & 0xFFFF                 # the request's type and number; the size is above them
        if number == hidinput.EVIOCGNAME & 0xFFFF:
            return b"stand-in FT5406 touchscreen".ljust(256, b"\0")
        if number == hidinput.EVIOCGBIT & 0xFFFF:                 # the event types: EV_ABS
            return struct.pack("Q", 1 << EV_ABS)
        if number == (hidinput.EVIOCGBIT + EV_ABS) & 0xFFFF:      # the axes: the two positions
            return struct.pack("Q", (1 << ABS_MT_POSITION_X) | (1 << ABS_MT_POSITION_Y))
        if number & 0xFFC0 == hidinput.EVIOCGABS & 0xFFC0:         # each axis (its code in the low bits): 0 to max
            return struct.pack("iiiiii", 0, 0, AXIS_MAX, 0, 0, 0)
        raise OSError(25, "Inappropriate ioctl for device")


def event(kind: int, code: int, value: int) -> bytes:
    """One struct input_event: the time (left 0), type, code, value."""
    return struct.pack("LLHHi", 0, 0, kind, code, value)


def main() -> None:
    state, fifo, setup = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    hidinput.fcntl = TouchscreenIoctls()      # type: ignore[attr-defined]
    # The touchscreen as the Pi guide's config.ini would have Kivy read it, beside Kivy's own `mouse`.
    Config.set("input", "touchscreen", f"hidinput,{fifo}")
    if setup == "kivy":
        lockdown.one_press_per_tap = lambda: None   # type: ignore[attr-defined]
    Window.size = (800, 480)
    kiosk = build(state, simulate=True, lang="fa", profile="test", demo_codes={}, lan=["127.0.0.1"])
    app = kiosk.app
    # Read-write, so that opening blocks neither this side nor the provider's (which reads it as /dev/input/eventN).
    writer = [os.fdopen(os.open(fifo, os.O_RDWR), "wb", buffering=0)]
    report: dict[str, Any] = {}

    def key_one() -> Any:
        [button] = [b for b in app.root.ids.screens.get_screen("sign_in").ids.keypad.children if b.key == "1"]
        return button

    def tap(_dt: float) -> None:
        """Finger down and up on «۱»: the evdev records and the X pointer's click, as the Pi gives both."""
        if app.root is None or app.root.ids.screens.current != "sign_in" or tuple(key_one().pos) == (0, 0):
            Clock.schedule_once(tap, 0.1)      # not on the screen yet, or not laid out (still at the origin)
            return
        button = key_one()
        x, y = where(button)
        width, height = Window.size
        window = str(int(Window.get_window_info().window))
        # Kivy's hidinput reads Y from the bottom once its default invert_y is applied.
        writer[0].write(event(EV_ABS, ABS_MT_TRACKING_ID, 7)
                        + event(EV_ABS, ABS_MT_POSITION_X, int(x / width * AXIS_MAX))
                        + event(EV_ABS, ABS_MT_POSITION_Y, int(y / height * AXIS_MAX))
                        + event(EV_SYN, SYN_MT_REPORT, 0) + event(EV_SYN, SYN_REPORT, 0))
        subprocess.run(["xdotool", "windowfocus", "--sync", window, "mousemove", "--window", window, str(int(x)),
                        str(int(height - y)), "mousedown", "1"], check=True, timeout=10)
        writer[0].write(event(EV_SYN, SYN_REPORT, 0))
        subprocess.run(["xdotool", "mouseup", "1"], check=True, timeout=10)
        Clock.schedule_once(lambda _d: settled(time.monotonic() + 30, 10), 0)

    def settled(deadline: float, frames: int) -> None:
        """Once the click has come through the display (the evdev records were sent before it), a few frames more."""
        from kivy.base import EventLoop

        if ("mouse" not in touches or frames > 0) and time.monotonic() < deadline:
            Clock.schedule_once(lambda _d: settled(deadline, frames - ("mouse" in touches)), 0)
            return
        report["pin"] = app.root.ids.screens.get_screen("sign_in").ids.pin.text
        report["providers"] = sorted(type(p).__name__ for p in EventLoop.input_providers)
        app.stop()

    # Which configured input each touch the window received came from (config.ini's names: mouse, touchscreen).
    touches: list[str] = []
    report["touches"] = touches
    Window.bind(on_touch_down=lambda _w, touch: touches.append(touch.device))
    Clock.schedule_once(tap, 1.0)
    try:
        app.run()
    finally:
        kiosk.close()
        writer[0].close()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
