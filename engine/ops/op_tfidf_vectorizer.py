"""TfIdfVectorizer: counts the pool's n-grams (lengths min..max, tokens up to max_skip_count apart; unigrams
counted once, not once per skip) in each row of a 1-D/2-D token tensor, weighted TF, IDF or TFIDF (float)."""

from __future__ import annotations

import numpy as np

from engine.ops.registry import register


def _pool_grams(pool: np.ndarray, ngram_counts: list[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """{n: (grams [k, n], ordinals [k])} where ordinals number the pool's n-grams in order, all lengths."""
    grams: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    ordinal = 0
    for i, start in enumerate(ngram_counts):
        end = ngram_counts[i + 1] if i + 1 < len(ngram_counts) else len(pool)
        n = i + 1
        k = (end - start) // n
        if k > 0:
            grams[n] = (pool[start:start + k * n].reshape(k, n), np.arange(ordinal, ordinal + k))
            ordinal += k
    return grams


@register("TfIdfVectorizer", since=9)
def tf_idf_vectorizer(
    x: np.ndarray,
    *,
    max_gram_length: int,
    max_skip_count: int,
    min_gram_length: int,
    mode: str,
    ngram_counts: list[int],
    ngram_indexes: list[int],
    pool_int64s: list[int] | None = None,
    pool_strings: list[str] | None = None,
    weights: list[float] | None = None,
) -> tuple[np.ndarray]:
    if mode not in ("TF", "IDF", "TFIDF"):
        raise ValueError(f"TfIdfVectorizer: unknown mode {mode!r}")
    pool = (np.asarray(pool_int64s, dtype=np.int64) if pool_int64s is not None
            else np.asarray(pool_strings, dtype=object))
    indexes = np.asarray(ngram_indexes, dtype=np.int64)
    size = int(indexes.max()) + 1
    rows = x.reshape(1, -1) if x.ndim == 1 else x
    if rows.ndim != 2:
        raise ValueError("TfIdfVectorizer: input must be 1-D or 2-D")
    if pool.dtype == object:
        rows = rows.astype(object)
    counts = np.zeros((rows.shape[0], size), dtype=np.int64)
    grams = _pool_grams(pool, list(ngram_counts))
    length = rows.shape[1]
    for n in range(max(min_gram_length, 1), max_gram_length + 1):
        if n not in grams:
            continue
        pool_n, ordinals = grams[n]
        outputs = indexes[ordinals]
        # unigrams are the same for every skip distance: count them once
        for skip in range(1, (max_skip_count + 1 if n > 1 else 1) + 1):
            m = length - skip * (n - 1)
            if m <= 0:
                break
            windows = np.stack([rows[:, j * skip:j * skip + m] for j in range(n)], axis=-1)  # [B, m, n]
            hits = (windows[:, :, None, :] == pool_n[None, None]).all(axis=-1).sum(axis=1)  # [B, k]
            # numpy's stubs reject a tuple index with a slice, which ufunc.at documents and accepts
            np.add.at(counts, (slice(None), outputs), hits)  # type: ignore[arg-type]
    if mode == "TF":
        y = counts.astype(np.float32)
    else:
        w = (np.asarray(weights, dtype=np.float32) if weights
             else np.ones(size, dtype=np.float32))
        y = (counts > 0) * w if mode == "IDF" else counts * w
    y = y.astype(np.float32, copy=False)
    return (y.reshape(size) if x.ndim == 1 else y,)
