"""Payload encoding: exact round trips, compression only where it pays (and never tried on noise)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from memory_store import codec


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        dtype=st.sampled_from([np.float32, np.float64, np.int64, np.uint8, np.bool_, np.float16]),
        shape=hnp.array_shapes(min_dims=0, max_dims=4, max_side=40),
    )
)
def test_arrays_round_trip_exactly(array: np.ndarray) -> None:
    back = codec.decode_payload(codec.encode_payload(array))
    assert isinstance(back, np.ndarray)
    assert back.dtype == array.dtype and back.shape == array.shape
    assert back.tobytes() == array.tobytes()  # bit for bit, NaN payloads included


@pytest.mark.parametrize("size", [100, 600, 1024, 4096, 50_000])
def test_bytes_round_trip(size: int) -> None:
    data = np.random.default_rng(size).integers(0, 4, size, dtype=np.uint8).tobytes()
    assert codec.decode_payload(codec.encode_payload(data)) == data


def test_noise_is_stored_raw_without_compressing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    noise = np.random.default_rng(0).random((1, 4096), dtype=np.float32)
    compressed: list[int] = []
    real = zlib.compress

    def counting(data: bytes, level: int = -1) -> bytes:
        compressed.append(len(data))
        return real(data, level)

    monkeypatch.setattr(codec.zlib, "compress", counting)
    blob = codec.encode_payload(noise)
    assert blob is not None and blob[:1] == b"a"  # raw
    assert compressed and max(compressed) <= 3 * codec.PROBE_CHUNK  # only the sample was tried
    np.testing.assert_array_equal(codec.decode_payload(blob), noise)


def test_compressible_data_is_compressed() -> None:
    image = np.zeros((1, 3, 64, 64), np.float32)
    image[..., 20:40, 20:40] = 0.5
    blob = codec.encode_payload(image)
    assert blob is not None and blob[:1] == b"A"
    assert len(blob) < image.nbytes // 10
    np.testing.assert_array_equal(codec.decode_payload(blob), image)


def test_small_payloads_are_tried_whole() -> None:
    # 800 bytes: under PROBE_OVER, compressed whole when that pays, whatever a sample would say
    data = np.concatenate([np.random.default_rng(1).random(40), np.zeros(60)]).astype(np.float64)
    assert data.nbytes <= codec.PROBE_OVER
    blob = codec.encode_payload(data)
    assert blob is not None and blob[:1] == b"A"
    np.testing.assert_array_equal(codec.decode_payload(blob), data)


def test_a_given_input_digest_is_checked_and_stored(tmp_path) -> None:
    import memory_store
    from memory_store import InvalidMemoryInputError, NewEpisode

    x = np.arange(6, dtype=np.float32)
    with memory_store.open_memory(tmp_path / "m.db", dim=4) as memory:
        with pytest.raises(InvalidMemoryInputError, match="input_digest"):
            memory.episodic.commit([NewEpisode(vector=np.ones(4), input=x, input_digest=b"short")])
        [i] = memory.episodic.commit([NewEpisode(vector=np.ones(4), input=x, input_digest=codec.digest(x))])
        assert memory.episodic.find_input(x) == [i]
        assert memory.episodic.count() == 1
