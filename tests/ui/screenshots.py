"""`./dev screenshots`: every screen in Persian and English at 800×480 and 1280×800, as PNGs in .dev/screenshots."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from helpers import PEOPLE, make_world  # noqa: E402
from kiosk.core.staff import Role  # noqa: E402
from kiosk.store.staff import StaffBook  # noqa: E402


def drive(lang: str, out: Path, window: str = "800x480") -> dict[str, object]:
    """One fresh kiosk, walked through every screen by tests/ui/drive.py under Xvfb."""
    with tempfile.TemporaryDirectory() as tmp:
        world = make_world(Path(tmp))
        installed = world.installed()
        StaffBook(installed.state / "staff.json").set_pin("head", "رئیس شعبه", Role.HEAD, "1357")
        codes = Path(tmp) / "codes.json"
        codes.write_text(json.dumps({k: PEOPLE[k].code for k in ("eligible", "underage", "deceased", "suspended")}))
        env = {**os.environ, "KIVY_HOME": str(Path(tmp) / "kivy"), "KIVY_NO_ARGS": "1", "KIVY_LOG_MODE": "PYTHON",
               "PYTHONPATH": str(REPO), "KIOSK_WINDOW": window}
        done = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", sys.executable,
                               str(REPO / "tests" / "ui" / "drive.py"), str(installed.state), str(out), lang,
                               str(codes), "1357"], capture_output=True, text=True, env=env, timeout=300)
        if done.returncode != 0:
            raise SystemExit(done.stderr[-3000:])
        report: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
        return report


def main() -> None:
    out = REPO / ".dev" / "screenshots"
    shutil.rmtree(out, ignore_errors=True)
    for lang in ("fa", "en"):
        drive(lang, out)
    for lang in ("fa", "en"):
        drive(lang, out / "1280x800", window="1280x800")
    count = len(list(out.glob("*.png"))) + len(list((out / "1280x800").glob("*.png")))
    print(f"{count} screenshots in {out} (800x480) and {out / '1280x800'}")


if __name__ == "__main__":
    main()
