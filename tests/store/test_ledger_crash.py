"""Power-cut safety: SIGKILL a process in the middle of check-ins, many times; nothing acknowledged is lost."""
from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers import World, code, make_world
from kiosk.core.eligibility import Verdict
from kiosk.desk import Desk
from kiosk.state import Installed
from kiosk.store.ledger import verify_chain

ACK = re.compile(r"ACK ([0-9]{10})")
VOTERS = 4000
ROUNDS = 25

_WORKER = """
import sys
from pathlib import Path
from kiosk.state import Installed
from kiosk.core.outcome import CheckedIn
from kiosk.desk import Desk
inst = Installed.open(Path(sys.argv[1]))
desk = Desk(inst.open_registry(), inst.open_ledger(), inst.config.rules)
codes = Path(sys.argv[2]).read_text().split()
print('READY', flush=True)
for c in codes:
    if isinstance(desk.check_in(c), CheckedIn):
        # The acknowledgement a screen would show: only after the commit returned.
        print('ACK', c, flush=True)
"""


def test_sigkill_at_random_points_loses_no_acknowledged_check_in(tmp_path: Path) -> None:
    codes = [code(n, office=7) for n in range(1, VOTERS + 1)]
    world: World = make_world(tmp_path, [f"{c},نرگس,امیری,یوسف,1350/01/01,female,alive" for c in codes])
    installed = world.installed()
    codes_file = tmp_path / "codes.txt"
    codes_file.write_text("\n".join(codes))
    rng = random.Random(20261125)
    acknowledged: list[str] = []
    for _ in range(ROUNDS):
        proc = subprocess.Popen([sys.executable, "-c", _WORKER, str(installed.state), str(codes_file)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "READY"
        deadline = time.monotonic() + rng.uniform(0.0, 0.08)
        os.set_blocking(proc.stdout.fileno(), False)
        while time.monotonic() < deadline:
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        os.set_blocking(proc.stdout.fileno(), True)
        # Only whole lines count: a kill in the middle of printing is an acknowledgement never given.
        complete = proc.stdout.read().split("\n")[:-1]
        acknowledged += [m[1] for line in complete if (m := ACK.fullmatch(line))]
        proc.stdout.close()
    assert len(acknowledged) > 50, "the worker never got going; the test proves nothing"
    reopened = Installed.open(installed.state)
    ledger = reopened.open_ledger()
    desk = Desk(reopened.open_registry(), ledger, reopened.config.rules)
    lost = [c for c in acknowledged if desk.check(c).verdict is not Verdict.ALREADY_VOTED]
    assert lost == []
    counts = verify_chain(ledger.events(reopened.claims.device_id), reopened.config.id,
                          reopened.claims.device_id, reopened.device_public_key())
    # At most one commit per kill can have landed without its acknowledgement being printed.
    assert len(acknowledged) <= counts.check_ins <= len(acknowledged) + ROUNDS
    ledger.close()
