"""The real Kivy app under Xvfb, driven through sign-in, every verdict, check-in, escalation and lock."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from screenshots import drive


@pytest.mark.parametrize("lang", ["fa", "en"])
def test_every_screen_and_verdict_through_the_real_app(tmp_path: Path, lang: str) -> None:
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run is not installed (./dev test installs xvfb when run as root)")
    out = tmp_path / "shots"
    report = drive(lang, out)
    results = report["results"]
    assert isinstance(results, list) and len(results) == 22
    for step in results:
        assert step["screen"] == step["want_screen"], step
        assert step["want_verdict"] is None or step["verdict"] == step["want_verdict"], step
    by_name = {s["step"]: s for s in results}
    assert by_name["wrong_pin"]["notice"] == "wrong_pin"
    assert by_name["reader_unplugged"]["notice"] == "reader_unplugged"
    assert by_name["done"]["screen"] == "done"
    assert by_name["escalation_incomplete"]["notice"] == "form_incomplete"
    assert by_name["worker_added"]["notice"] == "worker_added"
    assert by_name["staff_head_only"]["notice"] == "head_only"
    shots = sorted(p.name for p in out.iterdir())
    assert len(shots) == 22 and all(name.startswith(lang) for name in shots)
