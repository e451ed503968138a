"""The hnswlib index of episode vectors, and the file beside the database that holds it.

Labels are episode row ids. The index is a cache of the ``episodes`` table: SQLite is the truth, and
:mod:`memory_store.episodic` repairs the index from rows whenever it is missing, stale or unreadable. A
sidecar JSON file (``<db>.hnsw.json``) records what the saved index holds (dimension, space, the highest row
id it covers, its live point count) and the SHA-256 of the index file, so a truncated, foreign or
half-replaced file is detected before hnswlib reads it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import hnswlib
import numpy as np

from .errors import InvalidMemoryInputError

Space = Literal["l2", "cosine"]
SIDECAR_FORMAT = 1


@dataclass(frozen=True, slots=True)
class HnswParams:
    """HNSW construction and search parameters (see docs/memory_store.md for why these defaults).

    ``M`` and ``ef_construction`` are fixed once an index is built (a loaded index keeps its own); ``ef`` is
    the search breadth, raised to ``k`` when a query asks for more. ``threads`` bounds hnswlib's threads for
    adds and queries; rebuilds use every core.
    """

    M: int = 16
    ef_construction: int = 64
    ef: int = 96
    threads: int = 1

    def __post_init__(self) -> None:
        for name in ("M", "ef_construction", "ef", "threads"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise InvalidMemoryInputError(f"HnswParams.{name} must be a positive int, got {value!r}")


class EpisodeIndex:
    """An hnswlib index whose labels are episode ids; every method is thread-safe.

    ``known_max`` is the invariant that keeps it in step with the table: every row with ``id <= known_max``
    is in the index (or was deleted), so catching up means adding the rows above it.
    """

    def __init__(self, dim: int, space: Space, params: HnswParams, *, capacity: int = 1024) -> None:
        self.dim = dim
        self.space = space
        self.params = params
        self.known_max = 0
        self.live = 0
        self.dirty = False
        self.lock = threading.RLock()
        self._index = hnswlib.Index(space=space, dim=dim)
        self._index.init_index(
            max_elements=max(capacity, 16),
            M=params.M,
            ef_construction=params.ef_construction,
            allow_replace_deleted=True,
        )
        self._index.set_ef(params.ef)
        self._index.set_num_threads(params.threads)

    # -- changes -----------------------------------------------------------------------------------

    def add(self, ids: np.ndarray, vectors: np.ndarray, *, threads: int | None = None) -> None:
        """Add points for rows not yet in the index (ids above ``known_max``); ids ascend."""
        with self.lock:
            keep = ids > self.known_max
            if not keep.all():
                ids, vectors = ids[keep], vectors[keep]
            if len(ids) == 0:
                return
            self._reserve(len(ids))
            self._index.add_items(
                vectors, ids, num_threads=threads or self.params.threads, replace_deleted=True
            )
            self.known_max = int(ids[-1])
            self.live += len(ids)
            self.dirty = True

    def add_missing(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add points for rows below ``known_max`` that the index lacks (used by a reconcile)."""
        with self.lock:
            if len(ids) == 0:
                return
            self._reserve(len(ids))
            self._index.add_items(vectors, ids, num_threads=-1, replace_deleted=True)
            self.live += len(ids)
            self.dirty = True

    def remove(self, ids: np.ndarray | list[int]) -> None:
        """Mark points deleted; ids the index does not hold are ignored."""
        with self.lock:
            for label in ids:
                with contextlib.suppress(RuntimeError):  # not present, or already deleted
                    self._index.mark_deleted(int(label))
                    self.live -= 1
                    self.dirty = True

    def _reserve(self, extra: int) -> None:
        """Room for ``extra`` new points. Deleted points' slots are reused first (``replace_deleted``), so
        only the live points count: sizing by ``element_count`` (every slot ever used) would double the
        index of a store that forgets as fast as it learns, again and again."""
        used = self._index.element_count
        needed = max(used, self.live + extra)  # used - live slots are deleted and free for reuse
        capacity = self._index.get_max_elements()
        if needed > capacity:
            self._index.resize_index(max(needed, capacity * 2))

    # -- queries -----------------------------------------------------------------------------------

    def query(self, vector: np.ndarray, k: int, ef: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest labels and their hnswlib distances (squared L2, or 1 - cosine)."""
        with self.lock:
            k = min(k, self.live)
            if k <= 0:
                return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
            self._index.set_ef(max(ef or self.params.ef, k))
            labels, distances = self._index.knn_query(vector, k=k, num_threads=self.params.threads)
            return labels[0].astype(np.int64), distances[0]

    def labels(self) -> np.ndarray:
        """Every label the index holds, deleted ones included."""
        with self.lock:
            return np.asarray(self._index.get_ids_list(), dtype=np.int64)

    def contains(self, label: int) -> bool:
        """True when ``label`` is a live (not deleted) point."""
        with self.lock:
            try:
                self._index.get_items([int(label)])
            except RuntimeError:
                return False
            return True

    # -- files -------------------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write the index and its sidecar atomically (temporary files, then ``os.replace``)."""
        with self.lock:
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            self._index.save_index(str(tmp))
            sidecar = {
                "format": SIDECAR_FORMAT,
                "dim": self.dim,
                "space": self.space,
                "M": self._index.M,
                "ef_construction": self._index.ef_construction,
                "known_max": self.known_max,
                "live": self.live,
                "size": tmp.stat().st_size,
                "sha256": _sha256(tmp),
            }
            side_tmp = sidecar_path(path).with_name(f"{sidecar_path(path).name}.{os.getpid()}.tmp")
            side_tmp.write_text(json.dumps(sidecar))
            # a crash between the two replaces leaves a checksum mismatch, which the next open repairs
            os.replace(tmp, path)
            os.replace(side_tmp, sidecar_path(path))
            self.dirty = False

    @classmethod
    def load(cls, path: Path, dim: int, space: Space, params: HnswParams) -> tuple[EpisodeIndex | None, str]:
        """Load a saved index, or return ``(None, why)`` when it is missing, foreign or damaged."""
        if not path.exists():
            return None, "index file missing"
        try:
            sidecar = json.loads(sidecar_path(path).read_text())
            expected = (SIDECAR_FORMAT, dim, space)
            if (sidecar["format"], sidecar["dim"], sidecar["space"]) != expected:
                return None, f"index made for {sidecar['dim']}-d {sidecar['space']} vectors"
            if path.stat().st_size != sidecar["size"] or _sha256(path) != sidecar["sha256"]:
                return None, "index file does not match its checksum"
            index = cls(dim, space, params, capacity=16)
            index._index = hnswlib.Index(space=space, dim=dim)
            index._index.load_index(str(path), max_elements=0, allow_replace_deleted=True)
            index._index.set_ef(params.ef)
            index._index.set_num_threads(params.threads)
            index.known_max = int(sidecar["known_max"])
            index.live = int(sidecar["live"])
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            return None, f"index unreadable ({type(exc).__name__}: {exc})"
        return index, "loaded"


def sidecar_path(index_path: Path) -> Path:
    return index_path.with_name(index_path.name + ".json")


def remove_stale_temporaries(index_path: Path) -> None:
    """Delete ``<index>.<pid>.tmp`` files left by processes that no longer run (killed mid-save)."""
    for tmp in index_path.parent.glob(f"{index_path.name}*.tmp"):
        pid_text = tmp.name.removesuffix(".tmp").rsplit(".", 1)[-1]
        if not pid_text.isdigit() or _alive(int(pid_text)):
            continue
        with contextlib.suppress(OSError):
            tmp.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


__all__ = ["EpisodeIndex", "HnswParams", "Space", "remove_stale_temporaries", "sidecar_path"]
