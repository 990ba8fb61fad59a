"""Real small and read-only file systems for the full-disk and read-only-stick tests.

A tmpfs of a few hundred KiB fills up exactly as a worn SD card or a full USB
stick does (ENOSPC from the kernel), and a read-only bind mount refuses writes
even to root, which a chmod does not. Both need root, as the suite has on a
fresh Debian machine; elsewhere the tests that use them skip with that reason.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _need_root() -> None:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small or read-only file system needs root and mount(8)")


@contextmanager
def small_disk(path: Path, kib: int) -> Iterator[Path]:
    """A fresh tmpfs of `kib` KiB mounted at `path` (created), unmounted afterwards."""
    _need_root()
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kib}k,mode=0700", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path: Path) -> None:
    """Write zeros into `path`'s file system until the kernel says it is full."""
    block = b"\0" * 4096
    fd = os.open(path / ".filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, block)
    except OSError:
        pass
    finally:
        os.close(fd)
    # Small files still fit in the last partial blocks; fill those too.
    for n in range(1000):
        try:
            (path / f".filler-{n}").write_bytes(b"\0" * 512)
        except OSError:
            break


@contextmanager
def read_only(path: Path) -> Iterator[Path]:
    """`path` (an existing folder) bind-mounted read-only over itself while the block runs."""
    _need_root()
    subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], check=True)
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)
