"""Child process for the durability and concurrency tests (run as a script, not collected by pytest).

    python writer_child.py DB SEED [BATCHES] [--save-every N] [--semantic] [--commit]

Adds batches of 8-d episodes and prints ``ready`` once open, then one line of ids per ``add_many`` that
returned (flushed at once), so whatever the parent read was committed. ``--commit``: every other batch goes
through ``commit`` (rows only, the index catches up later) instead of ``add_many``. Vectors are a function of the seed
and the batch number, so the parent can recompute them. With no BATCHES it writes until killed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import memory_store
from memory_store import NewEpisode


def spawn_writer(db: Path, *args: str) -> subprocess.Popen[str]:
    """Start this script on ``db`` in a child process (used by the parent tests)."""
    repo = Path(__file__).resolve().parents[2]
    # the repository first, then what the parent was given (packages carried on PYTHONPATH, as on a bare machine)
    path = os.pathsep.join(p for p in (str(repo), os.environ.get("PYTHONPATH", "")) if p)
    env = dict(os.environ, PYTHONPATH=path, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, __file__, str(db), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def vectors_for(seed: int, batch: int, size: int) -> np.ndarray:
    return np.random.default_rng([seed, batch]).normal(size=(size, 8)).astype(np.float32)


def main() -> None:
    db, seed = sys.argv[1], int(sys.argv[2])
    rest = sys.argv[3:]
    batches = int(rest[0]) if rest and rest[0].isdigit() else None
    save_every = int(rest[rest.index("--save-every") + 1]) if "--save-every" in rest else 0
    semantic = "--semantic" in rest
    fast = "--commit" in rest
    memory = memory_store.open_memory(db, dim=8)
    print("ready", flush=True)
    batch = 0
    while batches is None or batch < batches:
        size = 1 + batch % 7
        vectors = vectors_for(seed, batch, size)
        new = [NewEpisode(vector=v, route=f"p{seed}", label=batch, input=np.full(3, batch)) for v in vectors]
        ids = memory.episodic.commit(new) if fast and batch % 2 else memory.episodic.add_many(new)
        print(seed, batch, *ids, flush=True)
        if semantic:
            a, b = memory.semantic.add_concepts([f"s{seed}-{batch}", f"s{seed}-{batch + 1}"])
            memory.semantic.relate(a, b, "next")
        if save_every and batch % save_every == save_every - 1:
            memory.episodic.save_index()
        batch += 1
    memory.close()


if __name__ == "__main__":
    main()
