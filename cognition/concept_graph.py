"""The knowledge-graph side of a sleep: clusters of episode vectors (found by
:func:`cognition.sleep_worker.concepts`) written into the semantic memory as concepts and relations."""

from __future__ import annotations

import numpy as np

import memory_store

from .config import AgentConfig
from .consolidation_steps import Concept, Relation

#: At most this many ``cluster/`` concepts; past it, new clusters merge into the nearest one.
MAX_CONCEPTS = 512


def write_concepts(
    semantic: memory_store.SemanticMemory,
    vectors: np.ndarray,
    found: list[Concept],
    links: list[Relation],
    config: AgentConfig,
) -> dict[str, int]:
    """Write clusters of a batch's episode ``vectors`` (and their relations) into the knowledge graph: new
    ``cluster/<n>`` concepts, or prototypes moved toward a match; relations; Hebbian strengthening; decay."""
    if not found:
        return {"concepts": 0, "relations": 0, "relations_pruned": semantic.decay(config.relation_decay)}
    existing = semantic.concepts_named("cluster/")
    dim = vectors.shape[1]
    known = [c for c in existing if c.prototype is not None and len(c.prototype) == dim]
    matrix = np.stack([np.asarray(c.prototype, np.float64) for c in known]) if known else np.zeros((0, dim))
    next_n = 1 + max((_number(c.name) for c in existing), default=0)
    names: list[str] = []
    prototypes: list[np.ndarray] = []
    for concept in found:
        members = vectors[concept.members].astype(np.float64)
        radius = float(np.linalg.norm(members - concept.prototype, axis=1).mean())
        if len(matrix):
            d = np.linalg.norm(matrix - concept.prototype, axis=1)
            j = int(d.argmin())
            if d[j] <= 2.0 * radius or len(known) >= MAX_CONCEPTS:
                names.append(known[j].name)  # the same pattern again: move its prototype toward it
                prototypes.append(0.8 * matrix[j] + 0.2 * concept.prototype)
                continue
        names.append(f"cluster/{next_n}")
        next_n += 1
        prototypes.append(np.asarray(concept.prototype))
    unique = dict(zip(names, prototypes, strict=True))  # two clusters matching one concept: the last wins
    ids = dict(zip(unique, semantic.add_concepts(list(unique), list(unique.values())), strict=True))
    cid = [ids[n] for n in names]
    triples: dict[tuple[int, int, str], float] = {}
    for r in links:
        a, b = cid[r.source], cid[r.target]
        if a != b:
            triples[(a, b, r.kind)] = r.weight
    label_names = sorted({f"label/{c.label}" for c in found if c.label is not None})
    label_ids = dict(zip(label_names, semantic.add_concepts(label_names), strict=True)) if label_names else {}
    for i, c in enumerate(found):
        if c.label is not None:
            triples[(cid[i], label_ids[f"label/{c.label}"], "has_label")] = c.purity
    semantic.relate_many((a, b, kind, w) for (a, b, kind), w in triples.items())
    strengthened = 0
    follows: dict[int, tuple[float, int]] = {}
    for r in links:
        if r.kind == "follows" and cid[r.source] != cid[r.target]:
            best = follows.get(r.source)
            if best is None or r.weight > best[0]:
                follows[r.source] = (r.weight, r.target)
    for source, (_, target) in follows.items():
        semantic.strengthen([cid[source], cid[target]], rate=config.hebbian_rate)
        strengthened += 1
    semantic.record_use(sorted(set(cid)))
    pruned = semantic.decay(config.relation_decay)
    return {"concepts": len(ids), "relations": len(triples) + strengthened, "relations_pruned": pruned}


def _number(name: str) -> int:
    try:
        return int(name.rsplit("/", 1)[1])
    except (IndexError, ValueError):
        return 0
