"""The sleep's worker process (cognition/worker_process.py): calls, errors, cancellation, and that it never runs
the caller's ``__main__`` script (anyio.to_process did: an unguarded script ran twice into one memory file)."""

from __future__ import annotations

import math
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import anyio
import numpy as np
import pytest

from cognition.worker_process import WorkerProcess

ROOT = Path(__file__).resolve().parents[2]


async def test_runs_functions_in_another_process_and_keeps_it() -> None:
    worker = WorkerProcess()
    try:
        assert await worker.run(math.hypot, 3.0, 4.0) == 5.0
        pid = await worker.run(os.getpid)
        assert pid != os.getpid() and await worker.run(os.getpid) == pid
        total = await worker.run(np.add, np.arange(4), np.ones(4, np.int64))
        np.testing.assert_array_equal(total, [1, 2, 3, 4])
        assert worker.started == 1
    finally:
        await worker.aclose()


async def test_an_exception_in_the_work_is_raised_here_and_the_worker_stays() -> None:
    worker = WorkerProcess()
    try:
        pid = await worker.run(os.getpid)
        with pytest.raises(ValueError, match="math domain error"):
            await worker.run(math.sqrt, -1.0)
        assert await worker.run(os.getpid) == pid
    finally:
        await worker.aclose()


async def test_cancelling_a_call_kills_the_worker_and_the_next_call_starts_another() -> None:
    worker = WorkerProcess()
    try:
        pid = await worker.run(os.getpid)
        with anyio.move_on_after(0.5):
            await worker.run(__import__("time").sleep, 30)
        assert worker.started == 1
        assert await worker.run(os.getpid) != pid and worker.started == 2
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # gone (killed and reaped)
    finally:
        await worker.aclose()


async def test_what_the_work_prints_does_not_corrupt_the_replies() -> None:
    worker = WorkerProcess()
    try:
        assert await worker.run(print, "to stdout, from Python") is None
        assert await worker.run(os.write, 1, b"to file descriptor 1, as a C library would\n") > 0
        assert await worker.run(math.hypot, 3.0, 4.0) == 5.0  # the pipe still carries clean replies
        assert worker.started == 1
    finally:
        await worker.aclose()


async def test_a_worker_that_dies_raises_broken_worker_process() -> None:
    worker = WorkerProcess()
    try:
        with pytest.raises(anyio.BrokenWorkerProcess):
            await worker.run(os._exit, 3)
        assert await worker.run(math.hypot, 6.0, 8.0) == 10.0
    finally:
        await worker.aclose()


def test_an_unguarded_script_runs_once_and_stores_its_episodes_once(tmp_path: Path) -> None:
    # no ``if __name__ == "__main__":`` guard, a fixed memory file and sleeps in the worker process
    script = tmp_path / "experiment.py"
    marker, db = tmp_path / "runs.txt", tmp_path / "agent.db"
    script.write_text(
        textwrap.dedent(f"""
        import numpy as np, trio
        from cognition.agent import Agent
        from cognition.config import AgentConfig
        from ronn.demo import MODEL

        with open({str(marker)!r}, "a") as f:
            f.write("ran\\n")

        async def main():
            xs = np.random.default_rng(0).random((120, 64), dtype=np.float32)
            async with Agent(MODEL, memory={str(db)!r}, config=AgentConfig(sleep_every_episodes=1000)) as agent:
                for x in xs:
                    thought = await agent.infer(x)
                    await agent.feedback(thought, label=thought.prediction)
                await agent.sleep()
                assert agent._sleeper.worker == "process", agent._sleeper.worker

        trio.run(main)
    """)
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert marker.read_text() == "ran\n"
    assert sqlite3.connect(db).execute("SELECT count(*) FROM episodes").fetchone()[0] == 120
