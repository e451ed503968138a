"""Which execution providers a session uses: onnxruntime's ``providers`` / ``provider_options`` arguments parsed,
then resolved to the providers that can run here, CPU last as the fallback."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from engine import ir
from engine.errors import ProviderError
from engine.providers import bitnet
from engine.providers.base import (
    available_provider_names,
    create_provider,
    known_provider_names,
    unavailable_reason,
)


def parse_providers(
    providers: Sequence[Any] | None, provider_options: Sequence[Mapping[str, Any]] | None
) -> list[tuple[str, dict[str, Any]]] | None:
    """onnxruntime's ``providers`` (names or ``(name, options)``) and ``provider_options``, as pairs."""
    if providers is None:
        return None
    if provider_options is not None and len(provider_options) != len(providers):
        raise ProviderError(
            f"provider_options has {len(provider_options)} entries for {len(providers)} providers"
        )
    known = known_provider_names()
    parsed = []
    for i, entry in enumerate(providers):
        name, options = entry, {}
        if isinstance(entry, tuple | list):
            if len(entry) != 2 or not isinstance(entry[1], Mapping):
                raise ProviderError(f"a provider entry must be a name or (name, options dict), got {entry!r}")
            name, options = entry[0], dict(entry[1])
        if provider_options is not None:
            options.update(provider_options[i])
        if not isinstance(name, str) or name not in known:
            raise ProviderError(f"unknown execution provider {name!r}; known providers: {', '.join(known)}")
        parsed.append((name, options))
    return parsed


def resolve_providers(requested: list[tuple[str, dict[str, Any]]] | None, graph: ir.Graph) -> list[Any]:
    """Provider instances for the session: those requested that can run here, then CPU as the fallback.

    Default (None): CPU, preceded by BitNet when the graph holds ``ai.ronn.bitnet`` nodes.
    """
    if requested is None:
        requested = [("CPUExecutionProvider", {})]
        if any(node.domain == bitnet.DOMAIN for node in graph.nodes):
            requested.insert(0, ("BitNetExecutionProvider", {}))
    usable, reasons = [], []
    for name, options in requested:
        reason = unavailable_reason(name)
        if reason is None:
            usable.append(create_provider(name, options))
        else:
            reasons.append(f"{name}: {reason}")
    if not usable:
        raise ProviderError(
            f"none of the requested providers can run on this machine ({'; '.join(reasons)}); "
            f"available: {available_provider_names()}; list 'CPUExecutionProvider' as a fallback"
        )
    if reasons:  # as onnxruntime does: say so, rather than run elsewhere in silence
        warnings.warn(
            f"requested execution providers not available here, skipped: {'; '.join(reasons)}",
            RuntimeWarning,
            stacklevel=3,
        )
    if not any(p.name == "CPUExecutionProvider" for p in usable):
        usable.append(create_provider("CPUExecutionProvider"))  # nodes no other provider takes run on CPU
    return usable
