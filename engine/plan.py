"""Compile an :class:`~engine.ir.Graph` into a flat execution plan and run it.

A plan is a list of steps ``(kernel, input slots, output slots, attributes, slots to free)``. Values live in a
per-run list indexed by slot number, so running a node costs one Python call plus list indexing, and every
intermediate is dropped right after its last reader. Graphs given as attributes (If, Loop, Scan) are compiled
into nested plans that read the enclosing values they mention.

Each node runs on the execution provider the partitioner (:mod:`engine.providers.partition`) gives it; where a
value must move between devices the plan has a transfer step (``MemcpyFromHost``/``MemcpyToHost``), and
weights read on a device are copied there once, when the plan is built.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine import ir
from engine.errors import ExecutionError, ModelError, RonnError, UnsupportedOperatorError
from engine.providers.base import HOST, ExecutionProvider
from engine.providers.partition import Placer, Transfer

_NONE_SLOT = 0      # always None: omitted optional inputs read it
_DISCARD_SLOT = 1   # omitted optional outputs are written here and never read


@dataclass(frozen=True)
class Step:
    fn: Callable[..., Any]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    kwargs: dict[str, Any]
    frees: tuple[int, ...]
    node: ir.Node
    scope_slots: tuple[tuple[str, int], ...] = ()   # enclosing values a subgraph attribute reads
    provider: str = "CPUExecutionProvider"


@dataclass(frozen=True)
class NodeAssignment:
    """Which provider runs a node (transfers that the partitioner inserted have op MemcpyFromHost/ToHost)."""

    node: str
    op_type: str
    provider: str


def _transfer_kernel(fn: Callable[[Any], Any]) -> Callable[[Any], tuple[Any]]:
    def transfer(array: Any) -> tuple[Any]:
        return (fn(array),)

    return transfer


class Subgraph:
    """A compiled graph attribute: call it with its formal inputs and the enclosing scope's values."""

    def __init__(self, graph: ir.Graph, outer_names: Sequence[str],
                 providers: Sequence[ExecutionProvider] | None = None) -> None:
        self.graph = graph
        self.plan = Plan(graph, outer_names=outer_names, providers=providers)
        self.free_names = self.plan.outer_reads

    def __call__(self, inputs: Sequence[Any], scope: dict[str, Any]) -> list[Any]:
        return self.plan.execute(list(inputs), scope)


def _free_names(graph: ir.Graph) -> set[str]:
    """Names a graph (and its subgraphs) reads without defining them."""
    defined = set(graph.input_names) | set(graph.initializers) | {""}
    used: set[str] = set()
    for node in graph.nodes:
        for name in node.inputs:
            if name not in defined:
                used.add(name)
        for value in node.attrs.values():
            for sub in value if isinstance(value, list) else [value]:
                if isinstance(sub, ir.Graph):
                    used |= _free_names(sub) - defined
        defined.update(node.outputs)
    for out in graph.output_names:
        if out not in defined:
            used.add(out)
    return used


class Plan:
    """The compiled, immutable form of a graph. ``execute`` is thread-safe: each call has its own slots."""

    def __init__(
        self, graph: ir.Graph, *, outer_names: Sequence[str] = (),
        providers: Sequence[ExecutionProvider] | None = None,
    ) -> None:
        self.graph = graph
        if not providers:
            from engine.providers.cpu import CPUProvider

            providers = [CPUProvider()]
        placer = Placer(graph, providers)
        host_providers = [p for p in providers if p.device == HOST]
        slot_of: dict[str, int] = {}

        def slot(name: str) -> int:
            if name not in slot_of:
                slot_of[name] = len(slot_of) + 2
            return slot_of[name]

        for name in graph.input_names:
            slot(name)
        for name in graph.initializers:
            slot(name)
        outer = set(outer_names)
        self.outer_reads: list[str] = []
        steps: list[tuple[Callable[..., Any], list[int], list[int], dict[str, Any], ir.Node, list, str]] = []
        # slot of a weight's device copy -> (weight name, the transfer that makes it); filled at build time
        self.device_weights: dict[int, tuple[str, Callable[[Any], Any]]] = {}

        def emit(transfers: list[Transfer]) -> None:
            for t in transfers:
                if t.source in graph.initializers:
                    self.device_weights[slot(t.target)] = (t.source, t.fn)
                else:
                    steps.append((_transfer_kernel(t.fn), [slot(t.source)], [slot(t.target)], {}, t.node(),
                                  [], t.provider))

        for node in graph.nodes:
            provider = placer.assign(node)
            on_host = provider.host_inputs(node)
            in_slots = []
            inputs = list(node.inputs)
            while inputs and inputs[-1] == "":
                inputs.pop()
            for name in inputs:
                if name == "":
                    in_slots.append(_NONE_SLOT)
                    continue
                if name not in slot_of:
                    if name in outer:
                        self.outer_reads.append(name)
                    else:
                        raise ModelError(
                            f"{node.describe()} reads {name!r}, which no earlier node, input or initializer defines "
                            "(the graph is not in topological order or is broken)"
                        )
                slot(name)
                read, transfers = placer.read(name, provider, len(in_slots) in on_host)
                emit(transfers)
                in_slots.append(slot(read))
            spec = provider.compile_node(node, graph)
            kwargs: dict[str, Any] = {}
            scope_names: list[tuple[str, int]] = []
            for key, value in node.attrs.items():
                if key not in spec.attributes and not spec.accepts_any_attribute:
                    raise UnsupportedOperatorError(
                        node.op_type, node.domain, graph.opset(node.domain), node.name,
                        detail=f"attribute {key!r} is not supported",
                    )
                if isinstance(value, ir.Graph):
                    visible = set(slot_of) | outer
                    sub = Subgraph(value, sorted(visible), host_providers)
                    for name in sub.free_names:
                        if name not in slot_of and name in outer:
                            self.outer_reads.append(name)
                        slot(name)
                        read, transfers = placer.read(name, provider, True)
                        emit(transfers)
                        scope_names.append((name, slot(read)))
                    value = sub
                kwargs[key] = value
            if spec.wants_num_outputs:
                kwargs["_num_outputs"] = len(node.outputs)
            out_slots = []
            for name in node.outputs:
                if name == "":
                    out_slots.append(_DISCARD_SLOT)
                else:
                    out_slots.append(slot(name))
            scope = sorted(set(scope_names))
            steps.append((spec.fn, in_slots, out_slots, kwargs, node, scope, provider.name))
            placer.produced(node, provider)

        for name in graph.output_names:
            if name not in slot_of:
                if name in outer:
                    self.outer_reads.append(name)
                    slot(name)
                else:
                    raise ModelError(f"graph output {name!r} is produced by no node, input or initializer")
        output_names = []
        for name in graph.output_names:
            read, transfers = placer.read(name, placer.fallback, True)
            emit(transfers)
            output_names.append(read)

        # Liveness: free each slot after its last reader, except graph outputs and constants.
        keep = {slot_of[n] for n in [*graph.output_names, *output_names]} | {_NONE_SLOT, _DISCARD_SLOT}
        keep |= {slot_of[n] for n in graph.initializers} | set(self.device_weights)
        last_use: dict[int, int] = {}
        for index, (_, in_slots, out_slots, _, _, scope, _) in enumerate(steps):
            for s in [*in_slots, *(s for _, s in scope), *out_slots]:
                last_use[s] = index
        frees: list[list[int]] = [[] for _ in steps]
        for s, index in last_use.items():
            if s not in keep:
                frees[index].append(s)

        self.steps = tuple(
            Step(fn, tuple(ins), tuple(outs), kw, tuple(frees[i]), node, tuple(scope), provider_name)
            for i, (fn, ins, outs, kw, node, scope, provider_name) in enumerate(steps)
        )
        self.slot_of = slot_of
        self.n_slots = len(slot_of) + 2
        self.input_slots = tuple(slot_of[n] for n in graph.input_names)
        self.output_slots = tuple(slot_of[n] for n in output_names)
        self.outer_reads = list(dict.fromkeys(self.outer_reads))
        self._outer_slots = tuple((n, slot_of[n]) for n in self.outer_reads)
        self.template: list[Any] = [None] * self.n_slots
        for name, array in graph.initializers.items():
            self.template[slot_of[name]] = array
        for s, (name, to_device) in self.device_weights.items():
            self.template[s] = to_device(graph.initializers[name])

    def with_initializers(
        self, updates: dict[str, np.ndarray], template: list[Any] | None = None
    ) -> list[Any]:
        """A new slot template with some initializers replaced, device copies too (the plan is unchanged)."""
        template = list(self.template if template is None else template)
        for name, array in updates.items():
            template[self.slot_of[name]] = array
        for s, (name, to_device) in self.device_weights.items():
            if name in updates:
                template[s] = to_device(updates[name])
        return template

    def assignments(self) -> list[NodeAssignment]:
        """The provider of every step, transfers included, in execution order."""
        return [NodeAssignment(step.node.name or step.node.outputs[0], step.node.op_type, step.provider)
                for step in self.steps]

    def execute(
        self,
        inputs: Sequence[Any],
        scope: dict[str, Any] | None = None,
        template: list[Any] | None = None,
        output_slots: Sequence[int] | None = None,
    ) -> list[Any]:
        """Run the plan on ``inputs`` (in graph-input order) and return the graph outputs (or ``output_slots``)."""
        slots = list(self.template if template is None else template)
        for s, value in zip(self.input_slots, inputs, strict=False):
            slots[s] = value
        if self._outer_slots:
            assert scope is not None
            for name, s in self._outer_slots:
                slots[s] = scope[name]
        for step in self.steps:
            run_step(step, slots)
        wanted = self.output_slots if output_slots is None else output_slots
        return [slots[s] for s in wanted]

    def execute_in_slices(
        self,
        inputs: Sequence[Any],
        slice_s: float,
        template: list[Any] | None = None,
        output_slots: Sequence[int] | None = None,
    ) -> Generator[None, None, list[Any]]:
        """:meth:`execute` as a generator: each ``next`` runs steps until ``slice_s`` has passed (at least one
        step), so an event loop can run a model on its own thread and serve other tasks between slices; the
        outputs are the ``StopIteration`` value."""
        slots = list(self.template if template is None else template)
        for s, value in zip(self.input_slots, inputs, strict=False):
            slots[s] = value
        if self._outer_slots:
            raise ExecutionError("a subgraph's plan cannot run in slices")
        clock = time.perf_counter
        until = clock() + slice_s
        last = len(self.steps) - 1
        for i, step in enumerate(self.steps):
            run_step(step, slots)
            if i < last and clock() >= until:
                yield
                until = clock() + slice_s
        wanted = self.output_slots if output_slots is None else output_slots
        return [slots[s] for s in wanted]


def run_step(step: Step, slots: list[Any]) -> None:
    """Run one step of a plan on ``slots`` (its outputs stored, its dead inputs freed)."""
    try:
        if step.scope_slots:
            kwargs = dict(step.kwargs)
            kwargs["_scope"] = {n: slots[s] for n, s in step.scope_slots}
            results = step.fn(*[slots[i] for i in step.inputs], **kwargs)
        else:
            results = step.fn(*[slots[i] for i in step.inputs], **step.kwargs)
    except RonnError:
        raise
    except Exception as exc:
        raise ExecutionError(f"{step.node.describe()} failed: {type(exc).__name__}: {exc}") from exc
    outs = step.outputs
    if len(results) < len(outs):
        raise ExecutionError(
            f"{step.node.describe()}: kernel returned {len(results)} outputs, node declares {len(outs)}"
        )
    for s, value in zip(outs, results, strict=False):
        slots[s] = value
    for s in step.frees:
        slots[s] = None
