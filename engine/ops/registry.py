"""The operator registry: ``@register("Softmax", since=13)`` binds a numpy kernel to an ONNX operator.

Kernel calling convention (every module in ``engine/ops`` follows it):

* Inputs arrive as positional numpy arrays in the node's input order. An omitted optional input (an empty name
  in the middle of the input list) arrives as ``None``; omitted trailing inputs are not passed at all, so give
  optional inputs a default of ``None``. Variadic operators take ``*inputs``.
* Attributes arrive as keyword arguments named exactly as in ONNX, already converted to Python (int, float,
  str, list of those, numpy array for tensor attributes). Declare every attribute the kernel understands as a
  keyword-only parameter with the ONNX default; a node carrying an attribute the kernel does not declare is
  rejected when the session is built (unless the kernel takes ``**attrs``).
* A kernel that declares the keyword ``_num_outputs`` receives the number of outputs the node declares (Split
  with no sizes, or skipping optional outputs such as Dropout's mask).
* A kernel returns a tuple of numpy arrays (never numpy scalars), one per output, in ONNX order, with exactly
  the dtype ONNX specifies. It may return more outputs than the node uses; extras are dropped.
* A kernel raises ``ValueError``/``IndexError`` for invalid data; the session wraps any failure in an
  ``ExecutionError`` that names the node.

Opset ranges: a registration covers opset versions from ``since`` up to the next registration of the same
operator, so register again only where the operator's semantics changed.

Fast kernels override, never replace: ``@register(..., override="numba")`` registers a faster implementation
of the same operator and opset range beside the numpy reference. ``lookup`` returns the override (it must
accept the same inputs and attributes, and may return ``NotImplemented`` for a case it does not handle, in
which case the reference runs); ``lookup(..., reference=True)`` returns the numpy kernel, which tests
compare against.
Overrides live in ``engine/kernels`` modules named ``ops_*.py``, imported with the operators.
"""

from __future__ import annotations

import bisect
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.errors import UnsupportedOperatorError

Kernel = Callable[..., tuple[Any, ...]]


@dataclass(frozen=True)
class KernelSpec:
    """A registered kernel and what the session needs to know to call it."""

    op_type: str
    domain: str
    since: int
    fn: Kernel
    attributes: frozenset[str]        # keyword parameters the kernel accepts as ONNX attributes
    accepts_any_attribute: bool       # the kernel takes **attrs
    wants_num_outputs: bool           # the kernel declares ``_num_outputs``
    override: str = ""                # "" for the numpy reference, else the name of the faster implementation


# (domain, op_type) -> registrations sorted by ``since``
_REGISTRY: dict[tuple[str, str], list[KernelSpec]] = {}
# (domain, op_type, since) -> a faster kernel for that registration
_OVERRIDES: dict[tuple[str, str, int], KernelSpec] = {}

_DEFAULT_DOMAINS = ("", "ai.onnx")


def _normalize_domain(domain: str) -> str:
    return "" if domain in _DEFAULT_DOMAINS else domain


def register(
    op_type: str, *, since: int = 1, domain: str = "", override: str = ""
) -> Callable[[Kernel], Kernel]:
    """Register ``fn`` as the kernel of ``domain::op_type`` for opsets ``since`` and newer.

    With ``override="numba"`` (or another name), ``fn`` overrides the reference registered with the same
    ``since``; see the module docstring.
    """

    def decorate(fn: Kernel) -> Kernel:
        sig = inspect.signature(fn)
        attrs = frozenset(
            name
            for name, p in sig.parameters.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY and not name.startswith("_")
        )
        spec = KernelSpec(
            op_type=op_type,
            domain=_normalize_domain(domain),
            since=since,
            fn=fn,
            attributes=attrs,
            accepts_any_attribute=any(
                p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values()
            ),
            wants_num_outputs="_num_outputs" in sig.parameters,
            override=override,
        )
        if override:
            _OVERRIDES[(spec.domain, op_type, since)] = spec
            return fn
        entries = _REGISTRY.setdefault((spec.domain, op_type), [])
        if any(e.since == since for e in entries):
            raise RuntimeError(f"{op_type} since opset {since} is registered twice")
        entries.append(spec)
        entries.sort(key=lambda e: e.since)
        return fn

    return decorate


def lookup(
    op_type: str, domain: str, opset: int, node_name: str = "", *, reference: bool = False
) -> KernelSpec:
    """The kernel for ``domain::op_type`` at ``opset``: the registration with the highest ``since <= opset``.

    An override registered for that entry is returned instead (wrapped so that ``NotImplemented`` falls back
    to the reference), unless ``reference`` is true.
    """
    _load_all()
    entries = _REGISTRY.get((_normalize_domain(domain), op_type))
    if not entries:
        raise UnsupportedOperatorError(op_type, domain, opset, node_name)
    index = bisect.bisect_right([e.since for e in entries], opset) - 1
    if index < 0:
        raise UnsupportedOperatorError(
            op_type, domain, opset, node_name, detail=f"supported from opset {entries[0].since}"
        )
    spec = entries[index]
    if reference:
        return spec
    fast = _OVERRIDES.get((spec.domain, op_type, spec.since))
    if fast is None:
        return spec
    return _with_fallback(fast, spec)


def _with_fallback(fast: KernelSpec, reference: KernelSpec) -> KernelSpec:
    fast_fn, reference_fn = fast.fn, reference.fn

    def kernel(*inputs: Any, **attrs: Any) -> tuple[Any, ...]:
        result = fast_fn(*inputs, **attrs)
        if result is NotImplemented:
            return reference_fn(*inputs, **attrs)
        return result

    kernel.__name__ = f"{getattr(fast_fn, '__name__', 'kernel')}_or_reference"
    return KernelSpec(
        op_type=reference.op_type, domain=reference.domain, since=reference.since, fn=kernel,
        attributes=reference.attributes, accepts_any_attribute=reference.accepts_any_attribute,
        wants_num_outputs=reference.wants_num_outputs, override=fast.override,
    )


def registered_operators() -> dict[tuple[str, str], list[int]]:
    """Every registered (domain, op_type) with the opset versions where a kernel starts."""
    _load_all()
    return {key: [e.since for e in entries] for key, entries in sorted(_REGISTRY.items())}


_loaded = False


def _load_all() -> None:
    """Import every operator module in this package once, so their decorators run."""
    global _loaded
    if _loaded:
        return
    import importlib
    import pkgutil

    import engine.ops as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("op_"):
            importlib.import_module(f"engine.ops.{info.name}")
    _loaded = True
    if os.environ.get("RONN_DISABLE_OVERRIDES"):
        return  # reference kernels only (debugging, and tests that compare overrides with references)
    import engine.kernels as kernels

    for info in pkgutil.iter_modules(kernels.__path__):
        if info.name.startswith("ops_"):
            importlib.import_module(f"engine.kernels.{info.name}")
