"""`./dev demo` opens the console and both kiosks side by side, not on top of each other (issue 15, item 12).

Three real Kivy windows under one Xvfb display, each started with the settings the demo gives its app;
each reports where its window is, and no two overlap.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from provisioning.demo import WINDOW, window_places

_PROBE = """
import json, os
os.environ["KIVY_NO_ARGS"] = "1"
from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.uix.label import Label
class Probe(App):
    def build(self):
        def report(_dt):
            print(json.dumps([Window.left, Window.top, *Window.size]), flush=True)
            self.stop()
        Clock.schedule_once(report, 0.3)
        return Label(text="probe")
Probe().run()
"""


def test_the_three_demo_windows_do_not_overlap(tmp_path: Path) -> None:
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run is not installed (./dev test installs xvfb when run as root)")
    script = tmp_path / "probe.py"
    script.write_text(_PROBE)
    places = window_places(3)
    runner = tmp_path / "three.sh"   # one display for the three windows, as on a desktop
    runner.write_text("\n".join(
        " ".join([*(f"{k}={v}" for k, v in place.items()), f"KIVY_HOME={tmp_path / f'kivy{n}'}",
                  sys.executable, str(script)]) for n, place in enumerate(places)))
    done = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1920x1200x24", "sh", str(runner)],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "KIVY_LOG_MODE": "PYTHON"})
    boxes = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("[")]
    assert len(boxes) == 3, done.stderr[-2000:]
    assert all((w, h) == WINDOW for _, _, w, h in boxes)
    for i, (x1, y1, w1, h1) in enumerate(boxes):
        for x2, y2, w2, h2 in boxes[i + 1:]:
            assert x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1, boxes
