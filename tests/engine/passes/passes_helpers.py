"""Shared by the pass tests: build small models, run one pass (or a level), compare with O0."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

from engine import ir
from engine.loader import load_model
from engine.options import GraphOptimizationLevel, SessionOptions
from engine.passes.manager import PASSES, optimize
from engine.session import InferenceSession

F = onnx.TensorProto.FLOAT


def model(
    nodes: Sequence[onnx.NodeProto],
    inputs: Sequence[onnx.ValueInfoProto],
    outputs: Sequence[onnx.ValueInfoProto],
    weights: dict[str, np.ndarray] | None = None,
    opset: int = 18,
) -> onnx.ModelProto:
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in (weights or {}).items()]
    graph = helper.make_graph(list(nodes), "test", list(inputs), list(outputs), inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 10
    return m


def tensor(name: str, shape: Sequence[int | str | None] | None, elem: int = F) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, shape)


def run_pass(m: onnx.ModelProto, *names: str) -> ir.Graph:
    """The model's graph after the named passes ran (in order) until none changes it."""
    graph = load_model(m)
    for _ in range(10):
        if not any([PASSES[name](graph) for name in names]):
            break
    return graph


def run_level(m: onnx.ModelProto, level: int, disabled: Sequence[str] = ()) -> ir.Graph:
    return optimize(load_model(m), level, disabled)


def outputs(
    source: onnx.ModelProto | ir.Graph, feeds: dict[str, np.ndarray], level: int = 0
) -> list[np.ndarray]:
    options = SessionOptions()
    options.graph_optimization_level = GraphOptimizationLevel(level)
    return InferenceSession(source, options).run(None, feeds)


def assert_same_outputs(
    m: onnx.ModelProto, graph: ir.Graph, feeds: dict[str, np.ndarray], rtol: float = 1e-5, atol: float = 1e-6
) -> None:
    """The rewritten ``graph`` gives the unoptimized model's outputs (same dtypes and shapes)."""
    want = outputs(m, feeds)
    got = outputs(graph, feeds)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


def ops(graph: ir.Graph) -> list[str]:
    return [f"{n.domain}::{n.op_type}" if n.domain else n.op_type for n in graph.nodes]


def rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)
