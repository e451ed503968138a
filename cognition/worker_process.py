"""A worker process for a sleep's array work that never runs the caller's ``__main__`` script.

``anyio.to_process`` (like multiprocessing's spawn) runs the parent's main script again in each new worker, as
``__mp_main__``, so that functions defined there can be unpickled. A script without an
``if __name__ == "__main__":`` guard then ran its whole experiment a second time inside the worker, into the
same memory file (measured: 800 episodes stored by a script that made 400). A sleep only sends functions of
importable modules (:mod:`cognition.sleep_worker`), so this worker takes the parent's ``sys.path`` and nothing
else.

Protocol over the worker's stdin/stdout, one call at a time: the parent sends its pickled ``sys.path`` once,
then per call a length-prefixed pickle of ``(fn, args)``; the worker answers with a status byte (``R``
result, ``E`` exception) and a length-prefixed pickle. The worker's own ``print``s go to stderr.
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
from collections.abc import Callable
from typing import IO, Any

import anyio
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

_LENGTH = struct.Struct("<Q")

#: The worker's first lines: the parent's ``sys.path``, then :func:`serve` (``-c``: no module of the parent's,
#: and not ``-m``, which would need ``cognition`` importable before the path is known).
_BOOT = (
    "import pickle, struct, sys\n"
    "size, = struct.unpack('<Q', sys.stdin.buffer.read(8))\n"
    "sys.path[:] = pickle.loads(sys.stdin.buffer.read(size))\n"
    "from cognition.worker_process import serve\n"
    "serve()\n"
)


def _frame(payload: bytes) -> bytes:
    return _LENGTH.pack(len(payload)) + payload


class WorkerProcess:
    """One long-lived worker process, started at the first :meth:`run`; :meth:`aclose` stops it.

    A call that fails to reach the worker or to hear from it (the process could not start, died, or the
    call was cancelled) kills the process and raises :class:`anyio.BrokenWorkerProcess` (or the
    cancellation); the next call starts a new one. An exception raised by ``fn`` in the worker is raised
    here, and the process stays.
    """

    def __init__(self) -> None:
        self._process: Process | None = None
        self._out: BufferedByteReceiveStream | None = None
        self.started = 0  #: processes started so far

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        request = _frame(pickle.dumps((fn, args), protocol=pickle.HIGHEST_PROTOCOL))
        try:
            if self._process is None or self._process.returncode is not None:
                await self._start()
            assert self._process is not None and self._process.stdin is not None and self._out is not None
            await self._process.stdin.send(request)
            status = await self._out.receive_exactly(1)
            (size,) = _LENGTH.unpack(await self._out.receive_exactly(_LENGTH.size))
            payload = await self._out.receive_exactly(size)
            if status not in (b"R", b"E"):
                raise RuntimeError(f"unexpected reply {status!r} from the worker process")
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await self._kill()
            if isinstance(exc, anyio.get_cancelled_exc_class()):
                raise
            raise anyio.BrokenWorkerProcess(f"the worker process failed: {exc!r}") from exc
        result = pickle.loads(payload)
        if status == b"E":
            raise result
        return result

    async def aclose(self) -> None:
        """Stop the worker: end its input (it exits), killing it if it has not within two seconds."""
        process = self._process
        if process is None:
            return
        with anyio.CancelScope(shield=True):
            if process.returncode is None and process.stdin is not None:
                await process.stdin.aclose()
                with anyio.move_on_after(2):
                    await process.wait()
            await self._kill()

    async def _start(self) -> None:
        self._process = await anyio.open_process(
            [sys.executable, "-u", "-c", _BOOT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._out = BufferedByteReceiveStream(self._process.stdout)
        self.started += 1
        await self._process.stdin.send(_frame(pickle.dumps(sys.path, protocol=pickle.HIGHEST_PROTOCOL)))

    async def _kill(self) -> None:
        process, self._process, self._out = self._process, None, None
        if process is None:
            return
        if process.returncode is None:
            process.kill()
        await process.aclose()


def serve(stdin: IO[bytes] | None = None, stdout: IO[bytes] | None = None) -> None:
    """The worker's loop: run each ``(fn, args)`` read from ``stdin`` and reply on ``stdout``, until end of
    input."""
    stdin = sys.stdin.buffer if stdin is None else stdin
    if stdout is None:
        # the replies get their own copy of the pipe; file descriptor 1 and sys.stdout go to stderr, so that
        # nothing the work prints (from Python or from a C library) corrupts them
        stdout = os.fdopen(os.dup(1), "wb")
        os.dup2(2, 1)
    sys.stdout = sys.stderr
    while True:
        head = stdin.read(_LENGTH.size)
        if len(head) < _LENGTH.size:
            return
        (size,) = _LENGTH.unpack(head)
        fn, args = pickle.loads(stdin.read(size))
        try:
            status, payload = b"R", pickle.dumps(fn(*args), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # the parent raises it; the worker stays
            status = b"E"
            try:
                payload = pickle.dumps(exc, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:  # an exception that does not pickle: its text
                payload = pickle.dumps(RuntimeError(f"{exc!r} (in the worker process)"))
        stdout.write(status + _frame(payload))
        stdout.flush()


__all__ = ["WorkerProcess", "serve"]
