"""NonMaxSuppression: greedy per-(batch, class) box selection by descending score (ties: lower index first),
dropping boxes with IoU > iou_threshold to a kept box or score <= score_threshold; int64 [k, 3] output."""

from __future__ import annotations

import numpy as np

from engine.ops.registry import register


def _scalar(t: np.ndarray | None, default: float) -> float:
    if t is None or np.asarray(t).size == 0:
        return default
    return float(np.asarray(t).reshape(-1)[0])


def _corners(boxes: np.ndarray, center_point_box: int) -> np.ndarray:
    """[N, 4] boxes -> [N, 4] (y1, x1, y2, x2) with y1 <= y2, x1 <= x2."""
    b = boxes.astype(np.float64)
    if center_point_box:
        xc, yc, w, h = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
        return np.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], axis=1)
    return np.stack(
        [np.minimum(b[:, 0], b[:, 2]), np.minimum(b[:, 1], b[:, 3]),
         np.maximum(b[:, 0], b[:, 2]), np.maximum(b[:, 1], b[:, 3])],
        axis=1,
    )


@register("NonMaxSuppression", since=10)
def non_max_suppression(
    boxes: np.ndarray,
    scores: np.ndarray,
    max_output_boxes_per_class: np.ndarray | None = None,
    iou_threshold: np.ndarray | None = None,
    score_threshold: np.ndarray | None = None,
    *,
    center_point_box: int = 0,
) -> tuple[np.ndarray]:
    max_out = int(_scalar(max_output_boxes_per_class, 0))
    iou_thr = _scalar(iou_threshold, 0.0)
    has_score_thr = score_threshold is not None and np.asarray(score_threshold).size > 0
    score_thr = _scalar(score_threshold, 0.0)
    selected: list[tuple[int, int, int]] = []
    if max_out <= 0:
        return (np.zeros((0, 3), dtype=np.int64),)
    for b in range(boxes.shape[0]):
        corners = _corners(boxes[b], center_point_box)
        areas = (corners[:, 2] - corners[:, 0]) * (corners[:, 3] - corners[:, 1])
        for c in range(scores.shape[1]):
            s = scores[b, c]
            cand = np.flatnonzero(s > score_thr) if has_score_thr else np.arange(s.shape[0])
            # descending score, ties by lower index: stable sort on the negated score
            cand = cand[np.argsort(-s[cand].astype(np.float64), kind="stable")]
            kept = 0
            while cand.size and kept < max_out:
                i = cand[0]
                selected.append((b, c, int(i)))
                kept += 1
                rest = cand[1:]
                ih = np.minimum(corners[i, 2], corners[rest, 2]) - np.maximum(corners[i, 0], corners[rest, 0])
                iw = np.minimum(corners[i, 3], corners[rest, 3]) - np.maximum(corners[i, 1], corners[rest, 1])
                inter = np.maximum(ih, 0) * np.maximum(iw, 0)
                union = areas[i] + areas[rest] - inter
                with np.errstate(divide="ignore", invalid="ignore"):
                    iou = np.where((inter > 0) & (union > 0), inter / union, 0.0)
                cand = rest[~(iou > iou_thr)]
    return (np.array(selected, dtype=np.int64).reshape(-1, 3),)
