"""``onnx.backend.base.Backend`` over RONN, so ONNX's own conformance tests run against the engine.

    from onnx.backend.test import BackendTest
    from engine.backend import Backend
    BackendTest(Backend, __name__)
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np
import onnx
from onnx.backend.base import Backend as OnnxBackend
from onnx.backend.base import BackendRep as OnnxBackendRep

from engine.session import InferenceSession


class BackendRep(OnnxBackendRep):
    """A prepared model: ``run`` takes inputs in graph order (list) or by name (dict)."""

    def __init__(self, session: InferenceSession) -> None:
        self.session = session
        self._names = [i.name for i in session.get_inputs()]
        outputs = [o.name for o in session.get_outputs()]
        self._output_type = namedtuple("Outputs", [f"o{i}" for i in range(len(outputs))])  # type: ignore[misc]

    def run(self, inputs: Any, **kwargs: Any) -> tuple[Any, ...]:
        if isinstance(inputs, dict):
            feeds = dict(inputs)
        else:
            if isinstance(inputs, np.ndarray):
                inputs = [inputs]
            feeds = dict(zip(self._names, inputs, strict=False))
        return self._output_type(*self.session.run(None, feeds))


class Backend(OnnxBackend):
    """RONN as an ONNX backend (CPU only for now)."""

    @classmethod
    def is_compatible(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> bool:
        return True

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return device.upper() == "CPU"

    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> BackendRep:
        super().prepare(model, device, **kwargs)
        return BackendRep(InferenceSession(model))

    @classmethod
    def run_model(cls, model: onnx.ModelProto, inputs: Any, device: str = "CPU", **kwargs: Any) -> tuple[Any, ...]:
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(
        cls, node: onnx.NodeProto, inputs: Any, device: str = "CPU", outputs_info: Any = None, **kwargs: Any
    ) -> tuple[Any, ...]:
        raise NotImplementedError("run_node: RONN runs whole models; wrap the node in a model with onnx.helper")


prepare = Backend.prepare
run_model = Backend.run_model
supports_device = Backend.supports_device
