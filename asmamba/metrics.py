"""Temporal action segmentation metrics, reproducing MS-TCN / ASFormer `eval.py` exactly.

The protocol works on label *names* per frame (prediction files hold names, not ids):
- segments come from `segments()`: a segment starts at every change to a non-background label and
  ends (exclusive) at the next change, EXCEPT the last segment of the video, whose end is
  `len - 1` (upstream quirk, kept: it shortens the final segment by one frame);
- only the literal label "background" is excluded (SIL, action_start, action_end are segments);
- accuracy pools frames over all videos; edit is averaged over videos; F1 sums TP/FP/FN over
  videos before computing precision and recall.

The one place upstream has no answer: a video with predicted segments but no ground-truth segment
makes upstream crash (argmax of an empty list); here every predicted segment counts as a false
positive.

`VideoStats` is what one video contributes; `summarize` turns a list of them into the split's
scores. `ActionSegmentationMetric` (the engine metric) and `asmamba.evaluate` (the CLI over prediction
files) both go through these two, so training-time validation and the CLI agree.
"""
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.evaluator import BaseMetric

from common.engine import METRICS, atomic_write_text
from common.segments import segment_iou

BACKGROUND = ("background",)
OVERLAPS = (0.10, 0.25, 0.50)
PREDICTION_HEADER = "### Frame level recognition: ###"


def segments(labels: Sequence[str], bg_class=BACKGROUND) -> Tuple[List[str], List[int], List[int]]:
    """Labels, starts and ends of the non-background segments of a frame-wise label sequence."""
    labels = np.asarray(labels)
    change = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(labels) - 1]])  # last end = len - 1 (upstream quirk)
    keep = ~np.isin(labels[starts], bg_class)
    return labels[starts][keep].tolist(), starts[keep].tolist(), ends[keep].tolist()


def levenshtein(p: Sequence[str], y: Sequence[str]) -> int:
    """Edit distance between two label sequences (unit insert / delete / substitute)."""
    row = list(range(len(y) + 1))
    for i, pi in enumerate(p, 1):
        prev_diag, row[0] = row[0], i
        for j, yj in enumerate(y, 1):
            prev_diag, row[j] = row[j], prev_diag if pi == yj else 1 + min(row[j], row[j - 1], prev_diag)
    return row[-1]


def edit_score(pred: Sequence[str], gt: Sequence[str], bg_class=BACKGROUND) -> float:
    """(1 - edit distance / longer segment sequence) * 100; NaN when neither has a segment (as upstream)."""
    p, _, _ = segments(pred, bg_class)
    y, _, _ = segments(gt, bg_class)
    longest = max(len(p), len(y))
    return float("nan") if longest == 0 else (1 - levenshtein(p, y) / longest) * 100


def f_score_counts(pred: Sequence[str], gt: Sequence[str], overlap: float, bg_class=BACKGROUND):
    """(tp, fp, fn) of one video at one IoU threshold, matching predicted segments in temporal order."""
    p_label, p_start, p_end = segments(pred, bg_class)
    y_label, y_start, y_end = segments(gt, bg_class)
    y_label, y_start, y_end = np.asarray(y_label), np.asarray(y_start), np.asarray(y_end)
    hits = np.zeros(len(y_label), dtype=bool)
    tp = fp = 0
    for label, start, end in zip(p_label, p_start, p_end):
        if len(y_label) == 0:
            fp += 1
            continue
        # upstream's IoU is negative for disjoint segments and NaN for two equal points: neither can be a hit,
        # so the tIoU of common.segments (0 for both) matches the same segments
        iou = segment_iou([start, end], np.stack([y_start, y_end], axis=1))[0] * (y_label == label)
        best = iou.argmax()
        if iou[best] >= overlap and not hits[best]:
            tp += 1
            hits[best] = True
        else:
            fp += 1
    return tp, fp, len(y_label) - int(hits.sum())


@dataclass
class VideoStats:
    correct: int
    total: int
    edit: float
    tp: np.ndarray  # (len(OVERLAPS),)
    fp: np.ndarray
    fn: np.ndarray


def video_stats(pred: Sequence[str], gt: Sequence[str], bg_class=BACKGROUND, source: str = "prediction") -> VideoStats:
    """One video's contribution. Accuracy runs over the ground-truth length; segments use all of `pred`."""
    if len(pred) < len(gt):
        raise ValueError(f"{source}: {len(pred)} predicted labels for {len(gt)} ground-truth frames")
    correct = int(np.sum(np.asarray(pred[: len(gt)]) == np.asarray(gt)))
    counts = np.array([f_score_counts(pred, gt, o, bg_class) for o in OVERLAPS], dtype=np.float64)
    return VideoStats(correct, len(gt), edit_score(pred, gt, bg_class), *counts.T)


def summarize(stats: Sequence[VideoStats]) -> Dict[str, float]:
    """Split scores in percent: acc (pooled frames), edit (mean over videos), f1@10/25/50 (pooled counts)."""
    if not stats:
        raise ValueError("no videos to score")
    tp, fp, fn = (np.sum([getattr(s, k) for s in stats], axis=0) for k in ("tp", "fp", "fn"))
    with np.errstate(divide="ignore", invalid="ignore"):
        precision, recall = tp / (tp + fp), tp / (tp + fn)
        f1 = np.nan_to_num(2 * precision * recall / (precision + recall)) * 100
    scores = {
        "acc": 100 * sum(s.correct for s in stats) / sum(s.total for s in stats),
        "edit": float(np.mean([s.edit for s in stats])),
    }
    scores.update({f"f1@{round(o * 100)}": float(v) for o, v in zip(OVERLAPS, f1)})
    return scores


def write_prediction(path: str, labels: Sequence[str]) -> None:
    """Write one video's frame-wise label names in upstream's format (header line, then names)."""
    atomic_write_text(path, PREDICTION_HEADER + "\n" + " ".join(labels))


def read_prediction(path: str) -> List[str]:
    """Read a prediction file written by upstream ASFormer / MS-TCN or by `write_prediction`."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"prediction file missing: {path}")
    with open(path) as f:
        lines = f.read().split("\n")
    if lines[0].strip() != PREDICTION_HEADER or len(lines) < 2:
        raise ValueError(f"{path}: expected '{PREDICTION_HEADER}' followed by a line of label names")
    return lines[1].split()


def upsample(pred_ids: np.ndarray, classes: Sequence[str], sample_rate: int, min_len: int) -> List[str]:
    """Label names at the original frame rate: each prediction repeated `sample_rate` times as
    upstream writes them; padded with the last label when that falls short of the ground truth
    (features one frame shorter than the labels)."""
    names = np.asarray(classes)[np.repeat(pred_ids, sample_rate)].tolist()
    return names + names[-1:] * (min_len - len(names))


@METRICS.register_module()
class ActionSegmentationMetric(BaseMetric):
    """Acc / Edit / F1@{10,25,50} through the eval.py protocol; writes upstream's prediction files.

    Expects model outputs `dict(video=name, pred=ids at the subsampled rate)` and the batch's
    `data_samples["gt_full"]` (ground-truth ids at the original frame rate). Class names and the
    sample rate come from the dataset's metainfo. Prediction files go to `pred_dir`, else to
    `<out_dir>/predictions` (ResultsDirHook sets out_dir to the run's work dir).
    """

    default_prefix = None

    def __init__(self, pred_dir: Optional[str] = None, bg_class: Sequence[str] = BACKGROUND, **kwargs):
        super().__init__(**kwargs)
        self.pred_dir, self.out_dir = pred_dir, None
        self.bg_class = tuple(bg_class)

    def process(self, data_batch, data_samples) -> None:
        classes, sample_rate = self.dataset_meta["classes"], self.dataset_meta["sample_rate"]
        batch = data_batch["data_samples"]
        pred_dir = self.pred_dir or (self.out_dir and os.path.join(self.out_dir, "predictions"))
        for out, video, gt in zip(data_samples, batch["videos"], batch["gt_full"]):
            assert out["video"] == video, "model outputs and batch are out of order"
            pred = upsample(np.asarray(out["pred"]), classes, sample_rate, len(gt))
            if pred_dir:
                os.makedirs(pred_dir, exist_ok=True)
                write_prediction(os.path.join(pred_dir, video), pred)
            self.results.append(video_stats(pred, np.asarray(classes)[gt].tolist(), self.bg_class, video))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        return summarize(results)
