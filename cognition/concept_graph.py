"""The knowledge-graph side of a sleep: clusters of episode vectors (found by
:func:`cognition.sleep_worker.concepts`) written into the semantic memory as concepts and relations.

Split in two so that the event loop's process holds the GIL for as little as possible: :func:`plan_concepts`
(pure arrays and names: the sleep runs it in its worker process) decides what changes, by concept name;
:func:`write_concepts` writes that in one DB-API transaction (:meth:`memory_store.SemanticMemory.merge`),
then decays every relation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import memory_store

from .config import AgentConfig
from .consolidation_steps import Concept, Relation

#: At most this many ``cluster/`` concepts; past it, new clusters merge into the nearest one.
MAX_CONCEPTS = 512

#: A stored concept as :func:`memory_store.bulk.concepts_named` returns it: (id, name, prototype).
Stored = tuple[int, str, "np.ndarray | None"]


@dataclass(frozen=True)
class GraphUpdate:
    """What one batch's clusters change in the knowledge graph, by concept name."""

    concepts: dict[str, np.ndarray | None] = field(default_factory=dict)  # clusters first, then labels
    relations: list[tuple[str, str, str, float]] = field(default_factory=list)
    strengthen: list[tuple[str, str]] = field(default_factory=list)
    used: list[str] = field(default_factory=list)
    clusters: int = 0


def plan_concepts(
    existing: list[Stored], vectors: np.ndarray, found: list[Concept], links: list[Relation]
) -> GraphUpdate:
    """The clusters ``found`` in a batch's episode ``vectors`` (and their relations) as graph updates: new
    ``cluster/<n>`` concepts, or ``existing`` prototypes moved toward a match (within twice the cluster's
    radius, or the nearest once there are :data:`MAX_CONCEPTS`); ``follows`` / ``same_label`` / ``similar``
    relations, ``has_label`` to ``label/<k>``, and a Hebbian step of each concept with its most frequent
    successor."""
    if not found:
        return GraphUpdate()
    dim = vectors.shape[1]
    known = [(name, p) for _, name, p in existing if p is not None and len(p) == dim]
    matrix = np.stack([np.asarray(p, np.float64) for _, p in known]) if known else np.zeros((0, dim))
    next_n = 1 + max((_number(name) for _, name, _ in existing), default=0)
    names: list[str] = []
    prototypes: list[np.ndarray] = []
    for concept in found:
        members = vectors[concept.members].astype(np.float64)
        radius = float(np.linalg.norm(members - concept.prototype, axis=1).mean())
        if len(matrix):
            d = np.linalg.norm(matrix - concept.prototype, axis=1)
            j = int(d.argmin())
            if d[j] <= 2.0 * radius or len(known) >= MAX_CONCEPTS:
                names.append(known[j][0])  # the same pattern again: move its prototype toward it
                prototypes.append(0.8 * matrix[j] + 0.2 * concept.prototype)
                continue
        names.append(f"cluster/{next_n}")
        next_n += 1
        prototypes.append(np.asarray(concept.prototype))
    concepts: dict[str, np.ndarray | None] = dict(zip(names, prototypes, strict=True))  # the last match wins
    clusters = len(concepts)
    triples: dict[tuple[str, str, str], float] = {}
    for r in links:
        a, b = names[r.source], names[r.target]
        if a != b:
            triples[(a, b, r.kind)] = r.weight
    for label in sorted({c.label for c in found if c.label is not None}):
        concepts[f"label/{label}"] = None
    for i, c in enumerate(found):
        if c.label is not None:
            triples[(names[i], f"label/{c.label}", "has_label")] = c.purity
    follows: dict[int, tuple[float, int]] = {}
    for r in links:
        if r.kind == "follows" and names[r.source] != names[r.target]:
            best = follows.get(r.source)
            if best is None or r.weight > best[0]:
                follows[r.source] = (r.weight, r.target)
    return GraphUpdate(
        concepts=concepts,
        relations=[(a, b, kind, w) for (a, b, kind), w in triples.items()],
        strengthen=[(names[source], names[target]) for source, (_, target) in follows.items()],
        used=sorted(set(names)),
        clusters=clusters,
    )


def write_concepts(semantic: memory_store.SemanticMemory, update: GraphUpdate, config: AgentConfig) -> dict[str, int]:
    """Write ``update`` (one transaction), then decay every relation and prune the faint ones."""
    if update.concepts:
        semantic.merge(
            update.concepts, update.relations, strengthen=update.strengthen, rate=config.hebbian_rate,
            used=update.used,
        )
    return {
        "concepts": update.clusters,
        "relations": len(update.relations) + len(update.strengthen),
        "relations_pruned": semantic.decay(config.relation_decay),
    }


def _number(name: str) -> int:
    try:
        return int(name.rsplit("/", 1)[1])
    except (IndexError, ValueError):
        return 0
