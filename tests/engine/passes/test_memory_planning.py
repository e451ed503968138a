"""memory_planning: values whose lifetimes do not overlap share buffers; views extend their base's life."""

from __future__ import annotations

from onnx import helper
from passes_helpers import model, rand, run_level, run_pass, tensor

from engine.passes.memory_planning import MemoryPlan

mk = helper.make_node


def _plan(m) -> MemoryPlan:
    graph = run_pass(m, "memory_planning")
    return graph.metadata["memory_plan"]


def test_chain_reuses_buffers_of_dead_values() -> None:
    m = model(
        [mk("Relu", ["x"], ["a"]), mk("Neg", ["a"], ["b"]), mk("Abs", ["b"], ["c"]), mk("Exp", ["c"], ["y"])],
        [tensor("x", [4, 4])],
        [tensor("y", [4, 4])],
    )
    plan = _plan(m)
    assert plan.assignment["a"] == plan.assignment["c"] != plan.assignment["b"]
    assert len(plan.buffers) == 2
    assert plan.unshared_bytes == 4 * 64 and plan.planned_bytes == 2 * 64
    assert plan.lifetimes["a"] == (0, 1) and plan.lifetimes["y"] == (3, 4)


def test_graph_outputs_are_never_reused() -> None:
    m = model(
        [mk("Relu", ["x"], ["a"]), mk("Neg", ["a"], ["b"]), mk("Abs", ["b"], ["c"])],
        [tensor("x", [4])],
        [tensor("a", [4]), tensor("c", [4])],
    )
    plan = _plan(m)
    assert plan.assignment["a"] not in (plan.assignment["b"], plan.assignment["c"])


def test_view_keeps_its_base_alive() -> None:
    m = model(
        [
            mk("Relu", ["x"], ["a"]),
            mk("Reshape", ["a", "shape"], ["view"]),
            mk("Neg", ["x"], ["b"]),
            mk("Add", ["view", "b"], ["y"]),
        ],
        [tensor("x", [4])],
        [tensor("y", [4])],
        {"shape": __import__("numpy").array([4])},
    )
    plan = _plan(m)
    assert plan.assignment["view"] == plan.assignment["a"] != plan.assignment["b"]
    assert plan.lifetimes["view"][1] == 3


def test_in_place_candidates_and_graph_unchanged() -> None:
    m = model([mk("Relu", ["x"], ["a"]), mk("Neg", ["a"], ["y"])], [tensor("x", [4])], [tensor("y", [4])])
    graph = run_level(m, 3)
    plan = graph.metadata["memory_plan"]
    assert [(i, o) for _, i, o in plan.in_place] == [("a", "y")]
    assert len(graph.nodes) == 2 and rand(1) is not None
