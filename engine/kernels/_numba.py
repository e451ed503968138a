"""numba set-up shared by every kernel module in :mod:`engine.kernels`: one ``jit`` decorator with on-disk
caching.

Caching is decided once, at import, and never breaks import:

1. the directory in ``NUMBA_CACHE_DIR`` if set, else the user cache folder (``$XDG_CACHE_HOME/ronn/numba``,
   default ``~/.cache/ronn/numba``), used only if a file can actually be written there;
2. otherwise no caching (functions compile in memory on first call, 0.5-0.9 s for a parallel kernel).

numba's own ``cache=True`` raises ``RuntimeError: cannot cache function ... no locator available`` at
decoration time when it finds no writable place, and it would write ``__pycache__`` into an installed package.
So kernels use :func:`jit` instead: it compiles with ``cache=False`` and attaches a cache whose only
locator is
the directory chosen here. Only functions decorated through :func:`jit` are affected, never other numba users.
If numba's caching internals change, :func:`jit` falls back to no caching (``CACHE_DIR`` is then None).

    from engine.kernels._numba import jit, prange

    @jit(parallel=True)
    def kernel(a): ...
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba
from numba import prange

__all__ = ["CACHE_DIR", "jit", "prange", "choose_cache_dir"]


def choose_cache_dir() -> str | None:
    """The first writable candidate cache directory, or None when none is writable."""
    candidates = []
    if os.environ.get("NUMBA_CACHE_DIR"):
        candidates.append(Path(os.environ["NUMBA_CACHE_DIR"]))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    candidates.append(Path(base) / "ronn" / "numba")
    for path in candidates:
        try:
            path.mkdir(parents=True, exist_ok=True)
            tempfile.TemporaryFile(dir=path).close()
        except OSError:
            continue
        return str(path)
    return None


def _make_cache_class(cache_dir: str) -> Any:
    """A numba FunctionCache subclass whose only locator is ``cache_dir`` (None if numba's API changed)."""
    try:
        from numba.core import caching
    except ImportError:  # pragma: no cover - depends on the numba version
        return None
    base_locator = getattr(caching, "UserProvidedCacheLocator", None) or getattr(
        caching, "_UserProvidedCacheLocator", None
    )
    impl_base = getattr(caching, "CompileResultCacheImpl", None)
    cache_base = getattr(caching, "FunctionCache", None)
    if base_locator is None or impl_base is None or cache_base is None:  # pragma: no cover
        return None

    class RonnCacheLocator(base_locator):  # type: ignore[misc, valid-type]
        def __init__(self, py_func: Callable[..., Any], py_file: str) -> None:
            self._py_file = py_file
            self._lineno = py_func.__code__.co_firstlineno
            self._cache_path = os.path.join(cache_dir, self.get_suitable_cache_subpath(py_file))

        @classmethod
        def from_function(cls, py_func: Callable[..., Any], py_file: str) -> Any:
            if not os.path.exists(py_file):
                return None
            locator = cls(py_func, py_file)
            try:
                locator.ensure_cache_path()
            except OSError:
                return None
            return locator

    class RonnImpl(impl_base):  # type: ignore[misc, valid-type]
        _locator_classes = [RonnCacheLocator]

    class RonnFunctionCache(cache_base):  # type: ignore[misc, valid-type]
        _impl_class = RonnImpl

    return RonnFunctionCache


CACHE_DIR: str | None = choose_cache_dir()
_CACHE_CLASS = _make_cache_class(CACHE_DIR) if CACHE_DIR else None
if _CACHE_CLASS is None:
    CACHE_DIR = None


def jit(**options: Any) -> Callable[[Callable[..., Any]], Any]:
    """``numba.njit(nogil=True, **options)`` with RONN's cache attached when one is usable."""
    options.setdefault("nogil", True)
    options.pop("cache", None)

    def decorate(fn: Callable[..., Any]) -> Any:
        dispatcher = numba.njit(cache=False, **options)(fn)
        if _CACHE_CLASS is not None:
            try:
                dispatcher._cache = _CACHE_CLASS(dispatcher.py_func)
            except Exception:  # noqa: BLE001 - a cache problem must never stop the kernel from working
                pass
        return dispatcher

    return decorate
