"""intra_op_threads / set_intra_op_threads reach both pools: BLAS (threadpoolctl) and numba."""

from __future__ import annotations

import threading

import numba
import pytest
import threadpoolctl

from engine.kernels.threads import current_threads, intra_op_threads, max_threads, set_intra_op_threads


def _blas_threads() -> int:
    return max(info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas")


def test_context_manager_sets_and_restores_both_pools():
    before = current_threads()
    with intra_op_threads(1) as counts:
        assert counts.numba == 1 and numba.get_num_threads() == 1
        assert _blas_threads() == 1
    assert current_threads() == before
    assert _blas_threads() == before.blas


def test_default_is_all_cores_and_requests_are_bounded():
    with intra_op_threads(1):
        with intra_op_threads(0) as counts:
            assert counts.numba == max_threads() == numba.get_num_threads()
        with intra_op_threads(max_threads() + 7) as counts:
            assert counts.numba == max_threads()  # numba's pool cannot grow past NUMBA_NUM_THREADS
            assert _blas_threads() >= 1


def test_set_intra_op_threads_and_errors():
    before = current_threads()
    try:
        assert set_intra_op_threads(1) == current_threads()
        assert numba.get_num_threads() == 1 and _blas_threads() == 1
    finally:
        set_intra_op_threads(0)
    assert current_threads().numba == before.numba
    with pytest.raises(ValueError, match="intra_op_num_threads"):
        set_intra_op_threads(-1)


def test_numba_count_is_per_thread():
    seen: list[int] = []
    mine = numba.get_num_threads()

    def worker() -> None:
        with intra_op_threads(1):
            seen.append(numba.get_num_threads())

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [1]
    assert numba.get_num_threads() == mine  # the caller's count did not change
