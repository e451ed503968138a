"""Totals over ONNX's node suite: how many pass, and the pass rate of every operator we register.

Known failures count as failures here (they are only skipped in test_onnx_backend.py); tests of element types
we do not implement (bfloat16, float8, 4-bit, strings) and sequence/optional values are left out of the rates.
"""

from __future__ import annotations

import pytest

from engine.conformance import NodeTestResult, per_op_summary, run_node_tests
from engine.ops.registry import registered_operators

MIN_PASSED = 1200          # of 1,884 node tests in onnx 1.23.2
MIN_OP_RATE = 0.95         # per registered operator


@pytest.fixture(scope="module")
def results() -> list[NodeTestResult]:
    return run_node_tests()


def test_total_passes(results: list[NodeTestResult]) -> None:
    passed = sum(r.status == "pass" for r in results)
    print(f"\nONNX node suite: {passed} of {len(results)} passed, "
          f"{sum(r.status == 'excluded' for r in results)} excluded")
    assert len(results) >= 1800, "the node suite should hold ~1,884 tests"
    assert passed >= MIN_PASSED


def test_every_registered_operator_passes_95_percent(results: list[NodeTestResult]) -> None:
    summary = per_op_summary(results)
    registered = {op for (domain, op) in registered_operators() if domain == ""}
    low = {
        op: f"{passed}/{run}"
        for op, (passed, run) in summary.items()
        if op in registered and passed < MIN_OP_RATE * run
    }
    assert not low, f"registered operators below {MIN_OP_RATE:.0%} of their node tests: {low}"


def test_at_least_100_operator_types() -> None:
    assert len([key for key in registered_operators() if key[0] == ""]) >= 100
