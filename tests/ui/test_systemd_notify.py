"""The apps speak systemd's notify protocol: READY once drawn, then watchdog pings from the UI loop."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import World
from kiosk.core.staff import Role
from kiosk.systemd_notify import notify, watchdog_interval

REPO = Path(__file__).resolve().parents[2]


def listen(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.2)
    return sock


def test_outside_systemd_nothing_is_sent_and_no_watchdog_is_due(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert notify("READY=1") is False and watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))   # the watchdog is another process's
    assert watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_interval() == 15.0


def test_the_kiosk_app_says_ready_and_pings_the_watchdog_from_its_main_loop(world: World, tmp_path: Path) -> None:
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run is not installed (./dev test installs xvfb when run as root)")
    installed = world.installed()
    installed.staff_book().set_pin("head", "رئیس شعبه", Role.HEAD, "135790")
    sock = listen(tmp_path / "notify")
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "400000",
           "KIVY_HOME": str(tmp_path / "kivy"), "KIVY_NO_ARGS": "1", "PYTHONPATH": str(REPO)}
    env.pop("WATCHDOG_PID", None)
    app = subprocess.Popen(["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", sys.executable, "-m", "kiosk.cli", "app",
                            "--state", str(installed.state), "--simulate", "--lan", "127.0.0.1"],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    messages: list[str] = []
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and messages.count("WATCHDOG=1") < 4:
            try:
                messages.extend(sock.recv(4096).decode().split("\n"))
            except TimeoutError:
                assert app.poll() is None, "the app exited"
    finally:
        os.killpg(app.pid, 15)
        app.wait(timeout=30)
        sock.close()
    assert "READY=1" in messages and messages.index("READY=1") < messages.index("WATCHDOG=1")
    assert messages.count("WATCHDOG=1") >= 4
