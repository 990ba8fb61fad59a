"""Fixtures for the whole suite."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from helpers import World, make_world  # noqa: E402


@pytest.fixture
def world(tmp_path: Path) -> World:
    """An authority with the small known registry; devices are made per test."""
    return make_world(tmp_path)
