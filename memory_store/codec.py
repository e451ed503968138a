"""How vectors and payloads are checked and stored: float16 vectors, compressed inputs, input digests."""

from __future__ import annotations

import hashlib
import io
import zlib
from typing import Any

import numpy as np

from .errors import InvalidMemoryInputError, InvalidVectorError

FLOAT16_MAX = float(np.finfo(np.float16).max)

_RAW_BYTES = b"B"  # payload tags: raw bytes or a .npy image, both zlib-compressed
_NPY = b"N"

Payload = np.ndarray | bytes | None


def check_vectors(vectors: Any, dim: int | None, *, what: str = "vectors") -> np.ndarray:
    """Return ``vectors`` as a C-contiguous float32 array of shape (n, dim), rounded through float16.

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
    if array.size and float(np.abs(array).max()) > FLOAT16_MAX:
        raise InvalidVectorError(f"{what} hold values beyond float16's range (|x| <= {FLOAT16_MAX:g})")
    return np.ascontiguousarray(array.astype(np.float16).astype(np.float32))


def vector_to_blob(vector: np.ndarray) -> bytes:
    """Little-endian float16 bytes of one (already checked) vector."""
    return vector.astype("<f2").tobytes()


def blob_to_vector(blob: bytes) -> np.ndarray:
    """A float32 vector from its stored float16 bytes."""
    return np.frombuffer(blob, dtype="<f2").astype(np.float32)


def blobs_to_matrix(blobs: list[bytes], dim: int) -> np.ndarray:
    """Stack stored float16 blobs into a float32 (n, dim) matrix in one pass."""
    if not blobs:
        return np.empty((0, dim), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype="<f2").reshape(len(blobs), dim).astype(np.float32)


def encode_payload(value: Payload, *, what: str = "payload") -> bytes | None:
    """Compress an array (stored as .npy, no pickles) or bytes; None stays None."""
    if value is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        return _RAW_BYTES + zlib.compress(bytes(value), 1)
    array = np.asarray(value)
    if array.dtype.hasobject:
        raise InvalidMemoryInputError(f"{what} must be a numeric array or bytes, got dtype {array.dtype}")
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return _NPY + zlib.compress(buffer.getvalue(), 1)


def decode_payload(blob: bytes | None) -> np.ndarray | bytes | None:
    """Inverse of :func:`encode_payload`."""
    if blob is None:
        return None
    tag, body = blob[:1], zlib.decompress(blob[1:])
    if tag == _RAW_BYTES:
        return body
    return np.load(io.BytesIO(body), allow_pickle=False)


def digest(value: Payload) -> bytes:
    """16-byte BLAKE2b digest of an input: dtype, shape and data for arrays, the bytes otherwise.

    Equal inputs give equal digests, so a response cache can find earlier episodes of the same input.
    """
    h = hashlib.blake2b(digest_size=16)
    if value is None:
        return h.digest()
    if isinstance(value, bytes | bytearray | memoryview):
        h.update(b"bytes:")
        h.update(bytes(value))
        return h.digest()
    array = np.ascontiguousarray(value)
    h.update(f"{array.dtype.str}{array.shape}:".encode())
    h.update(array.tobytes())
    return h.digest()
