"""The root of RONN's error tree, shared by ``engine`` and ``memory_store``.

This package imports nothing and is imported by both, so that users catch everything RONN raises on purpose with
one ``except RonnError`` while ``engine`` and ``memory_store`` never import each other (a leaf package beside the
layout in DESIGN.md, added for that reason). Each package draws its own subtree in its ``errors.py``::

    RonnError
    └── InvalidInputError      bad input to a call (also a ValueError): engine feeds, memory-store arguments
"""

from __future__ import annotations


class RonnError(Exception):
    """Base class of every error RONN raises on purpose."""


class InvalidInputError(RonnError, ValueError):
    """Input given to a call does not match what it accepts: the message says what to fix."""


__all__ = ["InvalidInputError", "RonnError"]
