"""Errors raised by the agent cycle.

They derive from the project's root :class:`engine.errors.RonnError`. Bad inputs raise the engine's
:class:`~engine.errors.InvalidInputError` (also a ``ValueError``); a time budget nothing fits is
reported in the Thought, not raised::

    RonnError (engine.errors)
    └── AgentError                 base of everything the agent cycle raises on purpose
        ├── AgentNotRunningError   infer/feedback/recall outside ``async with agent`` (or after it closed)
        ├── BackgroundTaskError    a background task (the episode writer, the indexer) failed; the original
        │                          exception is the ``__cause__``; every later call raises it again
        └── HeadNotFoundError      the model has no trailing dense layers to learn (a ``ModelError`` too)
"""

from __future__ import annotations

from engine.errors import ModelError, RonnError


class AgentError(RonnError):
    """Base class of every error the agent cycle raises on purpose."""


class AgentNotRunningError(AgentError, RuntimeError):
    """The agent is used outside its ``async with`` block."""


class BackgroundTaskError(AgentError, RuntimeError):
    """A background task of the agent failed; ``__cause__`` holds what went wrong."""


class HeadNotFoundError(AgentError, ModelError):
    """The model's graph has no trailing Gemm/MatMul layers with initializer weights to learn."""



def only_exception(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """The one exception a group holds, however nested (the same object may sit in it more than once); None
    when it holds several."""
    found: dict[int, BaseException] = {}
    stack: list[BaseException] = [group]
    while stack:
        exc = stack.pop()
        if isinstance(exc, BaseExceptionGroup):
            stack.extend(exc.exceptions)
        else:
            found[id(exc)] = exc
    return next(iter(found.values())) if len(found) == 1 else None


__all__ = ["AgentError", "AgentNotRunningError", "BackgroundTaskError", "HeadNotFoundError", "only_exception"]
