"""Memory-store benchmark: write rate, HNSW recall and latency, knowledge-graph traversal (one core).

Figures the issue asks for, each beside raw hnswlib where that comparison means something:

- episodes stored per second (128-d vectors, batched add_many: rows, compressed input, index point);
- recall@10 against brute force on vectors from a Gaussian mixture, with query P50/P95, for the store's
  search (index + row fetch) and for raw hnswlib with the same parameters;
- 3-hop neighbourhood time on a random graph with 100k relations;
- reopening: loading the saved index vs rebuilding it from rows.

Run:  python benchmarks/bench_memory.py            (100k points, 100k relations)
      python benchmarks/bench_memory.py --quick    (20k points, 20k relations)
      python benchmarks/bench_memory.py --sweep    (raw hnswlib over M / ef_construction / ef)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core: BLAS must not fan out, so set before numpy loads

import hnswlib  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import memory_store  # noqa: E402
from memory_store import HnswParams, NewEpisode  # noqa: E402


def mixture(n: int, dim: int, clusters: int, rng: np.random.Generator, spread: float) -> np.ndarray:
    centers = rng.normal(0.0, 1.0, (clusters, dim)).astype(np.float32)
    labels = rng.integers(0, clusters, n)
    points = centers[labels] + rng.normal(0.0, spread, (n, dim)).astype(np.float32)
    # the store keeps float16 vectors: give both sides the same numbers
    return points.astype(np.float16).astype(np.float32)


def brute_force(data: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    norms = (data * data).sum(axis=1)
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), 64):
        q = queries[start : start + 64]
        d = norms[None, :] - 2.0 * (q @ data.T)
        part = np.argpartition(d, k, axis=1)[:, :k]
        order = np.take_along_axis(d, part, axis=1).argsort(axis=1)
        out[start : start + 64] = np.take_along_axis(part, order, axis=1)
    return out


def recall(found: list[list[int]], truth: np.ndarray) -> float:
    hits = sum(len(set(f) & set(t.tolist())) for f, t in zip(found, truth, strict=True))
    return hits / truth.size


def percentiles(samples: list[float]) -> tuple[float, float]:
    p50, p95 = np.percentile(np.asarray(samples) * 1e3, [50, 95])
    return float(p50), float(p95)


def timed_queries(fn, queries: np.ndarray) -> tuple[list[list[int]], list[float]]:  # type: ignore[no-untyped-def]
    found, times = [], []
    for q in queries:
        t = time.perf_counter()
        ids = fn(q)
        times.append(time.perf_counter() - t)
        found.append(ids)
    return found, times


def sweep(args: argparse.Namespace, data: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> None:
    print(f"\nraw hnswlib sweep, {len(data)} points, one thread")
    print(f"{'M':>4} {'ef_c':>5} {'build/s':>9} {'ef':>4} {'recall@10':>10} {'P50 ms':>8} {'P95 ms':>8}")
    for m in (8, 12, 16, 24):
        for efc in (64, 100, 200):
            index = hnswlib.Index(space="l2", dim=data.shape[1])
            index.init_index(max_elements=len(data), M=m, ef_construction=efc)
            t = time.perf_counter()
            index.add_items(data, np.arange(1, len(data) + 1), num_threads=1)
            rate = len(data) / (time.perf_counter() - t)
            for ef in (16, 32, 48, 64, 96):
                index.set_ef(ef)
                found, times = timed_queries(
                    lambda q, ix=index: (ix.knn_query(q, k=10)[0][0] - 1).tolist(), queries
                )
                p50, p95 = percentiles(times)
                r = recall(found, truth)
                print(f"{m:>4} {efc:>5} {rate:>9.0f} {ef:>4} {r:>10.3f} {p50:>8.3f} {p95:>8.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument(
        "--spread", type=float, default=0.35, help="cluster standard deviation (centres ~ N(0,1))"
    )
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=500, help="episodes per add_many")
    parser.add_argument("--relations", type=int, default=100_000)
    parser.add_argument("--concepts", type=int, default=20_000)
    parser.add_argument("--M", type=int, default=HnswParams().M)
    parser.add_argument("--ef-construction", type=int, default=HnswParams().ef_construction)
    parser.add_argument("--ef", type=int, default=HnswParams().ef)
    parser.add_argument("--quick", action="store_true", help="20k points, 20k relations, 300 queries")
    parser.add_argument("--sweep", action="store_true", help="raw hnswlib over M / ef_construction / ef")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.quick:
        args.points, args.relations, args.concepts, args.queries = 20_000, 20_000, 4_000, 300

    rng = np.random.default_rng(args.seed)
    everything = mixture(args.points + args.queries, args.dim, args.clusters, rng, args.spread)
    data, queries = everything[: args.points], everything[args.points :]
    truth = brute_force(data, queries, 10)
    if args.sweep:
        sweep(args, data, queries, truth)
        return

    params = HnswParams(M=args.M, ef_construction=args.ef_construction, ef=args.ef, threads=1)
    rows: list[tuple[str, str, str]] = []
    inputs = rng.normal(size=(args.points, 64)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        memory = memory_store.open_memory(path, dim=args.dim, hnsw=params)
        t = time.perf_counter()
        for start in range(0, args.points, args.batch):
            stop = min(start + args.batch, args.points)
            memory.episodic.add_many(
                [
                    NewEpisode(vector=data[i], input=inputs[i], route="system1", confidence=0.9)
                    for i in range(start, stop)
                ]
            )
        store_rate = args.points / (time.perf_counter() - t)

        raw = hnswlib.Index(space="l2", dim=args.dim)
        raw.init_index(max_elements=args.points, M=args.M, ef_construction=args.ef_construction)
        t = time.perf_counter()
        for start in range(0, args.points, args.batch):
            stop = min(start + args.batch, args.points)
            raw.add_items(data[start:stop], np.arange(start + 1, stop + 1), num_threads=1)
        raw_rate = args.points / (time.perf_counter() - t)
        rows.append(
            (f"episodes stored /s (add_many, batch {args.batch})", f"{store_rate:,.0f}", f"{raw_rate:,.0f}")
        )

        raw.set_ef(args.ef)
        raw_found, raw_times = timed_queries(lambda q: (raw.knn_query(q, k=10)[0][0] - 1).tolist(), queries)
        store_found, store_times = timed_queries(
            lambda q: [e.id - 1 for e in memory.episodic.search(q, k=10)], queries
        )
        rows.append(
            (
                "recall@10 vs brute force",
                f"{recall(store_found, truth):.3f}",
                f"{recall(raw_found, truth):.3f}",
            )
        )
        s50, s95 = percentiles(store_times)
        r50, r95 = percentiles(raw_times)
        rows.append(("query P50 / P95 (ms)", f"{s50:.3f} / {s95:.3f}", f"{r50:.3f} / {r95:.3f}"))
        since = time.time() - 3600
        _, f_times = timed_queries(
            lambda q: [e.id for e in memory.episodic.search(q, k=10, since=since)], queries[:200]
        )
        f50, f95 = percentiles(f_times)
        rows.append(("query with a time filter P50 / P95 (ms)", f"{f50:.3f} / {f95:.3f}", "-"))

        memory.close()
        t = time.perf_counter()
        memory = memory_store.open_memory(path, hnsw=params)
        load_s = time.perf_counter() - t
        memory.close()
        for suffix in (".hnsw", ".hnsw.json"):
            Path(str(path) + suffix).unlink()
        t = time.perf_counter()
        memory = memory_store.open_memory(path, hnsw=params)
        rebuild_s = time.perf_counter() - t
        rows.append(("reopen: load index / rebuild from rows (s)", f"{load_s:.2f} / {rebuild_s:.2f}", "-"))

        graph = memory.semantic
        ids = graph.add_concepts([f"c{i}" for i in range(args.concepts)])
        src = rng.integers(0, args.concepts, args.relations)
        dst = rng.integers(0, args.concepts, args.relations)
        triples = {(ids[a], ids[b], "related", 1.0) for a, b in zip(src, dst, strict=True) if a != b}
        t = time.perf_counter()
        graph.relate_many(sorted(triples))
        rel_rate = len(triples) / (time.perf_counter() - t)
        starts = rng.choice(ids, 200)
        sizes: list[int] = []

        def out_query(s: int) -> list[int]:
            sizes.append(len(graph.neighbourhood([int(s)], 3)))
            return []

        _, out_times = timed_queries(out_query, starts)
        _, both_times = timed_queries(
            lambda s: list(graph.neighbourhood([int(s)], 3, direction="both")), starts
        )
        o50, o95 = percentiles(out_times)
        b50, b95 = percentiles(both_times)
        rows.append((f"relations stored /s ({len(triples):,} in one call)", f"{rel_rate:,.0f}", "-"))
        rows.append(
            (f"3-hop out, P50 / P95 (ms; ~{int(np.mean(sizes))} reached)", f"{o50:.2f} / {o95:.2f}", "-")
        )
        rows.append(("3-hop both directions, P50 / P95 (ms)", f"{b50:.2f} / {b95:.2f}", "-"))
        memory.close()

    print(
        f"\n{args.points:,} x {args.dim}-d vectors, {args.clusters} Gaussian clusters (spread {args.spread}),"
        f" {args.queries} queries; HNSW M={args.M} ef_construction={args.ef_construction} ef={args.ef};"
        " one thread"
    )
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'memory_store':>16}  {'raw hnswlib':>14}")
    for name, ours, theirs in rows:
        print(f"{name:<{width}}  {ours:>16}  {theirs:>14}")


if __name__ == "__main__":
    main()
