"""Fixtures for the memory-store tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import memory_store


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def memory() -> Iterator[memory_store.Memory]:
    with memory_store.open_memory(":memory:", dim=8) as m:
        yield m


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "memory.db"
