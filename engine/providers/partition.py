"""Assign each node to a provider and find the transfers its inputs need.

The rule (onnxruntime's): a node goes to the first provider of the session's list that supports it; CPU,
always last, takes the rest. Nodes with subgraph attributes (If, Loop, Scan) run on a host provider. Values
live where their producer ran; graph inputs and initializers live on the host. When a node reads a value
that lives elsewhere, a transfer makes a copy (named ``value@device``) that later readers share: host to
device with the consumer's ``to_device``, device to host with the producer's ``to_host``. Host providers
(CPU, BitNet) share numpy arrays, so between them nothing is copied.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine import ir
from engine.errors import UnsupportedOperatorError
from engine.providers.base import HOST, ExecutionProvider


@dataclass(frozen=True)
class Transfer:
    """Copy ``source`` into ``target`` with ``fn`` (one array in, one array out)."""

    source: str
    target: str
    fn: Callable[[Any], Any]
    provider: str     # the provider whose to_device / to_host runs
    kind: str         # "MemcpyFromHost" or "MemcpyToHost" (onnxruntime's names)

    def node(self) -> ir.Node:
        return ir.Node(self.kind, [self.source], [self.target], name=f"{self.kind}:{self.source}")


def value_dtypes(graph: ir.Graph) -> dict[str, np.dtype | None]:
    """The element type of every value the graph declares or infers (None when unknown)."""
    types: dict[str, np.dtype | None] = {n: v.dtype for n, v in graph.value_info.items()}
    types.update({v.name: v.dtype for v in [*graph.inputs, *graph.outputs]})
    types.update({n: a.dtype for n, a in graph.initializers.items()})
    return types


def _has_subgraph(node: ir.Node) -> bool:
    return any(isinstance(v, ir.Graph) or (isinstance(v, list) and any(isinstance(s, ir.Graph) for s in v))
               for v in node.attrs.values())


class Placer:
    """Tracks where values live while a plan is compiled, node by node in topological order."""

    def __init__(self, graph: ir.Graph, providers: Sequence[ExecutionProvider]) -> None:
        fallback = [p for p in providers if p.name == "CPUExecutionProvider"]
        if not fallback:
            raise ValueError("the provider list must include CPUExecutionProvider, the fallback")
        self.graph = graph
        self.providers = list(providers)
        self.fallback = fallback[0]
        self.dtypes = value_dtypes(graph)
        self.where: dict[str, ExecutionProvider] = {}     # off-host values -> the provider holding them
        self._copies: dict[tuple[str, str], str] = {}

    def assign(self, node: ir.Node) -> ExecutionProvider:
        """The first provider that supports ``node`` (CPU if none claims it)."""
        opset = self.graph.opset(node.domain)
        dtypes = [self.dtypes.get(name) if name else None for name in node.inputs]
        candidates = self.providers
        if _has_subgraph(node):
            candidates = [p for p in candidates if p.device == HOST]
        for provider in candidates:
            if provider.supports(node, opset, dtypes):
                return provider
        if self.fallback.supports(node, opset, dtypes):
            return self.fallback
        raise UnsupportedOperatorError(node.op_type, node.domain, opset, node.name)

    def read(
        self, name: str, consumer: ExecutionProvider, on_host: bool = False
    ) -> tuple[str, list[Transfer]]:
        """The name ``consumer`` should read for ``name`` and the transfers that must run first."""
        source = self.where.get(name)
        want = None if on_host or consumer.device == HOST else consumer
        src_device = HOST if source is None else source.device
        want_device = HOST if want is None else want.device
        if src_device == want_device:
            return name, []
        transfers: list[Transfer] = []
        current = name
        if source is not None:  # device -> host first
            key = (name, HOST)
            if key not in self._copies:
                target = f"{name}@{HOST}"
                dtype = self.dtypes.get(name)
                holder = source
                transfers.append(Transfer(name, target, functools.partial(_to_host, holder, dtype),
                                          holder.name, "MemcpyToHost"))
                self._copies[key] = target
            current = self._copies[key]
        if want is not None:  # host -> device
            key = (name, want.device)
            if key not in self._copies:
                target = f"{name}@{want.device}"
                transfers.append(Transfer(current, target, want.to_device, want.name, "MemcpyFromHost"))
                self._copies[key] = target
                self.where[target] = want
            current = self._copies[key]
        return current, transfers

    def produced(self, node: ir.Node, provider: ExecutionProvider) -> None:
        if provider.device != HOST:
            for out in node.outputs:
                if out:
                    self.where[out] = provider


def _to_host(provider: Any, dtype: Any, array: Any) -> Any:
    return provider.to_host(array, dtype)
