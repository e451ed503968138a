"""RONN: an async cognitive agent runtime around its own ONNX inference engine.

This module only re-exports the public names; the code lives in ``engine``, ``memory_store`` and
``cognition``. The engine speaks onnxruntime's API, so switching is one import::

    import ronn as ort            # instead of: import onnxruntime as ort
    sess = ort.InferenceSession("model.onnx")
    outputs = sess.run(None, {"x": x})
"""

from cognition.agent import Agent as Agent
from cognition.config import AgentConfig as AgentConfig
from cognition.config import SleepReport as SleepReport
from cognition.config import Thought as Thought
from engine.errors import ExecutionError as ExecutionError
from engine.errors import InvalidInputError as InvalidInputError
from engine.errors import ModelError as ModelError
from engine.errors import ProviderError as ProviderError
from engine.errors import ResourceLimitError as ResourceLimitError
from engine.errors import RonnError as RonnError
from engine.errors import UnsupportedOperatorError as UnsupportedOperatorError
from engine.loader import load_model as load_model
from engine.options import ExecutionMode as ExecutionMode
from engine.options import GraphOptimizationLevel as GraphOptimizationLevel
from engine.options import SessionOptions as SessionOptions
from engine.session import InferenceSession as InferenceSession
from engine.session import get_available_providers as get_available_providers
from engine.values import NodeArg as NodeArg

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "AgentConfig",
    "ExecutionError",
    "ExecutionMode",
    "GraphOptimizationLevel",
    "InferenceSession",
    "InvalidInputError",
    "ModelError",
    "NodeArg",
    "ProviderError",
    "ResourceLimitError",
    "RonnError",
    "SessionOptions",
    "SleepReport",
    "Thought",
    "UnsupportedOperatorError",
    "get_available_providers",
    "load_model",
]
