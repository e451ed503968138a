"""Episode vectors of the agent: wide features through the sparse projection, features projected from the input
of a model without dense layers, and the projection (kind and seed) a memory keeps."""

from __future__ import annotations

import numpy as np
import pytest
from tiny_models import mlp

import memory_store
from cognition.agent import Agent
from cognition.config import AgentConfig
from cognition.vectors import Projection
from engine.errors import InvalidInputError


async def test_wide_features_are_stored_projected(tmp_path) -> None:
    model = mlp(8, 300, 3)
    xs = np.random.default_rng(0).standard_normal((20, 8)).astype(np.float32)
    db = tmp_path / "wide.db"
    async with Agent(model, memory=db, fast_model=model) as agent:
        ids = [(await agent.infer(x)).episode_id for x in xs]
        assert agent.memory.episodic.dim == 128  # 300 penultimate activations, projected
        assert agent._projection.kind == "sparse"
        nearest = await agent.recall(xs[7], k=1)
        assert nearest[0].id == ids[7] and nearest[0].distance == pytest.approx(0.0, abs=0.5)
    async with Agent(model, memory=db, fast_model=model) as agent:  # reopens with the same projection
        assert (await agent.recall(xs[3], k=1))[0].id == ids[3]


async def test_a_memory_keeps_the_projection_its_vectors_were_made_with(tmp_path) -> None:
    model = mlp(8, 300, 3)
    xs = np.random.default_rng(1).standard_normal((10, 8)).astype(np.float32)
    w1 = np.random.default_rng(0).standard_normal((8, 300)).astype(np.float32)  # _wide_model's first layer
    features = np.maximum(xs @ w1, 0)
    # a memory written before the key existed: episodes made with the Gaussian projection, and no record
    gaussian = Projection(300, 128, AgentConfig().seed, "gaussian")
    db = tmp_path / "old.db"
    with memory_store.open_memory(db) as memory:
        ids = memory.episodic.add_many([memory_store.NewEpisode(vector=gaussian(f)) for f in features])
    async with Agent(model, memory=db, fast_model=model) as agent:
        assert agent._projection.kind == "gaussian"
        assert [(await agent.recall(x, k=1))[0].id for x in xs] == ids
    with memory_store.open_memory(db) as memory:
        assert memory.db.read(lambda c: memory.db.get_meta(c, "episode_projection")) == "gaussian"  # recorded
        memory.db.write(lambda c: memory.db.set_meta(c, "episode_projection", "hashed-v9"))
    with pytest.raises(memory_store.DatabaseVersionError, match="hashed-v9"):
        async with Agent(model, memory=db, fast_model=model):
            pass
    async with Agent(model, memory=tmp_path / "new.db", fast_model=model) as agent:
        assert agent._projection.kind == "sparse"  # a new memory
        await agent.infer(xs[0])
    async with Agent(model, memory=tmp_path / "new.db", fast_model=model) as agent:
        assert agent._projection.kind == "sparse"  # its episodes are sparse-projected: it stays so


async def test_projected_vectors_keep_their_seed(conv_model, model_path, tmp_path) -> None:
    x = np.random.default_rng(6).random((3, 8, 8), dtype=np.float32)
    async with Agent(conv_model, memory=tmp_path / "m.db", fast_model=conv_model) as agent:  # seed 0
        await agent.infer(x)
    with pytest.raises(InvalidInputError, match="projected with AgentConfig.seed=0, not 7"):
        async with Agent(conv_model, memory=tmp_path / "m.db", fast_model=conv_model, config=AgentConfig(seed=7)):
            pass
    async with Agent(conv_model, memory=tmp_path / "m.db", fast_model=conv_model) as agent:  # seed 0 again
        assert (await agent.recall(x, k=1))[0].distance < 1e-2
    # a model whose vectors are its penultimate activations (not projected) may change its seed freely
    for seed in (0, 7):
        async with Agent(model_path, memory=tmp_path / "d.db", config=AgentConfig(seed=seed)) as agent:
            await agent.infer(np.zeros(64, np.float32))


def test_the_sparse_projection_keeps_distances_like_the_gaussian() -> None:
    rng = np.random.default_rng(2)
    x = np.maximum(rng.standard_normal((200, 2048)), 0).astype(np.float32)  # ReLU features
    i, j = rng.integers(0, 200, 1000), rng.integers(0, 200, 1000)
    keep = i != j
    true = np.linalg.norm(x[i] - x[j], axis=1)[keep]
    for kind in ("sparse", "gaussian"):
        projection = Projection(2048, 128, 0, kind)
        y = np.stack([projection(v) for v in x])
        assert y.shape == (200, 128) and y.dtype == np.float32
        ratio = np.linalg.norm(y[i] - y[j], axis=1)[keep] / true
        assert 0.97 < ratio.mean() < 1.03 and ratio.std() < 0.08 and ratio.min() > 0.7 and ratio.max() < 1.3
    np.testing.assert_array_equal(Projection(2048, 128, 0)(x[0]), Projection(2048, 128, 0)(x[0]))
    assert not np.array_equal(Projection(2048, 128, 0)(x[0]), Projection(2048, 128, 1)(x[0]))
    np.testing.assert_array_equal(Projection(64, 128, 0)(x[0, :64]), x[0, :64])  # narrow: as it is


async def test_a_model_without_dense_layers_projects_its_input_as_its_memory_did(conv_model, tmp_path) -> None:
    model = conv_model
    xs = np.random.default_rng(4).random((6, 3, 8, 8), dtype=np.float32)
    async with Agent(model, memory=tmp_path / "new.db", fast_model=model) as agent:
        assert agent._models.system1.input_projection.kind == "sparse"
        ids = [(await agent.infer(x)).episode_id for x in xs]
        assert [(await agent.recall(x, k=1))[0].id for x in xs] == ids
    # a memory from before the sparse projection: its episodes hold the Gaussian projection of their inputs
    from cognition.perception import RandomProjection

    gaussian = RandomProjection(192, 64, AgentConfig().seed, "gaussian")
    with memory_store.open_memory(tmp_path / "old.db") as memory:
        old = memory.episodic.add_many([memory_store.NewEpisode(vector=gaussian({"x": x})) for x in xs])
    async with Agent(model, memory=tmp_path / "old.db", fast_model=model) as agent:
        assert agent._models.system1.input_projection.kind == "gaussian"
        assert [(await agent.recall(x, k=1))[0].id for x in xs] == old
