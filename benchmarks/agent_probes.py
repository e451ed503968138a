"""Diagnostic probes of ``bench_agent.py`` (``--only breakdown|floor|tail|vm``, not in its default set): where a
lone call's overhead goes, what the commit and the yield cost right after a model's run, tail latency, and the
VM's "forgetting". Run them through ``bench_agent.py``, which pins the BLAS and numba threads first."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import trio
from _agent_setup import PINNED, sample_inputs

from cognition.agent import Agent
from cognition.config import AgentConfig
from engine.session import InferenceSession
from ronn.demo import MODEL


async def breakdown(model: Path, n: int) -> dict[str, float]:
    """Medians (µs) of the parts of a lone durable ``infer`` (default config, pinned routing), each call after
    a bare run: before the model run, the run minus the bare run, after the run, and the input job."""
    import cognition.input_job as input_job
    import cognition.systems as systems

    marks: dict[str, int] = {}
    work, run = input_job.InputJob._work, systems.ModelRunner.run

    def timed_work(job: input_job.InputJob) -> None:
        marks["job_start"] = time.perf_counter_ns()
        work(job)
        marks["job_end"] = time.perf_counter_ns()

    async def timed_run(runner: systems.ModelRunner, feeds: dict[str, np.ndarray], **options: bool) -> object:
        marks["run_start"] = time.perf_counter_ns()
        answer = await run(runner, feeds, **options)
        marks["run_end"] = time.perf_counter_ns()
        return answer

    input_job.InputJob._work = timed_work  # type: ignore[method-assign]
    systems.ModelRunner.run = timed_run  # type: ignore[assignment, method-assign]
    try:
        session = InferenceSession(model)
        name = session.get_inputs()[0].name
        xs = sample_inputs(session, n + 10)
        rows: dict[str, list[float]] = {k: [] for k in ("bare", "overhead", "before_run", "run_over_bare",
                                                       "after_run", "input_job")}  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            config = AgentConfig(**PINNED)  # type: ignore[arg-type]
            async with Agent(session, memory=Path(tmp) / "a.db", fast_model=session, config=config) as agent:
                for i, x in enumerate(xs):
                    start = time.perf_counter_ns()
                    session.run(None, {name: x + np.float32(2.0)})
                    bare = time.perf_counter_ns() - start
                    marks.clear()
                    start = time.perf_counter_ns()
                    await agent.infer(x)
                    end = time.perf_counter_ns()
                    if i < 10:
                        continue
                    rows["bare"].append(bare)
                    rows["overhead"].append(end - start - bare)
                    rows["before_run"].append(marks["run_start"] - start)
                    rows["run_over_bare"].append(marks["run_end"] - marks["run_start"] - bare)
                    rows["after_run"].append(end - marks["run_end"])
                    rows["input_job"].append(marks.get("job_end", 0) - marks.get("job_start", 0))
    finally:
        input_job.InputJob._work = work  # type: ignore[method-assign]
        systems.ModelRunner.run = run  # type: ignore[method-assign]
    return {k: statistics.median(v) / 1e3 for k, v in rows.items()}


async def tail(n: int) -> dict[str, float]:
    """Latency percentiles of ``n`` lone durable ``infer`` calls back to back on the digits MLP (pinned
    routing): what the indexer's catch-ups and WAL checkpoints beside them cost the slowest calls."""
    session = InferenceSession(MODEL)
    xs = sample_inputs(session, n + n // 10)
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        config = AgentConfig(**PINNED)  # type: ignore[arg-type]
        async with Agent(session, memory=Path(tmp) / "t.db", fast_model=session, config=config) as agent:
            for x in xs:
                start = time.perf_counter()
                await agent.infer(x)
                times.append(time.perf_counter() - start)
    t = np.array(times[n // 10 :]) * 1e6
    return {
        "calls": float(len(t)),
        "p50_us": float(np.percentile(t, 50)),
        "p99_us": float(np.percentile(t, 99)),
        "p99.9_us": float(np.percentile(t, 99.9)),
        "max_us": float(t.max()),
        "over_5ms": float((t > 5000).sum()),
    }


async def floor(model: Path, n: int) -> dict[str, float]:
    """Medians (µs) of the row commit and the scheduler yield a lone durable call takes after its model's run,
    alone: each right after a bare run of ``model`` ("after run") and right after itself ("warm")."""
    import memory_store

    session = InferenceSession(model)
    name = session.get_inputs()[0].name
    xs = sample_inputs(session, 8)
    rng = np.random.default_rng(1)
    rows: dict[str, list[int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        memory = memory_store.open_memory(Path(tmp) / "f.db", dim=128, autocheckpoint=0)
        episodic = memory.episodic

        def episode() -> memory_store.EncodedEpisode:  # as a lone call's: its input stored ahead by its job
            x = rng.random(1024, dtype=np.float32)
            stored = episodic.store_input(x)
            v, y = rng.random(128, dtype=np.float32), rng.random(10, dtype=np.float32)
            return episodic.encode_fields(v, input=stored, output=y, route="system1", confidence=0.9)

        async def timed(kind: str, encoded: memory_store.EncodedEpisode) -> None:
            if kind == "commit":
                episodic.commit([encoded], wait=0.001)  # as the agent's inline commit
            else:
                await trio.lowlevel.checkpoint()

        try:
            for _ in range(200):
                episodic.commit([episode()])
            for i in range(n + 10):
                for kind in ("commit", "yield"):
                    pending = [episode(), episode()]
                    bare = time.perf_counter_ns()
                    session.run(None, {name: xs[i % len(xs)]})
                    start = time.perf_counter_ns()
                    await timed(kind, pending[0])
                    cold = time.perf_counter_ns()
                    await timed(kind, pending[1])
                    warm = time.perf_counter_ns()
                    if i >= 10:
                        rows.setdefault("bare", []).append(start - bare)
                        rows.setdefault(f"{kind}_after_run", []).append(cold - start)
                        rows.setdefault(f"{kind}_warm", []).append(warm - cold)
        finally:
            memory.close()
    out = {k: statistics.median(v) / 1e3 for k, v in rows.items()}
    both = out["commit_after_run"] + out["yield_after_run"]
    out["both_after_run_pct"] = 100 * both / out["bare"]
    out["both_warm_pct"] = 100 * (out["commit_warm"] + out["yield_warm"]) / out["bare"]
    return out


def vm_probe() -> dict[str, float]:
    """Median µs of one ``HRM.score`` + novelty search right after a gap of pure register arithmetic (a numba
    loop touching no memory), and right after a rehearsal of the same call."""
    import numba

    from cognition.router import HRM
    from cognition.vectors import VectorWindow

    @numba.njit(nogil=True)
    def spin(n: int) -> float:
        x = 1.0
        for _ in range(n):
            x = x * 1.0000001 + 1e-9
        return x

    spin(10)
    start = time.perf_counter()
    spin(10_000_000)
    per_step = (time.perf_counter() - start) / 1e7
    hrm = HRM(AgentConfig())
    window = VectorWindow(1024, 128, 1)
    rng = np.random.default_rng(0)
    for _ in range(1024):
        window.add(rng.random(128, dtype=np.float32))
    for _ in range(3000):
        hrm.score(rng.random(), rng.random())
    v = rng.random(128, dtype=np.float32)

    def call() -> float:
        start = time.perf_counter_ns()
        hrm.score(0.5, window.distance(v))
        return (time.perf_counter_ns() - start) / 1e3

    out = {}
    for gap_ms in (0.0, 1.0, 2.0, 4.0, 8.0):
        steps = int(gap_ms / 1e3 / per_step)
        cold, rehearsed = [], []
        for _ in range(200):
            spin(steps)
            cold.append(call())
            spin(steps)
            call()
            rehearsed.append(call())
        out[f"after {gap_ms:g} ms"] = statistics.median(cold[10:])
        out[f"after {gap_ms:g} ms and a rehearsal"] = statistics.median(rehearsed[10:])
    return out
