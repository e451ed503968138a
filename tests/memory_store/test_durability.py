"""A child killed with SIGKILL at random moments loses no episode whose ``add_many`` had returned."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from writer_child import spawn_writer, vectors_for

import memory_store

TRIALS = int(os.environ.get("RONN_DURABILITY_TRIALS", "20"))

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")


def _read_printed(stdout: str) -> dict[int, tuple[int, int, int]]:
    """id -> (seed, batch, position) for every complete line the child printed."""
    printed: dict[int, tuple[int, int, int]] = {}
    lines = stdout.split("\n")
    for line in lines[:-1]:  # the last piece may be a line cut by the kill
        if line.startswith("ready"):
            continue
        seed, batch, *ids = (int(x) for x in line.split())
        for position, eid in enumerate(ids):
            printed[eid] = (seed, batch, position)
    return printed


def test_sigkill_at_random_moments_loses_no_returned_episode(db_path: Path) -> None:
    chance = random.Random(5)
    everything: dict[int, tuple[int, int, int]] = {}
    repairs = 0
    for trial in range(TRIALS):
        child = spawn_writer(db_path, str(trial), "--save-every", "5")
        assert child.stdout is not None
        assert child.stdout.readline().startswith("ready"), child.stderr.read() if child.stderr else ""
        time.sleep(chance.uniform(0.0, 0.25))  # kills land in inserts, commits, index adds and saves
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate(timeout=30)
        assert child.returncode == -signal.SIGKILL
        printed = _read_printed(out)
        assert not printed.keys() & everything.keys(), "an id was handed out twice"
        everything.update(printed)

        with memory_store.open_memory(db_path) as memory:
            repairs += bool(memory.episodic.index_repair)
            stored = memory.episodic.get(sorted(everything), with_payload=True)
            assert [e.id for e in stored] == sorted(everything)
            for episode in stored[-50:]:  # recent ones: vector and input survived intact
                seed, batch, position = everything[episode.id]
                expected = vectors_for(seed, batch, 1 + batch % 7)[position]
                assert episode.vector is not None and isinstance(episode.input, np.ndarray)
                np.testing.assert_allclose(episode.vector, expected, rtol=1e-3, atol=1e-3)
                assert episode.label == batch and episode.input.tolist() == [batch] * 3
            assert all(memory.episodic.in_index(eid) for eid in printed)
            for eid in list(printed)[-5:]:
                [nearest] = memory.episodic.search(memory.episodic.get([eid])[0].vector, k=1)
                assert nearest.id == eid and nearest.distance == pytest.approx(0.0, abs=1e-6)
    assert len(everything) > TRIALS  # the children did get work done between kills
    assert repairs > 0  # and some kills left an index that had to be repaired from the rows
