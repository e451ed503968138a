"""Run ONNX's node conformance suite (``onnx.backend.test``) against RONN and summarize it per operator.

``scripts/conformance.py`` is the command-line front end; ``tests/conformance`` asserts the totals. The exclude
list (:data:`EXCLUDES`) is the honest record of what the engine does not support yet: each entry says why.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import onnx
from onnx.backend.test.loader import load_model_tests
from onnx.backend.test.runner import Runner

# Patterns (regular expressions over test names) excluded from the suite, and why.
EXCLUDES: dict[str, str] = {
    # Element types the engine does not implement (numpy has no native bfloat16/float8/int4/float4).
    r"bfloat16|BFLOAT16|bf16": "bfloat16 tensors are not supported",
    r"float8|FLOAT8|e4m3|e5m2": "float8 tensors are not supported",
    r"int4|INT4|uint4|UINT4|float4|FLOAT4|e2m1": "4-bit tensors are not supported",
    r"(?i)int2|uint2": "2-bit tensors are not supported",
    r"_string|string_|strnorm|regex|StringConcat|string_split|test_strnormalizer": "string tensors are not supported",
    # Random generators cannot match reference outputs bit for bit.
    r"test_bernoulli|test_random|test_multinomial": "random operators",
    # Training-only and ML-domain operators are outside an inference engine's scope.
    r"test_adagrad|test_adam|test_momentum|test_nesterov|test_gradient|ai_onnx_ml": "training/ML domain",
}


@dataclass(frozen=True)
class NodeTestResult:
    name: str
    ops: tuple[str, ...]  # operator types of the model's main graph
    status: str          # "pass", "fail" or "excluded"
    message: str = ""
    seconds: float = 0.0


def model_ops(graph: onnx.GraphProto) -> set[str]:
    """Operator types used by a graph and its subgraphs."""
    ops: set[str] = set()
    for node in graph.node:
        ops.add(node.op_type)
        for attr in node.attribute:
            if attr.HasField("g"):
                ops |= model_ops(attr.g)
            for g in attr.graphs:
                ops |= model_ops(g)
    return ops


def excluded_reason(name: str) -> str | None:
    for pattern, reason in EXCLUDES.items():
        if re.search(pattern, name):
            return reason
    return None


def _to_array(x: object) -> object:
    return onnx.numpy_helper.to_array(x) if isinstance(x, onnx.TensorProto) else x


def _assert_similar(refs: list, outputs: list, rtol: float, atol: float) -> None:
    """onnx's comparison, except that sequences are compared element by element (the runner recurses into
    a sequence's arrays with ``len()``, which fails on 0-d elements: see RUNNER_LIMITATIONS)."""
    if len(refs) != len(outputs):
        raise AssertionError(f"expected {len(refs)} outputs, got {len(outputs)}")
    for ref, out in zip(refs, outputs, strict=True):
        if isinstance(ref, list):
            if not isinstance(out, list) or len(out) != len(ref):
                raise AssertionError(f"expected a sequence of {len(ref)} tensors, got {type(out).__name__}")
            _assert_similar(ref, out, rtol, atol)
        else:
            Runner.assert_similar_outputs([ref], [out], rtol=rtol, atol=atol)


def run_node_tests(ops: Iterable[str] | None = None, pattern: str | None = None) -> list[NodeTestResult]:
    """Run every node test (optionally only those using one of ``ops`` or matching ``pattern``)."""
    from engine.backend import Backend

    wanted = set(ops or ())
    results = []
    for case in load_model_tests(kind="node"):
        model = case.model
        if model is None:
            continue
        used = tuple(sorted({node.op_type for node in model.graph.node}))
        if wanted and not wanted & model_ops(model.graph):
            continue
        if pattern and not re.search(pattern, case.name):
            continue
        reason = excluded_reason(case.name)
        if reason:
            results.append(NodeTestResult(case.name, used, "excluded", reason))
            continue
        start = time.perf_counter()
        try:
            rep = Backend.prepare(model)
            for inputs, ref_outputs in case.data_sets or []:
                outputs = list(rep.run([_to_array(i) for i in inputs]))
                _assert_similar([_to_array(o) for o in ref_outputs], outputs, case.rtol, case.atol)
        except Exception as exc:  # a conformance failure of any kind is a result, not a crash
            message = f"{type(exc).__name__}: {exc}".strip()
            results.append(NodeTestResult(case.name, used, "fail", message, time.perf_counter() - start))
        else:
            results.append(NodeTestResult(case.name, used, "pass", "", time.perf_counter() - start))
    return results


def per_op_summary(results: Iterable[NodeTestResult]) -> dict[str, tuple[int, int]]:
    """{op: (passed, run)} over non-excluded tests, counting a test for every op in its model's main graph.

    Operators that appear only inside a subgraph (a Loop body, a FlexAttention score_mod) are not charged with
    that test: the test is about the operator that holds the subgraph.
    """
    summary: dict[str, list[int]] = {}
    for r in results:
        if r.status == "excluded":
            continue
        for op in r.ops:
            entry = summary.setdefault(op, [0, 0])
            entry[1] += 1
            entry[0] += r.status == "pass"
    return {op: (p, n) for op, (p, n) in sorted(summary.items())}


np.seterr(all="ignore")  # kernels compute inf/nan where ONNX says so; warnings would only be noise


# Node tests we pass but onnx's own runner cannot check: skipped in the pytest run of the suite, counted by
# run_node_tests, which compares sequences element by element.
RUNNER_LIMITATIONS: dict[str, str] = {
    "test_loop16_seq_none": "the output is a sequence holding a 0-d tensor; onnx's Runner.assert_similar_outputs "
    "calls len() on it",
}


# Node tests we fail today, one by one, with the reason. They are skipped in the pytest run of the suite
# (tests/conformance/test_onnx_backend.py) but counted as failures in the totals (test_coverage.py).
KNOWN_FAILURES: dict[str, str] = {
    **{
        f"test_flexattention{suffix}": "ai.onnx.preview::FlexAttention (preview domain, score/prob-mod subgraphs) "
        "has no kernel yet"
        for suffix in ("", "_scaled", "_gqa", "_diff_head_sizes", "_score_mod", "_prob_mod", "_fp16", "_double",
                       "_causal_mask", "_soft_cap", "_relative_positional")
    },
    **{
        f"test_image_decoder_decode_{fmt}": "ImageDecoder needs image codecs (JPEG, PNG, WebP, ...), which are not "
        "dependencies of the engine"
        for fmt in ("jpeg_rgb", "jpeg_grayscale", "jpeg_bgr", "jpeg2k_rgb", "bmp_rgb", "png_rgb", "tiff_rgb",
                    "webp_rgb", "pnm_rgb")
    },
}
