"""Video classification scores and the prediction file behind them.

Scores are mmaction2's: top-k accuracy (a video counts when its label is among the k highest scores) and mean
class accuracy, computed by mmaction.evaluation's functions on the scores the recognizer returns (with
average_clips="prob": the softmax averaged over the test views, as the suite's `merge`). `VideoClassificationMetric`
is mmaction2's AccMetric that also writes `<work_dir>/predictions.json` (ResultsDirHook sets out_dir):

    {"num_classes": C, "videos": [{"filename": str, "label": int, "scores": [C floats]}, ...]}

and `videomamba_st.evaluate` scores such a file with the same functions, so both give the same numbers.
"""
import json
import os

import numpy as np
from mmaction.evaluation import AccMetric, mean_class_accuracy, top_k_accuracy
from mmaction.registry import METRICS

from common.engine import atomic_write_text

PREDICTIONS_FILE = "predictions.json"


def classification_scores(scores: np.ndarray, labels: np.ndarray, topk=(1, 5)) -> dict:
    """scores (N, C), labels (N,) int -> {"top1", "top5", "mean1"} as fractions (mmaction2's keys)."""
    preds, labels = list(scores), [int(label) for label in labels]
    result = {f"top{k}": float(acc) for k, acc in zip(topk, top_k_accuracy(preds, labels, topk))}
    result["mean1"] = float(mean_class_accuracy(preds, labels))
    return result


def write_predictions(path: str, filenames, labels, scores: np.ndarray) -> None:
    videos = [dict(filename=f, label=int(y), scores=[round(float(s), 6) for s in row])
              for f, y, row in zip(filenames, labels, scores)]
    atomic_write_text(path, json.dumps(dict(num_classes=int(scores.shape[1]), videos=videos)))


def read_predictions(path: str):
    """-> (filenames, labels (N,), scores (N, C)); every malformed entry is an error naming the file."""
    with open(path) as f:
        data = json.load(f)
    if not isinstance(data, dict) or not isinstance(data.get("num_classes"), int) or not data.get("videos"):
        raise ValueError(f"{path}: expected {{'num_classes': int, 'videos': [...]}} with at least one video")
    num_classes, filenames, labels, scores = data["num_classes"], [], [], []
    for i, video in enumerate(data["videos"]):
        row, label = video.get("scores"), video.get("label")
        if not isinstance(row, list) or len(row) != num_classes or not isinstance(label, int):
            raise ValueError(f"{path}: video {i} needs an int 'label' and {num_classes} 'scores'")
        if not 0 <= label < num_classes:
            raise ValueError(f"{path}: video {i} has label {label}, outside [0, {num_classes})")
        filenames.append(video.get("filename"))
        labels.append(label)
        scores.append(row)
    duplicates = {f for f in filenames if filenames.count(f) > 1}
    if duplicates:
        raise ValueError(f"{path}: videos listed twice: {sorted(duplicates)[:5]}")
    scores = np.asarray(scores, dtype=np.float64)
    if not np.isfinite(scores).all():
        raise ValueError(f"{path}: scores hold NaN or Inf")
    return filenames, np.asarray(labels), scores


@METRICS.register_module()
class VideoClassificationMetric(AccMetric):
    """AccMetric (top-1 / top-5 / mean class accuracy, keys acc/top1, acc/top5, acc/mean1) that writes the scores
    it was given to `out_dir/predictions.json`. The data samples must carry the video `filename` (PackActionInputs
    meta_keys) when out_dir is set."""

    def __init__(self, out_dir=None, **kwargs):
        super().__init__(**kwargs)
        self.out_dir = out_dir

    def process(self, data_batch, data_samples):
        super().process(data_batch, data_samples)
        for result, sample in zip(self.results[-len(data_samples):], data_samples):
            result["filename"] = sample.get("filename")

    def compute_metrics(self, results):
        if self.out_dir:
            missing = sum(r["filename"] is None for r in results)
            if missing:
                raise ValueError(f"{missing} predictions have no video filename: add 'filename' to the test "
                                 "pipeline's PackActionInputs(meta_keys=...)")
            os.makedirs(self.out_dir, exist_ok=True)
            write_predictions(os.path.join(self.out_dir, PREDICTIONS_FILE), [r["filename"] for r in results],
                              [r["label"] for r in results], np.stack([r["pred"] for r in results]))
        return super().compute_metrics(results)
