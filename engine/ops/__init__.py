"""Operator kernels, one module per operator (``op_<name>.py``), registered with ``@register``.

Modules whose names start with ``op_`` are imported on first lookup; ``_*.py`` modules hold helpers shared by
a family of operators.
"""

from engine.ops.registry import KernelSpec, lookup, register, registered_operators

__all__ = ["KernelSpec", "lookup", "register", "registered_operators"]
