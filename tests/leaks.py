"""A fixture for tests that own threads and processes: any test that leaves one running fails."""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest


def _children() -> set[int]:
    """Live child processes of this test process (zombies are reaped first)."""
    found: set[int] = set()
    task_dir = f"/proc/{os.getpid()}/task"
    for task in os.listdir(task_dir):
        try:
            with open(f"{task_dir}/{task}/children") as f:
                found.update(int(pid) for pid in f.read().split())
        except FileNotFoundError:
            continue
    alive = set()
    for pid in found:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split(") ", 1)[1].startswith("Z"):
                    os.waitpid(pid, os.WNOHANG)
                    continue
        except (FileNotFoundError, ChildProcessError):
            continue
        alive.add(pid)
    return alive


@pytest.fixture(autouse=True)
def no_leftover_threads_or_processes() -> Iterator[None]:
    """Fail the test if it ends with a new thread or child process still running (after a short grace)."""
    threads_before = set(threading.enumerate())
    children_before = _children()
    yield
    deadline = time.monotonic() + 2.0
    while True:
        threads = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
        children = _children() - children_before
        if not threads and not children:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"test left running: threads {[t.name for t in threads]}, processes {sorted(children)}")
        time.sleep(0.05)
