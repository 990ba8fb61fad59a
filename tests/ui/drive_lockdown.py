"""Press the keys a kiosk must not honour, and try to be served by a stopped device, on the real app under Xvfb.

`drive_lockdown(app, scenario, state, out, ...)` runs this file under Xvfb and returns its JSON report. The
app is started through the commands its systemd unit runs (`kiosk app`, `kiosk-rep`); keys go through
the X server by xdotool (XTEST), as a USB keyboard's would reach SDL, and the close request is the
WM_DELETE_WINDOW message a window manager sends for Alt+F4 or the title bar's ×. Each run ends with SIGTERM,
as `systemctl stop` ends the unit: the report is printed only if that stopped the app cleanly.

Scenarios: `keys` presses F1, Esc, the close request, Ctrl+E (Kivy's inspector), F11 (rotation) and F12
(screenshot), with those Kivy modules switched on by KCFG_MODULES_* as a config.ini on a device could;
`serve` waits for the stop screen, then tries to be served: clicks and typing through the X server, and last the
sign-in and a national code given straight to the app's flow, as if a touch had got through.

Nothing is judged after a fixed wait: each step waits until the window has received what was sent (key
presses, the close request, clicks) and then a few frames more, in which a honoured key would have acted.
"""
from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
KEYS = ["f1", "escape", "close_request", "inspector", "rotate", "screenshot"]


def drive_lockdown(app: str, scenario: str, state: Path, out: Path, code: str = "", pin: str = "",
                   port: int = 0) -> dict[str, Any]:
    """Run the driver under Xvfb in a fresh Kivy home; returns its report with the exit code and the cwd's files."""
    for tool in ("xvfb-run", "xdotool"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed (./dev test installs it when run as root)")
    out.mkdir(parents=True, exist_ok=True)
    cwd = out / "cwd"   # where Kivy's screenshot module would write
    cwd.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "KIVY_HOME": str(Path(tmp) / "kivy"), "KIVY_NO_ARGS": "1", "KIVY_LOG_MODE": "PYTHON",
               "PYTHONPATH": str(REPO), "SDL_AUDIODRIVER": "dummy",
               # What a config.ini on the device could switch on: the inspector (Ctrl+E), F11/F12.
               "KCFG_MODULES_INSPECTOR": "", "KCFG_MODULES_KEYBINDING": ""}
        done = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", sys.executable, __file__, app,
                               scenario, str(state), str(out), code, pin, str(port)],
                              capture_output=True, text=True, env=env, timeout=300, cwd=cwd)
    lines = done.stdout.strip().splitlines()
    report: dict[str, Any] = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {"results": []}
    report["exit"] = done.returncode
    report["stderr"] = done.stderr[-3000:]
    report["cwd_files"] = sorted(p.name for p in cwd.iterdir())
    return report


# -- inside the display --------------------------------------------------------------------------------

def _xdotool(window: int, *keys: str) -> None:
    """Focus the app's window (there is no window manager) and press the keys through XTEST."""
    subprocess.run(["xdotool", "windowfocus", "--sync", str(window), *keys], check=True, timeout=10)


def close_request(window: int) -> None:
    """Send WM_DELETE_WINDOW to the window, as a window manager does for Alt+F4 or the close button."""
    x11 = ctypes.CDLL("libX11.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]

    class ClientMessage(ctypes.Structure):
        _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                    ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                    ("format", ctypes.c_int), ("data", ctypes.c_long * 5)]

    class XEvent(ctypes.Union):
        _fields_ = [("xclient", ClientMessage), ("pad", ctypes.c_long * 24)]

    x11.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long,
                               ctypes.POINTER(XEvent)]
    x11.XFlush.argtypes = x11.XCloseDisplay.argtypes = [ctypes.c_void_p]   # a pointer, not a C int
    display = x11.XOpenDisplay(None)
    event = XEvent()
    message = event.xclient
    message.type, message.window, message.format = 33, window, 32   # ClientMessage
    message.message_type = x11.XInternAtom(display, b"WM_PROTOCOLS", 0)
    message.data[0] = x11.XInternAtom(display, b"WM_DELETE_WINDOW", 0)
    x11.XSendEvent(display, window, 0, 0, ctypes.byref(event))
    x11.XFlush(display)
    x11.XCloseDisplay(display)


def main() -> None:
    app_kind, scenario, state, out = sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
    code, pin, port = sys.argv[5], sys.argv[6], int(sys.argv[7])
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    from kivy.app import App
    from kivy.base import EventLoop
    from kivy.clock import Clock
    from kivy.core.window import Window
    from kivy.uix.label import Label

    from kiosk.ui.screens.stopped import StoppedScreen

    sys.path.insert(0, str(REPO / "tests" / "ui"))
    from fit import clipped, small_targets

    Window.size = (800, 480)   # the 7" touchscreen
    window = int(Window.get_window_info().window)
    results: list[dict[str, Any]] = []
    rotation = Window.rotation

    def running() -> Any:
        app = App.get_running_app()
        return app if app is not None and not EventLoop.quit and EventLoop.status == "started" else None

    def stop_screen() -> StoppedScreen | None:
        app = running()
        root = app.root if app is not None else None
        if root is None:
            return None
        return next((w for w in root.walk(restrict=True) if isinstance(w, StoppedScreen)), None)

    def flow_state() -> Any:
        app = running()
        bridge = getattr(app, "bridge", None)
        return bridge.flow.state if bridge is not None else None

    # What the window has received: counted by handlers bound after the app's (so called before them).
    received = {"keys": 0, "close": 0, "clicks": 0}
    since = {"frame": 0}

    def count(kind: str) -> Callable[..., bool]:
        def seen(*_args: Any) -> bool:
            received[kind] += 1
            since["frame"] = Clock.frames
            return False   # the app's own handlers still decide
        return seen

    def listen() -> None:
        if not getattr(listen, "done", False):
            Window.bind(on_key_down=count("keys"), on_request_close=count("close"), on_mouse_down=count("clicks"))
            setattr(listen, "done", True)

    def send(kind: str, action: Callable[[], None]) -> Callable[[], None]:
        def go() -> None:
            listen()
            goal[kind] = received[kind] + 1
            action()
        return go

    goal = {"keys": 0, "close": 0, "clicks": 0}

    def arrived(kind: str) -> Callable[[], bool]:
        # What was sent has reached the window, and ten frames have passed in which it could have acted.
        return lambda: received[kind] >= goal[kind] and Clock.frames - since["frame"] >= 10

    def port_open() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
        return True

    def observe(name: str) -> dict[str, Any]:
        stopped, state_now = stop_screen(), flow_state()
        found: dict[str, Any] = {
            "step": name, "running": running() is not None,
            # Whatever sits on the window beside the app's root: a settings panel, the inspector.
            "overlays": [type(w).__name__ for w in Window.children if w is not getattr(running(), "root", None)],
            "rotated": Window.rotation != rotation,
            "stopped": stopped is not None,
            "screen": state_now.screen.value if state_now is not None else None,
            "verdict": state_now.outcome.verdict.value if state_now is not None and getattr(
                state_now, "outcome", None) is not None else None,
            "port_open": port_open() if port else None,
            "received": dict(received),
        }
        if stopped is not None:
            labels = [w for w in stopped.walk(restrict=True) if isinstance(w, Label) and w.opacity > 0]
            # Top to bottom, as a person reads the screen.
            found["stop_text"] = [str(getattr(w, "raw", "") or w.text)
                                  for w in sorted(labels, key=lambda w: -w.to_window(w.x, w.top)[1])]
            found["stop_fills_window"] = tuple(stopped.size) == tuple(Window.size)
            found["clipped"] = clipped(stopped)   # nothing cut off at 800x480
            found["small"] = small_targets(stopped)
        Window.screenshot(name=str(out / f"lockdown-{app_kind}-{scenario}-{len(results):02d}-{name}.png"))
        return found

    def try_to_be_served() -> None:
        """Click and type as a person (or a keyboard-mode scanner) would (the stop screen replaced every screen:
        nothing else is there to touch), then hand the PIN and the code to the app's flow as if a touch had got
        through."""
        listen()
        # Every key; of the three clicks SDL may merge those queued within one frame, so at least one.
        goal["clicks"], goal["keys"] = received["clicks"] + 1, received["keys"] + len(pin) + len(code) + 2
        width, height = Window.size
        for x, y in ((width // 2, height // 2), (width // 4, height - 60), (3 * width // 4, 60)):
            _xdotool(window, "mousemove", str(x), str(y), "click", "1")
        _xdotool(window, "type", pin)
        _xdotool(window, "key", "Return")
        _xdotool(window, "type", code)
        _xdotool(window, "key", "Return")
        app = running()
        bridge = getattr(app, "bridge", None)
        if bridge is not None:   # the running app's own flow, as a touch on its sign-in screen reaches it
            account = bridge.flow.state.accounts[0][0] if bridge.flow.state.accounts else "head"
            bridge.flow.sign_in(account, pin)
            if hasattr(bridge.flow, "code_entered"):
                bridge.flow.code_entered(code)

    Step = tuple[str, Callable[[], None], Callable[[], bool], float]
    started: Step = ("started", lambda: None, lambda: running() is not None and running().root is not None, 30)
    if scenario == "keys":
        steps: list[Step] = [
            started,
            ("f1", send("keys", lambda: _xdotool(window, "key", "F1")), arrived("keys"), 30),
            ("escape", send("keys", lambda: _xdotool(window, "key", "Escape")), arrived("keys"), 30),
            ("close_request", send("close", lambda: close_request(window)), arrived("close"), 30),
            ("inspector", send("keys", lambda: _xdotool(window, "key", "ctrl+e")), arrived("keys"), 30),
            ("rotate", send("keys", lambda: _xdotool(window, "key", "F11")), arrived("keys"), 30),
            ("screenshot", send("keys", lambda: _xdotool(window, "key", "F12")), arrived("keys"), 30),
        ]
    else:
        steps = [
            started,
            ("stopped", lambda: None, lambda: stop_screen() is not None and not (port and port_open()), 30),
            ("served", try_to_be_served, lambda: arrived("keys")() and arrived("clicks")(), 30),
        ]
    index = [0]
    deadline = [0.0]

    def check(_dt: float) -> None:
        name, _, condition, _ = steps[index[0] - 1]
        met = condition()
        if not met and time.monotonic() < deadline[0]:
            Clock.schedule_once(check, 0.05)
            return
        results.append({**observe(name), "met": met})   # a step whose state never came says so
        if index[0] == len(steps):
            os.kill(os.getpid(), signal.SIGTERM)   # as `systemctl stop` ends the unit
            return
        advance()

    def advance() -> None:
        _, action, _, seconds = steps[index[0]]
        action()
        deadline[0] = time.monotonic() + seconds
        index[0] += 1
        Clock.schedule_once(check, 0.2)

    Clock.schedule_once(lambda _dt: advance(), 0.5)
    # The commands the systemd units run (`kiosk app`, `kiosk-rep`), on loopback only.
    if app_kind == "kiosk":
        from kiosk.cli import main as kiosk_command
        exit_code = kiosk_command(["app", "--state", str(state), "--simulate", "--lan", "127.0.0.1"])
    else:
        from kiosk.rep.cli import main as console_command
        exit_code = console_command(["--state", str(state), "--lan", "127.0.0.1", "--port", str(port)])
    print(json.dumps({"app_exit": exit_code, "results": results}))


if __name__ == "__main__":
    main()
