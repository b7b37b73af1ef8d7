"""Temporal IoU: the one routine every task's metrics, losses' targets and post-processing use.

tIoU(a, b) = |a & b| / |a | b| with |a | b| = min(hull(a, b), |a| + |b|) (the union, whether or not
the segments overlap). An empty union (two points at one place) has tIoU 0, never 0 / 0 = NaN: a
NaN compared with a threshold would count as a hit in some code paths and a miss in others. `eps` is
added to the union where the upstream protocol does (PDVC's evaluators add 1e-8).

Segments must be valid ([start, end], finite, start <= end): check what enters with
`common.checks.check_segments`, which rejects reversed segments instead of letting them score.
"""
import numpy as np


def segment_iou(a, b, eps: float = 0.0) -> np.ndarray:
    """Pairwise tIoU: a (N, 2), b (M, 2) -> (N, M) float64. A single [start, end] may be given for
    either side; the result keeps both axes."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 2)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 2)
    return _iou(a[:, None, 0], a[:, None, 1], b[None, :, 0], b[None, :, 1], eps)


def paired_segment_iou(a, b, eps: float = 0.0) -> np.ndarray:
    """Row-wise tIoU of a (N, 2) and b (N, 2) -> (N,) float64."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 2)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 2)
    if len(a) != len(b):
        raise ValueError(f"paired_segment_iou: {len(a)} segments against {len(b)}")
    return _iou(a[:, 0], a[:, 1], b[:, 0], b[:, 1], eps)


def _iou(s1, e1, s2, e2, eps):
    inter = np.maximum(0.0, np.minimum(e1, e2) - np.maximum(s1, s2))
    union = np.minimum(np.maximum(e1, e2) - np.minimum(s1, s2), (e1 - s1) + (e2 - s2)) + eps
    inter, union = np.broadcast_arrays(inter, union)
    return np.divide(inter, union, out=np.zeros(inter.shape), where=union > 0)
