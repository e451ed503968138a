"""Semantic memory: traversal against a Python BFS, ACT-R activation against its formulas, learning."""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import memory_store
from memory_store import InvalidMemoryInputError, SemanticMemory


def _bfs(edges: set[tuple[int, int]], start: int, hops: int, both: bool) -> dict[int, int]:
    seen, queue = {start: 0}, deque([start])
    while queue:
        node = queue.popleft()
        if seen[node] == hops:
            continue
        for a, b in edges:
            for src, dst in [(a, b), (b, a)] if both else [(a, b)]:
                if src == node and dst not in seen:
                    seen[dst] = seen[node] + 1
                    queue.append(dst)
    return seen


@settings(max_examples=30, deadline=None)
@given(
    st.sets(st.tuples(st.integers(0, 11), st.integers(0, 11)), max_size=40),
    st.integers(0, 11),
    st.integers(1, 4),
    st.booleans(),
)
def test_neighbourhood_matches_breadth_first_search(
    edges: set[tuple[int, int]], start: int, hops: int, both: bool
) -> None:
    with memory_store.open_memory(":memory:") as memory:
        g = memory.semantic
        ids = g.add_concepts([f"n{i}" for i in range(12)])
        g.relate_many([(ids[a], ids[b], "r", 1.0) for a, b in edges])
        found = g.neighbourhood([ids[start]], hops, direction="both" if both else "out")
        expected = _bfs(edges, start, hops, both)
        assert found == {ids[n]: h for n, h in expected.items()}


def test_traversal_filters_by_type_and_weight(memory: memory_store.Memory) -> None:
    g = memory.semantic
    a, b, c, d = g.add_concepts(["a", "b", "c", "d"])
    g.relate_many([(a, b, "is_a", 1.0), (b, c, "part_of", 1.0), (a, d, "is_a", 0.1)])
    assert g.neighbourhood(a, 3, types=["is_a"]) == {a: 0, b: 1, d: 1}
    assert g.neighbourhood(a, 3, min_weight=0.5) == {a: 0, b: 1, c: 2}


def test_base_level_activation_is_actr_formula() -> None:
    with memory_store.open_memory(":memory:", concept_history=100) as memory:
        g = memory.semantic
        cid = g.add_concept("x")
        uses = [10.0, 40.0, 41.0, 90.0]
        for t in uses:
            g.record_use(cid, time=t)
        expected = math.log(sum((100.0 - t) ** -0.5 for t in uses))
        assert g.base_level([cid], now_s=100.0)[cid] == pytest.approx(expected, rel=1e-12)
        assert g.base_level([g.add_concept("never")], now_s=100.0) != 0  # -inf: never used


def test_bounded_history_approximates_the_full_sum() -> None:
    with memory_store.open_memory(":memory:", concept_history=8) as memory:
        g = memory.semantic
        cid = g.add_concept("x")
        uses = [float(t) for t in range(0, 1000, 10)]
        for t in uses:
            g.record_use(cid, time=t)
        [concept] = g.concepts(cid)
        assert concept.use_count == 100 and concept.first_use == 0.0
        exact = math.log(sum((2000.0 - t) ** -0.5 for t in uses))
        assert g.base_level([cid], now_s=2000.0)[cid] == pytest.approx(exact, abs=0.01)
        rows = memory.db.read(lambda c: c.exec_driver_sql("SELECT count(*) FROM concept_uses").scalar())
        assert rows == 8


def test_spreading_activation_uses_fan(memory: memory_store.Memory) -> None:
    g = memory.semantic
    hub, leaf, x, y, z = g.add_concepts(["hub", "leaf", "x", "y", "z"])
    g.relate_many([(hub, x, "r", 1), (hub, y, "r", 1), (hub, z, "r", 1), (leaf, x, "r", 1)])
    spread = g.spreading([hub, leaf], S=2.0)
    assert spread[x] == pytest.approx(0.5 * (2 - math.log(3)) + 0.5 * (2 - math.log(1)))
    assert spread[y] == pytest.approx(0.5 * (2 - math.log(3)))
    g.record_use([x, y], time=0.0)
    act = g.activation([x, y], context=[hub, leaf], now_s=4.0)
    assert act[x] - act[y] == pytest.approx(spread[x] - spread[y])


def test_hebbian_strengthening_and_decay(memory: memory_store.Memory) -> None:
    g = memory.semantic
    a, b, c = g.add_concepts(["a", "b", "c"])
    g.strengthen([a, b, c], rate=0.5)
    g.strengthen([b, a], rate=0.5)
    weights = {(r.source_id, r.target_id): r.weight for r in g.relations(a)}
    assert weights == {(a, b): pytest.approx(0.75), (a, c): pytest.approx(0.5)}
    assert g.decay(0.5, prune_below=0.3) == 2  # a-c and b-c fell to 0.25
    assert [(r.target_id, r.weight) for r in g.relations(a)] == [(b, pytest.approx(0.375))]


def test_concepts_and_cascading_removal(memory: memory_store.Memory) -> None:
    g = memory.semantic
    a, b = g.add_concepts(["a", "b"], prototypes=[[1.0, 2.0], None])
    assert g.add_concept("a") == a and g.find("b") == b and g.find("zzz") is None
    prototype = g.concepts(a)[0].prototype
    assert prototype is not None and prototype.tolist() == [1.0, 2.0]
    g.relate(a, b)
    g.record_use([a, b])
    g.remove_concepts([b])
    assert g.relations(a, "both") == [] and g.count() == 1


def test_bad_input_changes_nothing(memory: memory_store.Memory) -> None:
    g: SemanticMemory = memory.semantic
    a = g.add_concept("a")
    for call in (
        lambda: g.relate(a, 999),
        lambda: g.record_use([a, 999]),
        lambda: g.strengthen([a, 999]),
        lambda: g.neighbourhood([999]),
        lambda: g.concepts([999]),
    ):
        with pytest.raises(memory_store.UnknownIdError):
            call()
    with pytest.raises(memory_store.InvalidQueryError):
        g.neighbourhood([a], 0)
    with pytest.raises(memory_store.InvalidMemoryInputError):
        g.add_concepts(["ok", ""])
    with pytest.raises(memory_store.InvalidVectorError):
        g.add_concept("v", prototype=[float("nan")])
    with pytest.raises(memory_store.InvalidMemoryInputError, match="prefix must be a str"):
        g.concepts_named(None)  # type: ignore[arg-type]
    assert g.count() == 1 and g.relations(a, "both") == [] and g.concepts(a)[0].use_count == 0


async def test_async_wrappers(memory: memory_store.Memory) -> None:
    a, b = await memory.aio.semantic.add_concepts(["a", "b"])
    await memory.aio.semantic.relate(a, b, "r")
    assert await memory.aio.semantic.neighbourhood([a], 2) == {a: 0, b: 1}


def test_merge_writes_concepts_relations_hebbian_and_uses_in_one_call(memory) -> None:
    graph = memory.semantic
    old = graph.add_concept("cluster/1", np.ones(4, np.float32))
    ids = graph.merge(
        {"cluster/1": None, "cluster/2": np.zeros(4, np.float32), "label/3": None},
        [("cluster/1", "cluster/2", "follows", 0.5), ("cluster/2", "label/3", "has_label", 1.0)],
        strengthen=[("cluster/2", "cluster/1"), ("cluster/1", "cluster/2")],
        rate=0.5,
        used=["cluster/1", "cluster/2"],
    )
    assert ids["cluster/1"] == old and set(ids) == {"cluster/1", "cluster/2", "label/3"}
    [kept] = graph.concepts(old)
    assert kept.prototype is not None and kept.prototype.tolist() == [1.0] * 4  # None keeps the prototype
    a, b = sorted((ids["cluster/1"], ids["cluster/2"]))
    weights = {(r.source_id, r.target_id, r.type): r.weight for r in graph.relations(a, "both")}
    assert weights[(a, b, "associated")] == pytest.approx(0.75)  # two Hebbian steps: 0.5, then 0.5 + 0.5 * 0.5
    assert weights[(ids["cluster/1"], ids["cluster/2"], "follows")] == 0.5
    assert [c.use_count for c in graph.concepts([ids["cluster/1"], ids["label/3"]])] == [1, 0]
    with pytest.raises(InvalidMemoryInputError, match="not in"):
        graph.merge({"cluster/9": None}, [("cluster/9", "nowhere", "follows", 1.0)])
