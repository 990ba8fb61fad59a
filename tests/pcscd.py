"""pcscd with Debian's vpcd virtual reader, for the tests and the bench: the machine's own, or one started here."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from drivers.card.minting import IssuedCard
from drivers.card.pcsc import list_readers
from drivers.errors import ReaderError

READER = "Virtual PCD 00 00"  # vpcd's reader 0, which a card reaches on 127.0.0.1:35963
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")


class PcscdMissing(Exception):
    """pcscd or vpcd is not installed, or pcscd cannot be started by this user."""


def vpcd_ready() -> bool:
    """Whether PC/SC answers and lists vpcd's reader."""
    try:
        return READER in list_readers()
    except ReaderError:
        return False


@contextmanager
def running_pcscd() -> Iterator[None]:
    """A pcscd with vpcd for the duration; PcscdMissing when none can be had, AssertionError if it fails to come up."""
    if vpcd_ready():
        yield
        return
    binary = shutil.which("pcscd") or "/usr/sbin/pcscd"
    if not Path(binary).exists() or not VPCD_DRIVER.exists():
        raise PcscdMissing("pcscd or vsmartcard-vpcd is not installed (./dev test installs them when run as root)")
    if os.geteuid() != 0:
        raise PcscdMissing("starting pcscd needs root (it creates /run/pcscd)")
    proc = subprocess.Popen([binary, "--foreground"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not vpcd_ready():
            assert proc.poll() is None and time.monotonic() < deadline, "pcscd did not come up with the vpcd reader"
            time.sleep(0.1)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Card:
    """A virtual card process connected to vpcd: inserted while it runs."""

    def __init__(self, tmp: Path, der: bytes, *options: str, profile: str = "test",
                 key: ec.EllipticCurvePrivateKey | None = None) -> None:
        cert = tmp / f"card-{time.monotonic_ns()}.der"
        cert.write_bytes(der)
        if key is not None:
            pem = tmp / f"{cert.stem}.key"
            pem.write_bytes(IssuedCard(der, key).key_pem())
            options = ("--key", str(pem), *options)
        self.proc = subprocess.Popen([sys.executable, "-m", "drivers.card.vpcd_card", "--profile", profile,
                                      "--cert", str(cert), *options], stdout=subprocess.PIPE, text=True)

    def remove(self) -> None:
        """Take the card out (the process ends; vpcd reports the card gone)."""
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
