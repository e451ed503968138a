"""Execution providers: which nodes run where. See :mod:`engine.providers.base` for the Protocol.

Built-ins: ``CPUExecutionProvider`` (:mod:`.cpu`), ``BitNetExecutionProvider`` (:mod:`.bitnet`) and
``CUDAExecutionProvider`` (:mod:`.gpu`, cupy, untested on a GPU). :mod:`.partition` assigns nodes and inserts
transfers.
"""

from engine.providers import bitnet as bitnet
from engine.providers import cpu as cpu
from engine.providers import gpu as gpu
from engine.providers.base import (
    ExecutionProvider as ExecutionProvider,
)
from engine.providers.base import (
    available_provider_names as available_provider_names,
)
from engine.providers.base import (
    create_provider as create_provider,
)
from engine.providers.base import (
    register_provider as register_provider,
)
from engine.providers.base import (
    unavailable_reason as unavailable_reason,
)

__all__ = [
    "ExecutionProvider",
    "available_provider_names",
    "bitnet",
    "cpu",
    "create_provider",
    "gpu",
    "register_provider",
    "unavailable_reason",
]
