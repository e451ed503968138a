"""Loading System 1 and System 2: sessions, the score and feature outputs, inline-or-thread decisions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

import memory_store
from engine import ir
from engine.errors import InvalidInputError
from engine.loader import load_model
from engine.quantize import DOMAIN as TERNARY_DOMAIN
from engine.quantize import ternarize
from engine.session import InferenceSession, get_available_providers

from .config import AgentConfig
from .perception import Perception, RandomProjection, expose_features
from .router import RunningQuantile
from .systems import ModelRunner
from .vectors import Projection, VectorWindow, check_projection_seed, projection_kind


@dataclass
class Models:
    perception: Perception
    system1: ModelRunner
    system2: ModelRunner
    feature_dim: int
    system1_probe_s: float
    system2_probe_s: float


def graph_of(model: Any) -> ir.Graph:
    if isinstance(model, InferenceSession):
        return model.graph
    if isinstance(model, ir.Graph):
        return model
    return load_model(model)


def _providers(graph: ir.Graph, session: Any = None) -> list[str] | None:
    if isinstance(session, InferenceSession):
        return session.get_providers()
    if (
        any(n.domain == TERNARY_DOMAIN for n in graph.nodes)
        and "BitNetExecutionProvider" in get_available_providers()
    ):
        return ["BitNetExecutionProvider", "CPUExecutionProvider"]
    return None


def _probe_feeds(graph: ir.Graph) -> dict[str, np.ndarray]:
    feeds = {}
    for v in graph.inputs:
        shape = [d if isinstance(d, int) else 1 for d in (v.shape or (1,))]
        shape[0] = 1
        feeds[v.name] = np.zeros(shape, v.dtype or np.float32)
    return feeds


def _sample_shape(value: ir.Value) -> list[Any] | None:
    """The input's shape without its batch axis (named or unknown dimensions as None)."""
    if value.shape is None:
        return None
    return [d if isinstance(d, int) else None for d in value.shape[1:]]


def _compatible(a: list[Any] | None, b: list[Any] | None) -> bool:
    """Whether two sample shapes can take the same input (an unknown shape or dimension fits any)."""
    if a is None or b is None:
        return True
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b, strict=True))


def build_models(model: Any, fast_model: Any, config: AgentConfig) -> Models:
    """Sessions for both systems (System 1 exposing its penultimate activations), probed and timed."""
    system2_session = model if isinstance(model, InferenceSession) else InferenceSession(model)
    graph2 = system2_session.graph
    perception = Perception(list(graph2.inputs))
    outputs = graph2.output_names
    score = config.output or outputs[-1]
    if score not in outputs:
        raise InvalidInputError(f"AgentConfig.output {score!r} is not an output of the model: {outputs}")

    if fast_model is not None:
        source = graph_of(fast_model)
        what = "fast_model"
    else:
        source = ternarize(graph_of(model))
        what = "the model ternarized after training (absmean ternary weights, int8 activations)"
    graph1, feature_name = expose_features(source)
    if [v.name for v in graph1.inputs] != [v.name for v in perception.inputs]:
        raise InvalidInputError(
            f"fast_model's inputs {[v.name for v in graph1.inputs]} differ from the model's "
            f"{[v.name for v in perception.inputs]}"
        )
    for mine, theirs in zip(graph1.inputs, perception.inputs, strict=True):
        if mine.dtype != theirs.dtype or not _compatible(_sample_shape(mine), _sample_shape(theirs)):
            raise InvalidInputError(
                f"fast_model's input {mine.name!r} is {mine.dtype} {_sample_shape(mine)} per sample; the "
                f"model's is {theirs.dtype} {_sample_shape(theirs)}"
            )
    system1_session = InferenceSession(graph1, providers=_providers(graph1, fast_model))
    score1 = score if score in system1_session.graph.output_names else graph1.output_names[0]
    feeds = _probe_feeds(graph2)
    projection = None
    if feature_name is None:
        size = int(sum(a.size for a in feeds.values()))
        projection = RandomProjection(size, config.feature_dim, config.seed)
    features = "penultimate activations" if feature_name else f"a random projection to {config.feature_dim}"
    system1 = ModelRunner(
        system1_session,
        score_output=score1,
        feature_output=feature_name,
        projection=projection,
        measure=config.confidence,
        description=f"{what}; providers {system1_session.get_providers()}; features: {features}",
    )
    t1, dim = system1.probe(feeds)
    system2 = ModelRunner(
        system2_session,
        score_output=score,
        feature_output=None,
        projection=None,
        measure=config.confidence,
        description=f"the full-precision model; providers {system2_session.get_providers()}",
    )
    t2, _ = system2.probe(feeds)
    if system1.classes != system2.classes:
        raise InvalidInputError(
            f"fast_model's score output {score1!r} has {system1.classes} values; the model's {score!r} has "
            f"{system2.classes} (System 1 must answer with the same classes)"
        )
    system1.inline = t1 <= config.inline_max_s
    system2.inline = t2 <= config.inline_max_s
    system1.inline_alone = t1 <= config.inline_alone_max_s
    system2.inline_alone = t2 <= config.inline_alone_max_s
    system1.slice_s = system2.slice_s = config.inline_slice_s
    _warm_up(perception, feeds, min(dim, config.vector_dim))
    return Models(perception, system1, system2, dim, t1, t2)


def _warm_up(perception: Perception, feeds: dict[str, np.ndarray], dim: int) -> None:
    """Compile (or load from numba's cache) the kernels every ``infer`` runs (checks, percept, novelty window,
    ranks; ``ModelRunner.probe`` did the answer's) now, on the opening thread, rather than in the first calls
    (~1.5 s on a fresh install). ``dim``: the episode vectors'."""
    if len(feeds) == 1:
        perception.check(next(iter(feeds.values())))  # a single input of the exact shape takes its own path
    perception.percept(feeds)
    VectorWindow.warm_up(dim)
    RunningQuantile.warm_up()


def project_as_memory(models: Models, memory: memory_store.Memory, config: AgentConfig) -> Projection:
    """The episode vectors' projection for ``memory``: of the kind its vectors were made with
    (:func:`~cognition.vectors.projection_kind`), System 1's projection of the input switched to that kind too,
    and, when the vectors are projected at all, the memory's seed checked against ``config.seed``."""
    kind = projection_kind(memory)
    own = models.system1.input_projection
    if own is not None or models.feature_dim > config.vector_dim:
        check_projection_seed(memory, config.seed)
    if own is not None and own.kind != kind:  # features of the input itself, made as this memory's were
        models.system1.input_projection = RandomProjection(own.size, own.dim, config.seed, kind)
    return Projection(models.feature_dim, config.vector_dim, config.seed, kind)
