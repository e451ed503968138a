"""``InferenceSession``: onnxruntime's API over RONN's engine.

    >>> import numpy as np
    >>> from engine.session import InferenceSession
    >>> sess = InferenceSession("model.onnx")                      # doctest: +SKIP
    >>> (y,) = sess.run(None, {"x": np.ones((1, 4), np.float32)})  # doctest: +SKIP

The session loads and checks the model once, compiles it into a flat plan (see :mod:`engine.plan`), and
``run`` only validates the feeds and walks the plan. ``run`` is safe to call from several threads at once.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Mapping, Sequence
from typing import Any

import numpy as np

from engine import ir
from engine.errors import InvalidInputError, ModelError
from engine.kernels.threads import run_with_threads
from engine.loader import ModelSource, load_model
from engine.options import SessionOptions
from engine.passes.manager import optimize
from engine.plan import NodeAssignment, Plan
from engine.providers.choice import parse_providers, resolve_providers
from engine.values import ModelMetadata, NodeArg, check_feed, shape_text, type_string


def get_available_providers() -> list[str]:
    """Execution providers that can run on this machine, in preference order (see :mod:`engine.providers`)."""
    from engine.providers import available_provider_names

    return available_provider_names()


class InferenceSession:
    """Run an ONNX model. Same constructor and methods as ``onnxruntime.InferenceSession``.

    Args:
        path_or_bytes: a path to an ``.onnx`` file, its bytes, or an ``onnx.ModelProto``; also an
            :class:`engine.ir.Graph`, which the session leaves as it was (it optimizes a copy that shares the
            graph's weight arrays: change weights with :meth:`update_weights`, not by writing into them).
        sess_options: a :class:`SessionOptions`.
        providers: execution provider names in preference order (default: CPU).

    Raises:
        ModelError: the model cannot be loaded (see :func:`engine.loader.load_model`).
        UnsupportedOperatorError: an operator has no kernel (names op, domain, opset and node).
        ProviderError: no requested provider can run here.
    """

    def __init__(
        self,
        path_or_bytes: ModelSource | ir.Graph,
        sess_options: SessionOptions | None = None,
        providers: Sequence[Any] | None = None,
        provider_options: Sequence[dict[str, Any]] | None = None,
        *,
        check_model: bool = True,
    ) -> None:
        self._options = sess_options if sess_options is not None else SessionOptions()
        if not isinstance(self._options, SessionOptions):
            raise TypeError(f"sess_options must be a SessionOptions, got {type(self._options).__name__}")
        requested = parse_providers(providers, provider_options)
        if isinstance(path_or_bytes, ir.Graph):
            # the caller's graph stays as it was: the passes rewrite a copy, whose arrays are read-only views
            # of the caller's (shared, not copied: write new weights with update_weights, not into them)
            self._graph = path_or_bytes.copy()
            self._graph.initializers = {name: a.view() for name, a in self._graph.initializers.items()}
        else:
            self._graph = load_model(path_or_bytes, check=check_model)
        try:
            self._graph = optimize(
                self._graph, self._options.optimization_level, self._options.disabled_optimizers
            )
        except ValueError as exc:
            raise ModelError(str(exc)) from exc
        self._providers = resolve_providers(requested, self._graph)
        self._provider_options = {name: opts for name, opts in requested or []}
        self._plan = Plan(self._graph, providers=self._providers)
        self._template = self._plan.template
        for array in self._graph.initializers.values():
            array.flags.writeable = False  # kernels must never write into weights
        self._inputs = [NodeArg.from_value(v) for v in self._graph.inputs]
        self._outputs = [NodeArg.from_value(v) for v in self._graph.outputs]
        self._input_values = {v.name: v for v in self._graph.inputs}
        self._output_index = {name: i for i, name in enumerate(self._graph.output_names)}
        self._weights_lock = threading.Lock()
        self._batcher: Any = None
        self._profiler: Any = None
        if self._options.enable_profiling:
            self.start_profiling()

    # --- introspection (onnxruntime's names) ---------------------------------------------------------------

    @property
    def graph(self) -> ir.Graph:
        """The graph this session runs (after optimization)."""
        return self._graph

    def get_inputs(self) -> list[NodeArg]:
        return list(self._inputs)

    def get_outputs(self) -> list[NodeArg]:
        return list(self._outputs)

    def get_overridable_initializers(self) -> list[NodeArg]:
        return []

    def get_providers(self) -> list[str]:
        """The providers this session uses, in preference order (CPU, the fallback, always among them)."""
        return [p.name for p in self._providers]

    def get_provider_options(self) -> dict[str, dict[str, str]]:
        return {p.name: {k: str(v) for k, v in self._provider_options.get(p.name, {}).items()}
                for p in self._providers}

    def node_providers(self) -> list[NodeAssignment]:
        """Which provider runs each step of the plan, in execution order, transfers included.

        Each entry is ``NodeAssignment(node, op_type, provider)``; inserted transfers have op type
        ``MemcpyFromHost`` or ``MemcpyToHost``.
        """
        return self._plan.assignments()

    def get_session_options(self) -> SessionOptions:
        return self._options

    def get_modelmeta(self) -> ModelMetadata:
        meta = self._graph.metadata
        return ModelMetadata(
            producer_name=meta.get("producer_name", ""),
            graph_name=self._graph.name,
            domain=meta.get("domain", ""),
            description=meta.get("doc_string", ""),
            version=meta.get("model_version", 0),
            custom_metadata_map=dict(meta.get("custom_metadata_map", {})),
        )

    # --- running -------------------------------------------------------------------------------------------

    def run(
        self,
        output_names: Sequence[str] | None,
        input_feed: Mapping[str, Any],
        run_options: Any = None,
    ) -> list[np.ndarray]:
        """Run the model on ``input_feed`` ({input name: array}) and return the requested outputs.

        Raises:
            InvalidInputError: an unknown or missing input name, a wrong dtype or rank, a dimension that
                contradicts the model's static shape, or an unknown output name.
            ExecutionError: a kernel failed (the message names the node).
        """
        feeds = self._validate_feeds(input_feed)
        return self._run_validated(_output_names(output_names), feeds)

    def _run_validated(self, output_names: Sequence[str] | None, feeds: list[Any]) -> list[np.ndarray]:
        """``run`` after the feeds were checked (``_validate_feeds``); the dynamic batcher calls this."""
        if output_names is None:
            slots = None
        else:
            slots = [self._output_slot(name) for name in output_names]
        execute = self._execute_profiled if self._profiler is not None else self._plan.execute
        threads = self._options.intra_op_num_threads
        if threads:  # BLAS and numba, for this call (numba's limit is per thread)
            outputs = run_with_threads(threads, execute, feeds, template=self._template, output_slots=slots)
        else:
            outputs = execute(feeds, template=self._template, output_slots=slots)
        return [self._own(out, feeds) for out in outputs]

    def run_in_slices(
        self,
        output_names: Sequence[str] | None,
        input_feed: Mapping[str, Any],
        slice_s: float = 0.001,
    ) -> Generator[None, None, list[np.ndarray]]:
        """``run`` as a generator for an event loop that runs a model on its own thread: each ``next`` runs
        graph nodes until ``slice_s`` has passed (at least one node, so a slice lasts ``slice_s`` plus at most
        one node), and the outputs are the ``StopIteration`` value. Between slices the loop serves its other
        tasks; it skips the worker-thread round trip of :meth:`run_async`. The feeds are checked before the
        generator is returned (InvalidInputError as :meth:`run`). With profiling on, the run is one slice.
        """
        if not (isinstance(slice_s, int | float) and slice_s > 0):
            raise InvalidInputError(f"slice_s must be a number > 0, got {slice_s!r}")
        feeds = self._validate_feeds(input_feed)
        names = _output_names(output_names)
        if self._profiler is not None:
            return self._one_slice(names, feeds)
        slots = None if names is None else [self._output_slot(name) for name in names]
        return self._slices(feeds, slots, slice_s)

    def _one_slice(self, names: list[str] | None, feeds: list[Any]) -> Generator[None, None, list[np.ndarray]]:
        return self._run_validated(names, feeds)
        yield  # a generator that finishes in its first slice

    def _slices(
        self, feeds: list[Any], slots: list[int] | None, slice_s: float
    ) -> Generator[None, None, list[np.ndarray]]:
        steps = self._plan.execute_in_slices(feeds, slice_s, template=self._template, output_slots=slots)
        threads = self._options.intra_op_num_threads
        while True:
            try:
                if threads:  # BLAS and numba thread counts hold per slice: the loop may run other work between
                    run_with_threads(threads, next, steps)
                else:
                    next(steps)
            except StopIteration as done:
                return [self._own(out, feeds) for out in done.value]
            yield

    async def run_async(
        self, output_names: Sequence[str] | None, input_feed: Mapping[str, Any]
    ) -> list[np.ndarray]:
        """``run`` in a worker thread, so an event loop (trio or asyncio, through anyio) stays responsive.

        With :meth:`enable_batching`, concurrent calls are joined into batched runs (see :mod:`engine.batcher`).
        """
        if self._batcher is not None:
            return await self._batcher.run(output_names, input_feed)
        import anyio.to_thread

        return await anyio.to_thread.run_sync(self.run, output_names, input_feed)

    def enable_batching(self, max_batch: int = 8, max_wait_s: float = 0.002, max_concurrent: int = 1) -> Any:
        """Join concurrent ``run_async`` calls along the batch axis (first dimension); returns the batcher.

        Only models whose inputs and outputs all have a symbolic first dimension are batched; others still run
        each request on its own. ``disable_batching`` undoes it. See :class:`engine.batcher.DynamicBatcher`.
        """
        from engine.batcher import DynamicBatcher

        self._batcher = DynamicBatcher(self, max_batch=max_batch, max_wait_s=max_wait_s,
                                       max_concurrent=max_concurrent)  # fmt: skip
        return self._batcher

    def disable_batching(self) -> None:
        self._batcher = None

    # --- profiling (onnxruntime's names) ----------------------------------------------------------------------

    def start_profiling(self) -> None:
        """Time every node of every following run (also on when ``SessionOptions.enable_profiling`` is set)."""
        from engine.profiling import Profiler

        self._profiler = Profiler()

    def end_profiling(self, path: str | None = None) -> str:
        """Stop profiling and write a Chrome-trace JSON (as onnxruntime does); returns its path.

        The per-node and per-op summary is in :meth:`get_profile` (call it before this).
        """
        if self._profiler is None:
            return ""
        profiler, self._profiler = self._profiler, None
        return profiler.write_trace(path)

    def get_profile(self) -> Any:
        """The :class:`engine.profiling.Profile` recorded so far (per node, per op type), or None."""
        return None if self._profiler is None else self._profiler.profile()

    def _execute_profiled(
        self, inputs: Sequence[Any], template: list[Any], output_slots: Sequence[int] | None
    ) -> list[Any]:
        assert self._profiler is not None
        return self._profiler.execute(self._plan, inputs, template, output_slots)

    def update_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        """Replace initializers atomically between runs; runs already in flight finish with the old values.

        Raises:
            InvalidInputError: an unknown initializer name, or a shape or dtype different from the current one.
        """
        arrays = {}
        for name, value in weights.items():
            current = self._graph.initializers.get(name)
            if current is None:
                raise InvalidInputError(f"update_weights: the model has no initializer named {name!r}")
            array = np.array(value, dtype=current.dtype, copy=True)
            if array.shape != current.shape:
                raise InvalidInputError(
                    f"update_weights: {name!r} has shape {current.shape}, got {array.shape}"
                )
            if np.asarray(value).dtype != current.dtype:
                raise InvalidInputError(
                    f"update_weights: {name!r} has dtype {current.dtype}, got {np.asarray(value).dtype}"
                )
            array.flags.writeable = False
            arrays[name] = array
        with self._weights_lock:
            template = self._plan.with_initializers(arrays, self._template)  # device copies too
            for name, array in arrays.items():
                self._graph.initializers[name] = array
            self._template = template  # one reference swap: a run sees either all old or all new weights

    # --- helpers -------------------------------------------------------------------------------------------

    def _output_slot(self, name: str) -> int:
        index = self._output_index.get(name)
        if index is None:
            raise InvalidInputError(
                f"unknown output name {name!r}; the model's outputs are {list(self._output_index)}"
            )
        return self._plan.output_slots[index]

    @staticmethod
    def _own(out: Any, feeds: list[Any]) -> Any:
        """The caller's copy where it needs one, as onnxruntime gives: an output that is a weight (or a view of
        one) is read-only, and one that is an input (or a view of it: Identity, Reshape) would change with it."""
        if not isinstance(out, np.ndarray):
            return out
        if not out.flags.writeable:
            return out.copy()
        if out.base is None:  # owns its data: only the very input object can be the caller's
            return out.copy() if any(out is f for f in feeds) else out
        shared = any(isinstance(f, np.ndarray) and np.may_share_memory(out, f) for f in feeds)
        return out.copy() if shared else out

    def _validate_feeds(self, input_feed: Mapping[str, Any]) -> list[Any]:
        if not isinstance(input_feed, Mapping):
            raise InvalidInputError(
                f"input_feed must be a dict of {{input name: array}}, got {type(input_feed).__name__}"
            )
        for name in input_feed:
            if name not in self._input_values:
                raise InvalidInputError(
                    f"unknown input name {name!r}; the model's inputs are {list(self._input_values)}"
                )
        feeds = []
        for value in self._graph.inputs:
            if value.name not in input_feed:
                raise InvalidInputError(
                    f"missing input {value.name!r} ({type_string(value.dtype)}, shape {shape_text(value.shape)})"
                )
            feeds.append(check_feed(value, input_feed[value.name]))
        return feeds


def _output_names(output_names: Any) -> list[str] | None:
    """``run``'s output names as a list (None: every output); a bare string is a mistake worth naming (it would
    read as one name per character)."""
    if output_names is None:
        return None
    if isinstance(output_names, str | bytes):
        raise InvalidInputError(f"output_names must be a list of names or None, got the string {output_names!r}")
    return list(output_names)
