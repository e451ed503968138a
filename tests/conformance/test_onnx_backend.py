"""ONNX's own node conformance suite (onnx.backend.test.BackendTest) run against RONN's Backend.

Every node test runs as its own pytest item (``OnnxBackendNodeModelTest::test_<name>_cpu``), except those in the
commented exclude list ``engine.conformance.EXCLUDES`` (unsupported element types and value kinds) and
``engine.conformance.KNOWN_FAILURES`` (what we do not support yet, test by test, each with its reason), and
``RUNNER_LIMITATIONS`` (tests onnx's runner cannot compare; ``test_coverage.py`` checks them its own way).
"""

from __future__ import annotations

import re

import onnx.backend.test

from engine.backend import Backend
from engine.conformance import EXCLUDES, KNOWN_FAILURES, RUNNER_LIMITATIONS

backend_test = onnx.backend.test.BackendTest(Backend, __name__)
for pattern in EXCLUDES:
    backend_test.exclude(pattern)
for name in [*KNOWN_FAILURES, *RUNNER_LIMITATIONS]:
    backend_test.exclude("^" + re.escape(name) + "_cpu$")

# Only the node tests: the "real" model tests download files, and the others are covered by tests/data.
OnnxBackendNodeModelTest = backend_test.test_cases["OnnxBackendNodeModelTest"]
