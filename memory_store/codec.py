"""How vectors and payloads are checked and stored: float16 vectors, compressed inputs, input digests."""

from __future__ import annotations

import hashlib
import struct
import zlib
from typing import Any

import numpy as np

from .errors import InvalidMemoryInputError, InvalidVectorError

FLOAT16_MAX = float(np.finfo(np.float16).max)

# payload layout: one tag byte, then for arrays a small header (dtype string, shape), then the data;
# zlib level 1 is applied when the data is at least COMPRESS_MIN bytes and shrinks by an eighth or more;
# above PROBE_OVER bytes only when a sample (PROBE_CHUNKS chunks of PROBE_CHUNK bytes from the start, middle
# and end) shrinks so: zlib on incompressible data (float32 noise: 4 KB in ~40 µs) is wasted work on the
# agent's hot path, the sample costs a fifth of that
_BYTES, _BYTES_Z, _ARRAY, _ARRAY_Z = b"b", b"B", b"a", b"A"
COMPRESS_MIN = 512
PROBE_OVER = 1024
PROBE_CHUNK = 256

Payload = np.ndarray | bytes | None

# the header of an array payload and the digest's prefix, by (dtype string, shape): an agent stores arrays of
# one or two layouts, millions of times (bounded: arbitrary shapes stop being cached, not being encoded)
_CACHED_LAYOUTS = 256
_HEADERS: dict[tuple[str, tuple[int, ...]], bytes] = {}
_PREFIXES: dict[tuple[str, tuple[int, ...]], bytes] = {}


def check_vectors(
    vectors: Any, dim: int | None, *, what: str = "vectors", round16: bool = True
) -> np.ndarray:
    """Return ``vectors`` as a C-contiguous float32 array of shape (n, dim), rounded through float16 unless
    ``round16`` is False (queries are not rounded).

    The rounding makes the in-memory index hold exactly what the rows hold, so an index rebuilt from rows
    answers like the one that was lost. Raises InvalidVectorError for a wrong shape or size, NaN or infinity,
    or a value float16 cannot hold (|x| > 65504).
    """
    try:
        array = np.asarray(vectors, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidVectorError(f"{what} must be numbers: {exc}") from None
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] == 0:
        raise InvalidVectorError(f"{what} must have shape (n, dim) or (dim,), got {np.shape(vectors)}")
    if dim is not None and array.shape[1] != dim:
        raise InvalidVectorError(
            f"{what} have {array.shape[1]} components but this database stores {dim}-d vectors"
        )
    if not np.isfinite(array).all():
        bad = int(np.flatnonzero(~np.isfinite(array).all(axis=1))[0])
        raise InvalidVectorError(f"{what}[{bad}] holds NaN or infinity")
    if round16 and array.size and float(np.abs(array).max()) > FLOAT16_MAX:
        raise InvalidVectorError(f"{what} hold values beyond float16's range (|x| <= {FLOAT16_MAX:g})")
    if not round16:
        return np.ascontiguousarray(array)
    return np.ascontiguousarray(array.astype(np.float16).astype(np.float32))


def vector_blob(vector: Any, dim: int | None, *, what: str = "vector") -> tuple[int, bytes]:
    """Check one vector and return ``(size, float16 bytes)``: :func:`check_vectors` for a single vector,
    in three numpy calls on the usual path (a float32 array of the right size).

    Raises InvalidVectorError with :func:`check_vectors`' message.
    """
    if isinstance(vector, np.ndarray) and vector.ndim == 1 and vector.dtype.kind == "f" and vector.size:
        # NaN fails the comparison, infinity exceeds the bound: one reduction covers every bad value
        if (dim is None or vector.size == dim) and np.abs(vector).max() <= FLOAT16_MAX:
            return vector.size, vector.astype("<f2").tobytes()
    checked = check_vectors(vector, dim, what=what)  # raises with the precise reason
    if checked.shape[0] != 1:
        raise InvalidVectorError(f"{what} must be one vector, got shape {np.shape(vector)}")
    return checked.shape[1], vector_to_blob(checked[0])


def vector_to_blob(vector: np.ndarray) -> bytes:
    """Little-endian float16 bytes of one (already checked) vector."""
    return vector.astype("<f2").tobytes()


def blob_to_vector(blob: bytes) -> np.ndarray:
    """A float32 vector from its stored float16 bytes."""
    return np.frombuffer(blob, dtype="<f2").astype(np.float32)


def blobs_to_matrix(blobs: list[bytes], dim: int) -> np.ndarray:
    """Stack stored float16 blobs into a float32 (n, dim) matrix in one pass."""
    return joined_to_matrix(b"".join(blobs), len(blobs), dim)


def joined_to_matrix(joined: bytes | None, n: int, dim: int) -> np.ndarray:
    """A float32 (n, dim) matrix from ``n`` stored float16 blobs already joined (``group_concat`` in SQL)."""
    if not n:
        return np.empty((0, dim), dtype=np.float32)
    return np.frombuffer(joined or b"", dtype="<f2").reshape(n, dim).astype(np.float32)


def encode_payload(value: Payload, *, what: str = "payload") -> bytes | None:
    """Bytes for an array (dtype, shape, data; never a pickle) or for bytes, compressed when that pays."""
    if value is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        return _squeeze(_BYTES, _BYTES_Z, b"", bytes(value))
    array = np.asarray(value)
    key = (array.dtype.str, array.shape)
    header = _HEADERS.get(key)
    if header is None:
        if array.dtype.hasobject or array.dtype.kind not in "biufcSUmM" or array.ndim > 255:
            raise InvalidMemoryInputError(f"{what} must be a numeric array or bytes, got dtype {array.dtype}")
        dtype = array.dtype.str.encode()
        header = struct.pack(f"<B{len(dtype)}sB{array.ndim}Q", len(dtype), dtype, array.ndim, *array.shape)
        if len(_HEADERS) < _CACHED_LAYOUTS:
            _HEADERS[key] = header
    if array.nbytes < COMPRESS_MIN and array.size and array.dtype.kind in "biuf" and array.flags.c_contiguous:
        return b"".join((_ARRAY, header, array))  # type: ignore[arg-type]  # small, never compressed: its buffer
    return _squeeze(_ARRAY, _ARRAY_Z, header, _raw(array))


def _raw(array: np.ndarray) -> memoryview:
    """The array's bytes in C order, without a copy when it is C-contiguous already (a 300 KB input would be
    copied twice more on its way into a blob otherwise)."""
    if array.size and array.dtype.kind in "biuf" and array.flags.c_contiguous:
        # the usual input: ~0.3 µs, where the numpy calls below take ~1.2
        return memoryview(array).cast("B")  # type: ignore[arg-type]
    if array.dtype.hasobject:  # only hashed (encode_payload refuses it): its pointers, as tobytes gives them
        return memoryview(array.tobytes())
    return np.ascontiguousarray(array).reshape(-1).view(np.uint8).data


def _squeeze(tag: bytes, tag_z: bytes, header: bytes, data: bytes | memoryview) -> bytes:
    if len(data) >= COMPRESS_MIN and (len(data) <= PROBE_OVER or _pays(_sample(data))):
        packed = zlib.compress(data, 1)
        if _pays(data, packed):
            return tag_z + header + packed
    return b"".join((tag, header, data))


def _pays(data: bytes | memoryview, packed: bytes | None = None) -> bool:
    """Whether zlib shrinks ``data`` by an eighth or more."""
    if packed is None:
        packed = zlib.compress(data, 1)
    return len(packed) <= len(data) - len(data) // 8


def _sample(data: bytes | memoryview) -> bytes:
    middle = (len(data) - PROBE_CHUNK) // 2
    return b"".join((data[:PROBE_CHUNK], data[middle : middle + PROBE_CHUNK], data[-PROBE_CHUNK:]))


def decode_payload(blob: bytes | None) -> np.ndarray | bytes | None:
    """Inverse of :func:`encode_payload`."""
    if blob is None:
        return None
    tag = blob[:1]
    if tag in (_BYTES, _BYTES_Z):
        return blob[1:] if tag == _BYTES else zlib.decompress(blob[1:])
    size = blob[1]
    dtype = np.dtype(blob[2 : 2 + size].decode())
    ndim = blob[2 + size]
    start = 3 + size + 8 * ndim
    shape = struct.unpack(f"<{ndim}Q", blob[3 + size : start])
    data = blob[start:] if tag == _ARRAY else zlib.decompress(blob[start:])
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


DIGEST_SIZE = 16


def digest(value: Payload) -> bytes:
    """16-byte BLAKE2b digest of an input: dtype, shape and data for arrays, the bytes otherwise.

    Equal inputs give equal digests, so a response cache can find earlier episodes of the same input.
    """
    if value is None:
        return hashlib.blake2b(digest_size=DIGEST_SIZE).digest()
    if isinstance(value, bytes | bytearray | memoryview):
        return hashlib.blake2b(b"bytes:" + bytes(value), digest_size=DIGEST_SIZE).digest()
    array = value
    if not (type(array) is np.ndarray and array.ndim and array.flags.c_contiguous):
        array = np.ascontiguousarray(value)  # (a 0-d array hashes as shape (1,), as it always has)
    key = (array.dtype.str, array.shape)
    prefix = _PREFIXES.get(key)
    if prefix is None:
        prefix = f"{array.dtype.str}{array.shape}:".encode()
        if len(_PREFIXES) < _CACHED_LAYOUTS:
            _PREFIXES[key] = prefix
    h = hashlib.blake2b(prefix, digest_size=DIGEST_SIZE)
    h.update(_raw(array))  # hashlib reads the buffer without the GIL (no copy for a C-contiguous array)
    return h.digest()
