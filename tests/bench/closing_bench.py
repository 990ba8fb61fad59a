"""Close-of-polls figures: a branch day (5 kiosks × 3,000 check-ins, each kiosk holding the whole branch after
sync) exported by every kiosk and collected at the authority.

The day is made quickly (the ledger's own append path, with fsync off while
it is built, and branch sync's own page store); what is timed is the real
export (snapshot, chain check, sign, encrypt, write, fsync, read back) and
the real collection (decrypt, every signature of every kiosk's own chain,
totals, double check-ins).
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from kiosk.state import Installed
from kiosk.store.replica import Replica
from kiosk.trust import certs
from provisioning.collect import collect
from provisioning.device import install
from provisioning.export import export
from tests.helpers import World, make_world


def _branch_day(root: Path, kiosks: int, check_ins: int) -> tuple[list[Installed], World]:
    world = make_world(root)
    made = [world.device(f"k{n}") for n in range(kiosks)]
    package = world.package()
    installed = [install(state, package, cert, world.authority.folder / "authority.crt") for state, cert in made]
    ledgers = [i.open_ledger() for i in installed]
    for n, ledger in enumerate(ledgers):
        ledger.connection.execute("PRAGMA synchronous=OFF")
        for k in range(check_ins):
            ledger.check_in(n.to_bytes(2, "big") + k.to_bytes(14, "big"))
    for i, ledger in zip(installed, ledgers):
        replica = Replica(ledger, i.authority_cert, certs.cert_pem(i.device_cert), i.claims.branches)
        for source, other in zip(installed, ledgers):
            if source is i:
                continue
            events = list(other.events(source.claims.device_id))
            for start in range(0, len(events), 100):
                replica.store(source.claims.device_id, certs.cert_pem(source.device_cert), events[start:start + 100])
    for ledger in ledgers:
        ledger.close()
    return installed, world


def export_and_collect(kiosks: int = 5, check_ins: int = 3000) -> dict[str, float]:
    """Seconds per export (mean, max), bundle size, and the collection's seconds and totals."""
    with tempfile.TemporaryDirectory() as tmp:
        installed, world = _branch_day(Path(tmp), kiosks, check_ins)
        usb = Path(tmp) / "usb"
        seconds, paths = [], []
        for i in installed:
            started = time.perf_counter()
            paths.append(export(i.state, usb).path)
            seconds.append(time.perf_counter() - started)
        started = time.perf_counter()
        report = collect(world.authority, paths)
        collected = time.perf_counter() - started
        return {
            "export_mean_s": sum(seconds) / len(seconds), "export_max_s": max(seconds),
            "bundle_mb": sum(os.path.getsize(p) for p in paths) / len(paths) / 1e6,
            "collect_s": collected, "bundles": len(report.bundles),
            "check_ins": sum(s.check_ins for s in report.branches.values()),
        }
