"""The records the episodic tier takes and returns, and the argument checks its methods share."""

from __future__ import annotations

import enum
import math
import operator
import time as _time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from . import codec
from .errors import InvalidMemoryInputError, InvalidQueryError

T = TypeVar("T")


class Consolidation(enum.IntEnum):
    """Where an episode stands in sleep consolidation."""

    NEW = 0  #: not yet replayed
    REPLAYED = 1  #: replayed into the slow weights at least once
    CONSOLIDATED = 2  #: folded into the knowledge graph; a candidate for forgetting


class Unset(enum.Enum):
    """The type of :data:`UNSET`, "leave this field as it is" (``None`` means "clear it")."""

    UNSET = enum.auto()


UNSET = Unset.UNSET


@dataclass(frozen=True, slots=True)
class StoredInput:
    """An input committed ahead of its episode by :meth:`EpisodicMemory.store_input`; give it as
    ``NewEpisode(input=...)`` and the episode's row refers to it by digest instead of holding it.

    ``digest`` is :func:`codec.digest` of the input, ``blob`` its :func:`codec.encode_payload` bytes. The blob
    travels with the episode: if the stored input was deleted before the episode's commit (forgetting the last
    episode that shared it, or an open's sweep of inputs no episode refers to), that commit stores it again.
    """

    digest: bytes
    blob: bytes

    def __post_init__(self) -> None:
        check_digest(self.digest, "StoredInput.digest")
        if not isinstance(self.blob, bytes):
            raise InvalidMemoryInputError(f"StoredInput.blob must be bytes, got {type(self.blob).__name__}")

    @classmethod
    def encode(cls, value: codec.Payload, *, digest: bytes | None = None) -> StoredInput:
        """Check and encode an input (an array or bytes); ``digest``: its :func:`codec.digest`, when the
        caller has it. Raises InvalidMemoryInputError for None, an array numpy cannot store without a pickle,
        or a digest that is not 16 bytes."""
        if value is None:
            raise InvalidMemoryInputError("a stored input must be an array or bytes, got None")
        blob = codec.encode_payload(value, what="input")
        assert blob is not None
        return cls(codec.digest(value) if digest is None else digest, blob)


@dataclass(frozen=True, slots=True)
class NewEpisode:
    """An episode to store: its vector and what the agent knows about it.

    ``input``/``output`` are arrays (stored as compressed ``.npy``, no pickles) or bytes; the input's digest
    (:func:`codec.digest`) is computed for :meth:`EpisodicMemory.find_input`, unless ``input_digest`` gives
    it (a caller that already hashed the input: it must equal ``codec.digest(input)``). ``input`` may also be
    a :class:`StoredInput` (committed ahead by :meth:`EpisodicMemory.store_input`): the row then leaves its
    ``input`` column NULL and takes the stored input's digest. ``time`` defaults to now (Unix seconds).
    """

    vector: Any
    input: codec.Payload | StoredInput = None
    output: codec.Payload = None
    route: str = ""
    confidence: float | None = None
    label: int | None = None
    reward: float | None = None
    importance: float = 1.0
    time: float | None = None
    input_digest: bytes | None = None

    def encode(self, dim: int | None, now: float) -> EncodedEpisode:
        """Check and encode this episode for the ``episodes`` table (vector, payloads, digest).

        Raises InvalidVectorError (size other than ``dim``, NaN, infinity, beyond float16) or
        InvalidMemoryInputError (a bad field, or an ``input_digest`` other than a stored input's) before
        anything is written.
        """
        return encode_episode(
            dim,
            now,
            self.vector,
            self.input,
            self.output,
            self.route,
            self.confidence,
            self.label,
            self.reward,
            self.importance,
            self.time,
            self.input_digest,
        )


def encode_episode(
    dim: int | None,
    now: float,
    vector: Any,
    input: codec.Payload | StoredInput = None,  # noqa: A002 - NewEpisode's field
    output: codec.Payload = None,
    route: str = "",
    confidence: float | None = None,
    label: int | None = None,
    reward: float | None = None,
    importance: float = 1.0,
    time: float | None = None,
    input_digest: bytes | None = None,
) -> EncodedEpisode:
    """:meth:`NewEpisode.encode` of an episode with these fields, without the record (a writer on the hot path
    builds no NewEpisode: :meth:`EpisodicMemory.encode_fields`)."""
    if not isinstance(route, str):
        raise InvalidMemoryInputError(f"route must be a str, got {route!r}")
    size, blob = codec.vector_blob(vector, dim, what="episode vector")
    stored = None
    if isinstance(input, StoredInput):
        stored = input
        if input_digest is not None and check_digest(input_digest) != stored.digest:
            raise InvalidMemoryInputError(
                f"input_digest {input_digest.hex()} differs from the stored input's {stored.digest.hex()}"
            )
        digest, input_blob = stored.digest, None
    else:
        digest = codec.digest(input) if input_digest is None else check_digest(input_digest)
        input_blob = codec.encode_payload(input, what="input")
    values = (
        now if time is None else finite(time, "time", InvalidMemoryInputError),
        digest,
        input_blob,
        codec.encode_payload(output, what="output"),
        route,
        optional_finite(confidence, "confidence"),
        None if label is None else int(label),
        optional_finite(reward, "reward"),
        finite(importance, "importance", InvalidMemoryInputError),
        blob,
    )
    return EncodedEpisode(size, values, stored)


def check_digest(value: Any, name: str = "input_digest") -> bytes:
    """``value`` if it is a digest (:data:`codec.DIGEST_SIZE` bytes), else InvalidMemoryInputError."""
    if not isinstance(value, bytes) or len(value) != codec.DIGEST_SIZE:
        raise InvalidMemoryInputError(f"{name} must be {codec.DIGEST_SIZE} bytes, got {value!r}")
    return value


#: The columns of :attr:`EncodedEpisode.values`, in order.
ENCODED_COLUMNS = (
    "time",
    "input_digest",
    "input",
    "output",
    "route",
    "confidence",
    "label",
    "reward",
    "importance",
    "vector",
)


@dataclass(frozen=True, slots=True)
class EncodedEpisode:
    """A checked episode in its stored form (:meth:`EpisodicMemory.encode`): ``dim`` and the row's
    ``values`` in :data:`ENCODED_COLUMNS` order; ``stored_input``: the input committed ahead that the row
    refers to (its ``input`` value is then None). Committing it cannot fail on its content."""

    dim: int
    values: tuple[Any, ...]
    stored_input: StoredInput | None = None


@dataclass(frozen=True, slots=True)
class Episode:
    """A stored episode. ``distance`` is set by searches; ``vector``/``input``/``output`` when asked for."""

    id: int
    time: float
    route: str
    confidence: float | None
    label: int | None
    reward: float | None
    importance: float
    access_count: int
    last_access: float | None
    consolidation: Consolidation
    input_digest: bytes
    distance: float | None = None
    vector: np.ndarray | None = None
    input: np.ndarray | bytes | None = None
    output: np.ndarray | bytes | None = None


def episode_from_row(row: Any, with_payload: bool, distance: float | None = None) -> Episode:
    payload: dict[str, Any] = {}
    if with_payload:
        payload = {
            "vector": codec.blob_to_vector(row.vector),
            "input": codec.decode_payload(row.input),
            "output": codec.decode_payload(row.output),
        }
    return Episode(
        id=row.id,
        time=row.time,
        route=row.route,
        confidence=row.confidence,
        label=row.label,
        reward=row.reward,
        importance=row.importance,
        access_count=row.access_count,
        last_access=row.last_access,
        consolidation=Consolidation(row.consolidation),
        input_digest=row.input_digest,
        distance=distance,
        **payload,
    )


def now() -> float:
    return _time.time()


def id_list(ids: int | Iterable[int], kind: str = "episode") -> list[int]:
    """Ids as a list of Python ints; one int is a list of one."""
    out = []
    for i in [ids] if isinstance(ids, int | np.integer) else ids:
        if isinstance(i, bool) or not isinstance(i, int | np.integer):
            raise InvalidQueryError(f"{kind} ids must be ints, got {i!r}")
        out.append(int(i))
    return out


def padded(values: Sequence[T]) -> list[T]:
    """``values`` for an expanding ``IN (...)`` parameter, padded with copies of the last one to the next power
    of two. Each distinct length is a distinct SQL text, and sqlite3 keeps the last 128 prepared statements:
    with the lengths a sleep produces (up to 2,048 ids) those pinned ~32 MB of SQLite memory that grew over a
    long run. Padding leaves at most ~15 lengths per statement; duplicates change no ``IN`` result."""
    out = list(values)
    if len(out) > 1:
        out.extend([out[-1]] * ((1 << (len(out) - 1).bit_length()) - len(out)))
    return out


def positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InvalidQueryError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def finite(value: Any, name: str, error: type[InvalidMemoryInputError] = InvalidQueryError) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise error(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(out):
        raise error(f"{name} must be finite, got {value!r}")
    return out


def optional_finite(value: Any, name: str) -> float | None:
    return None if value is None else finite(value, name, InvalidMemoryInputError)


def filter_values(
    since: float | None = None,
    until: float | None = None,
    *,
    route: str | None = None,
    label: int | None = None,
    consolidation: Consolidation | int | None = None,
    min_importance: float | None = None,
) -> dict[str, Any]:
    """The filters given (``since <= time < until``, equalities, a threshold), checked and by name
    (InvalidQueryError naming a bad one); :func:`filter_term` turns each into SQL."""
    values: dict[str, Any] = {}
    if since is not None:
        values["since"] = finite(since, "since")
    if until is not None:
        values["until"] = finite(until, "until")
        if since is not None and values["since"] > values["until"]:
            raise InvalidQueryError(f"since ({since}) is after until ({until})")
    if route is not None:
        values["route"] = route
    if label is not None:
        values["label"] = int(label)
    if consolidation is not None:
        try:
            values["consolidation"] = int(Consolidation(consolidation))
        except ValueError:
            raise InvalidQueryError(f"unknown consolidation state {consolidation!r}") from None
    if min_importance is not None:
        values["min_importance"] = finite(min_importance, "min_importance")
    return values


#: Each filter's column and comparison.
_TERMS: dict[str, tuple[str, Callable[[Any, Any], Any]]] = {
    "since": ("time", operator.ge),
    "until": ("time", operator.lt),
    "route": ("route", operator.eq),
    "label": ("label", operator.eq),
    "consolidation": ("consolidation", operator.eq),
    "min_importance": ("importance", operator.ge),
}


def filter_term(name: str, value: Any) -> Any:
    """The SQL condition of filter ``name`` (a key of :func:`filter_values`) against ``value`` (a value or a
    ``bindparam``)."""
    from .schema import episodes

    column, compare = _TERMS[name]
    return compare(episodes.c[column], value)


def episode_filter(since: float | None = None, until: float | None = None, **filters: Any) -> list[Any]:
    """SQL conditions for ``since <= time < until`` and the equality / threshold filters of
    :func:`filter_values`."""
    return [filter_term(name, value) for name, value in filter_values(since, until, **filters).items()]
