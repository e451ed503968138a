"""Compile an :class:`~engine.ir.Graph` into a flat execution plan and run it.

A plan is a list of steps ``(kernel, input slots, output slots, attributes, slots to free)``. Values live in a
per-run list indexed by slot number, so running a node costs one Python call plus list indexing, and every
intermediate is dropped right after its last reader. Graphs given as attributes (If, Loop, Scan) are compiled
into nested plans that read the enclosing values they mention.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine import ir
from engine.errors import ExecutionError, ModelError, RonnError, UnsupportedOperatorError
from engine.ops.registry import lookup

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


class Subgraph:
    """A compiled graph attribute: call it with its formal inputs and the enclosing scope's values."""

    def __init__(self, graph: ir.Graph, outer_names: Sequence[str]) -> None:
        self.graph = graph
        self.plan = Plan(graph, outer_names=outer_names)
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

    def __init__(self, graph: ir.Graph, *, outer_names: Sequence[str] = ()) -> None:
        self.graph = graph
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
        steps: list[tuple[Callable[..., Any], list[int], list[int], dict[str, Any], ir.Node, list]] = []
        for node in graph.nodes:
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
                in_slots.append(slot(name))
            spec = lookup(node.op_type, node.domain, graph.opset(node.domain), node.name)
            kwargs: dict[str, Any] = {}
            scope_names: list[str] = []
            for key, value in node.attrs.items():
                if key not in spec.attributes and not spec.accepts_any_attribute:
                    raise UnsupportedOperatorError(
                        node.op_type, node.domain, graph.opset(node.domain), node.name,
                        detail=f"attribute {key!r} is not supported",
                    )
                if isinstance(value, ir.Graph):
                    visible = set(slot_of) | outer
                    sub = Subgraph(value, sorted(visible))
                    for name in sub.free_names:
                        if name not in slot_of and name in outer:
                            self.outer_reads.append(name)
                        slot(name)
                        scope_names.append(name)
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
            steps.append((spec.fn, in_slots, out_slots, kwargs, node, sorted(set(scope_names))))

        for name in graph.output_names:
            if name not in slot_of:
                if name in outer:
                    self.outer_reads.append(name)
                    slot(name)
                else:
                    raise ModelError(f"graph output {name!r} is produced by no node, input or initializer")

        # Liveness: free each slot after its last reader, except graph outputs and constants.
        keep = {slot_of[n] for n in graph.output_names} | {_NONE_SLOT, _DISCARD_SLOT}
        keep |= {slot_of[n] for n in graph.initializers}
        last_use: dict[int, int] = {}
        for index, (_, in_slots, out_slots, _, _, scope) in enumerate(steps):
            for s in [*in_slots, *(slot_of[n] for n in scope), *out_slots]:
                last_use[s] = index
        frees: list[list[int]] = [[] for _ in steps]
        for s, index in last_use.items():
            if s not in keep:
                frees[index].append(s)

        self.steps = tuple(
            Step(fn, tuple(ins), tuple(outs), kw, tuple(frees[i]), node,
                 tuple((n, slot_of[n]) for n in scope))
            for i, (fn, ins, outs, kw, node, scope) in enumerate(steps)
        )
        self.slot_of = slot_of
        self.n_slots = len(slot_of) + 2
        self.input_slots = tuple(slot_of[n] for n in graph.input_names)
        self.output_slots = tuple(slot_of[n] for n in graph.output_names)
        self.outer_reads = list(dict.fromkeys(self.outer_reads))
        self._outer_slots = tuple((n, slot_of[n]) for n in self.outer_reads)
        self.template: list[Any] = [None] * self.n_slots
        for name, array in graph.initializers.items():
            self.template[slot_of[name]] = array

    def with_initializers(self, updates: dict[str, np.ndarray]) -> list[Any]:
        """A new slot template with some initializers replaced (the plan itself is not changed)."""
        template = list(self.template)
        for name, array in updates.items():
            template[self.slot_of[name]] = array
        return template

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
        wanted = self.output_slots if output_slots is None else output_slots
        return [slots[s] for s in wanted]
