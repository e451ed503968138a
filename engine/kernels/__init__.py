"""numba kernels that operators and providers call (ternary matmul now; conv, pooling, fusions later).

Every kernel module decorates with :func:`engine.kernels._numba.jit`, which picks a writable on-disk cache
(``NUMBA_CACHE_DIR``, else ``~/.cache/ronn/numba``) or compiles without one; importing never fails for
want of a cache directory. Kernel modules are imported on first use, not here, to keep ``engine`` light.
"""
