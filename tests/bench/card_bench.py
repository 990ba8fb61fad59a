"""Officials' card figures through real pcscd + vpcd: sign-in, and the start-of-day unlock to Ready.

Timed from the moment the PIN is submitted (the official's last touch) to the
answer staff wait for: signed in, or unlocked with the registry open and a
first voter looked up. Each run uses the same card process; the device is
locked again between unlock runs.
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from drivers.card.pcsc import PcscReader
from drivers.card.profiles import PROFILES
from drivers.card.reader import ReaderStatus
from kiosk import official_card
from kiosk.store import unlock_memory
from tests.helpers import PEOPLE, code, make_world
from tests.pcscd import READER, Card, running_pcscd

PIN = "482193"


def _wait_for_card(reader: PcscReader) -> None:
    deadline = time.monotonic() + 30
    while reader.status() is not ReaderStatus.CARD_PRESENT:
        assert time.monotonic() < deadline, "the virtual card never reached the reader"
        time.sleep(0.01)


def sign_in_and_unlock_seconds(runs: int = 20) -> dict[str, float]:
    """Mean and worst seconds of a card sign-in and of a card unlock to Ready."""
    with tempfile.TemporaryDirectory(prefix="card-bench-") as tmp, running_pcscd(), \
            tempfile.TemporaryDirectory(prefix="card-bench-unlocks-", dir="/dev/shm") as unlocks_dir:
        os.environ[unlock_memory.ENV] = unlocks_dir   # the day's unlocks in RAM, as /run/kiosk on a device
        root = Path(tmp)
        world = make_world(root)
        cards = world.trust_cards()
        head = cards.issue(code(901))
        world.official("head-1001", "head", code(901), head)
        locked = world.installed("k1", unlocked=False)
        reader = PcscReader(prefer=READER)
        card = Card(root, head.certificate, "--pin", PIN, key=head.key)
        unlocks, sign_ins = [], []
        try:
            _wait_for_card(reader)
            test = PROFILES["test"]
            for _ in range(runs):
                started = time.perf_counter()
                answer = official_card.unlock(locked, reader.transmit, test, PIN)
                assert isinstance(answer, official_card.CardSignedIn), answer
                assert answer.installed.open_registry().lookup(PEOPLE["eligible"].code) is not None
                unlocks.append(time.perf_counter() - started)
                started = time.perf_counter()
                again = official_card.sign_in(answer.installed, reader.transmit, test, PIN)
                assert isinstance(again, official_card.CardSignedIn), again
                sign_ins.append(time.perf_counter() - started)
                answer.installed.lock()
        finally:
            card.remove()
            reader.close()
    return {"unlock_mean_s": statistics.fmean(unlocks), "unlock_max_s": max(unlocks),
            "sign_in_mean_s": statistics.fmean(sign_ins), "sign_in_max_s": max(sign_ins)}
