"""The execution-provider Protocol and the registry of providers (built-in and third-party).

An execution provider runs some nodes of a graph on some device. It says which nodes it takes
(``supports``), how its arrays move to and from host numpy (``to_device``/``to_host``), and turns a node into
a kernel (``compile_node``) that follows the calling convention of :mod:`engine.ops.registry`. The
partitioner (:mod:`engine.providers.partition`) gives each node to the first provider of the session's list
that supports it and falls back to CPU.

Providers are looked up by name (onnxruntime's names: ``CPUExecutionProvider``, ``BitNetExecutionProvider``,
``CUDAExecutionProvider``). A third-party package adds one with an entry point in the group
``ronn.providers`` whose object is a provider class::

    [project.entry-points."ronn.providers"]
    MyExecutionProvider = "my_package.provider:MyProvider"

A provider class has a ``name``, a ``device`` ("cpu" when its arrays are host numpy arrays), a classmethod
``unavailable_reason() -> str | None`` (None when it can run here) and a constructor taking the session's
options for it as keyword arguments.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from typing import Any, Protocol, runtime_checkable

import numpy as np

from engine import ir
from engine.errors import ProviderError
from engine.ops.registry import KernelSpec

ENTRY_POINT_GROUP = "ronn.providers"
HOST = "cpu"


@runtime_checkable
class ExecutionProvider(Protocol):
    """What the partitioner and the plan need from a provider."""

    name: str
    device: str   # "cpu": arrays are host numpy arrays and need no transfer

    def supports(self, node: ir.Node, opset: int, dtypes: Sequence[np.dtype | None]) -> bool:
        """Whether this provider runs ``node`` (at ``opset``) with inputs of these dtypes (None: unknown)."""
        ...

    def host_inputs(self, node: ir.Node) -> frozenset[int]:
        """Input positions that must stay host numpy arrays (shapes, axes) even on a device provider."""
        ...

    def compile_node(self, node: ir.Node, graph: ir.Graph) -> KernelSpec:
        """The kernel for ``node``; raises UnsupportedOperatorError if it has none after all."""
        ...

    def allocate(self, shape: tuple[int, ...], dtype: np.dtype) -> Any:
        """An uninitialized array on this provider's device."""
        ...

    def to_device(self, array: np.ndarray) -> Any:
        """A host array as an array of this provider's device."""
        ...

    def to_host(self, array: Any, dtype: np.dtype | None = None) -> np.ndarray:
        """A device array back as numpy (cast to ``dtype``, the value's declared type, when given)."""
        ...


ProviderClass = Callable[..., ExecutionProvider]

_BUILTIN: dict[str, ProviderClass] = {}
_PLUGINS: dict[str, ProviderClass] | None = None
_PLUGIN_ERRORS: dict[str, str] = {}


def register_provider(cls: Any) -> Any:
    """Class decorator for built-in providers (third parties use the ``ronn.providers`` entry points)."""
    _BUILTIN[cls.name] = cls
    return cls


def _plugins() -> dict[str, ProviderClass]:
    global _PLUGINS
    if _PLUGINS is None:
        found: dict[str, ProviderClass] = {}
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            try:
                cls = ep.load()
                found[getattr(cls, "name", ep.name)] = cls
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not break every session
                _PLUGIN_ERRORS[ep.name] = (
                    f"entry point {ep.value!r} failed to load: {type(exc).__name__}: {exc}"
                )
        _PLUGINS = found
    return _PLUGINS


def provider_classes() -> dict[str, ProviderClass]:
    """Every known provider class by name: built-ins first, then entry points (a plugin cannot shadow one)."""
    import engine.providers  # noqa: F401 - registers the built-ins

    return {**_plugins(), **_BUILTIN}


def known_provider_names() -> list[str]:
    return list(provider_classes()) + [n for n in _PLUGIN_ERRORS if n not in provider_classes()]


def unavailable_reason(name: str) -> str | None:
    """Why provider ``name`` cannot run here, or None when it can."""
    classes = provider_classes()
    if name not in classes:
        return _PLUGIN_ERRORS.get(name, f"unknown execution provider {name!r}")
    check = getattr(classes[name], "unavailable_reason", None)
    try:
        return check() if check is not None else None
    except Exception as exc:  # noqa: BLE001 - a failing check means "not usable", with the reason
        return f"availability check failed: {type(exc).__name__}: {exc}"


def available_provider_names() -> list[str]:
    """Providers that can run on this machine, in the order of :data:`PREFERENCE` then plugins."""
    names = [n for n in PREFERENCE if n in provider_classes()]
    names += [n for n in provider_classes() if n not in names]
    return [n for n in names if unavailable_reason(n) is None]


PREFERENCE = ("CPUExecutionProvider", "BitNetExecutionProvider", "CUDAExecutionProvider")


def create_provider(name: str, options: Mapping[str, Any] | None = None) -> ExecutionProvider:
    """An instance of provider ``name`` with ``options``.

    Raises:
        ProviderError: unknown name, the provider cannot run here (with the reason), or a bad option.
    """
    classes = provider_classes()
    if name not in classes:
        known = ", ".join(known_provider_names())
        detail = f" ({_PLUGIN_ERRORS[name]})" if name in _PLUGIN_ERRORS else ""
        raise ProviderError(f"unknown execution provider {name!r}{detail}; known providers: {known}")
    reason = unavailable_reason(name)
    if reason is not None:
        raise ProviderError(f"{name} cannot run on this machine: {reason}")
    cls = classes[name]
    options = dict(options or {})
    params = inspect.signature(cls).parameters
    unknown = [k for k in options if k not in params]
    if unknown and not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        accepted = [k for k, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
        raise ProviderError(f"{name} has no option(s) {unknown}; it accepts {accepted}")
    try:
        return cls(**options)
    except (TypeError, ValueError) as exc:
        raise ProviderError(f"{name}: invalid options {options}: {exc}") from exc


def spec_from_function(op_type: str, domain: str, fn: Callable[..., Any]) -> KernelSpec:
    """A KernelSpec for ``fn`` as ``engine.ops.registry.register`` would build it (attributes from
    keywords)."""
    sig = inspect.signature(fn)
    params = sig.parameters.values()
    return KernelSpec(
        op_type=op_type, domain=domain, since=1, fn=fn,
        attributes=frozenset(
            p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY and not p.name.startswith("_")
        ),
        accepts_any_attribute=any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params),
        wants_num_outputs="_num_outputs" in sig.parameters,
    )
