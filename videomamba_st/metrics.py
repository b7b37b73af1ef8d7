"""Video classification scores and the prediction file behind them.

Scores are mmaction2's: top-k accuracy (a video counts when its label is among the k highest scores) and mean
class accuracy, computed by mmaction.evaluation's functions on the scores the recognizer returns (with
average_clips="prob": the softmax averaged over the test views, as the suite's `merge`). `VideoClassificationMetric`
is mmaction2's AccMetric that also writes `<work_dir>/predictions.json` (ResultsDirHook sets out_dir):

    {"num_classes": C, "videos": [{"filename": str, "id": str, "label": int, "scores": [C floats]}, ...]}

and `videomamba_st.evaluate` scores such a file with the same functions, so both give the same numbers. `id` is
the sample's `sample_id` (an EPIC-Kitchens narration_id: several segments share one video file), else the
filename; the ids must be unique. A label outside the scores' classes or a non-finite score is an error where it
enters, in the metric (naming the video) and in the file, so the metric never writes a file the CLI refuses.
"""
import json
import os

import numpy as np
from mmaction.evaluation import AccMetric, mean_class_accuracy, top_k_accuracy
from mmaction.registry import METRICS

from common.checks import check_finite, check_labels, fail
from common.engine import atomic_write_text
from common.io import load_json

PREDICTIONS_FILE = "predictions.json"


def classification_scores(scores: np.ndarray, labels: np.ndarray, topk=(1, 5)) -> dict:
    """scores (N, C), labels (N,) int -> {"top1", "top5", "mean1"} as fractions (mmaction2's keys)."""
    preds, labels = list(scores), [int(label) for label in labels]
    result = {f"top{k}": float(acc) for k, acc in zip(topk, top_k_accuracy(preds, labels, topk))}
    result["mean1"] = float(mean_class_accuracy(preds, labels))
    return result


def write_predictions(path: str, filenames, labels, scores: np.ndarray, ids=None) -> None:
    videos = [dict(filename=f, id=i, label=int(y), scores=[round(float(s), 6) for s in row])
              for f, i, y, row in zip(filenames, ids or filenames, labels, scores)]
    atomic_write_text(path, json.dumps(dict(num_classes=int(scores.shape[1]), videos=videos)))


def read_predictions(path: str):
    """-> (filenames, labels (N,), scores (N, C)); every malformed entry is an error naming the file."""
    data = load_json(path, "predictions file")
    if not isinstance(data, dict) or not isinstance(data.get("num_classes"), int) or not data.get("videos"):
        fail(path, None, "expected {'num_classes': int, 'videos': [...]} with at least one video")
    num_classes, filenames, ids, labels, scores = data["num_classes"], [], [], [], []
    for i, video in enumerate(data["videos"]):
        row, label = video.get("scores"), video.get("label")
        if not isinstance(row, list) or len(row) != num_classes or type(label) is not int:
            fail(path, f"video {i}", f"needs an int 'label' and {num_classes} 'scores'")
        check_labels(label, num_classes, path, f"video {i}")
        filenames.append(video.get("filename"))
        ids.append(video.get("id", video.get("filename")))
        labels.append(label)
        scores.append(row)
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        fail(path, None, f"videos listed twice: {sorted(map(str, duplicates))[:5]}")
    scores = check_finite(np.asarray(scores, dtype=np.float64), path, what="scores")
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
            result["filename"], result["id"] = sample.get("filename"), sample.get("sample_id")
            source = result["filename"] or "a validation video"
            check_labels(result["label"], len(result["pred"]), source, "the model's classes")
            check_finite(result["pred"], source, what="the model's scores")

    def compute_metrics(self, results):
        if self.out_dir:
            missing = sum(r["filename"] is None for r in results)
            if missing:
                raise ValueError(f"{missing} predictions have no video filename: add 'filename' to the test "
                                 "pipeline's PackActionInputs(meta_keys=...)")
            os.makedirs(self.out_dir, exist_ok=True)
            write_predictions(os.path.join(self.out_dir, PREDICTIONS_FILE), [r["filename"] for r in results],
                              [r["label"] for r in results], np.stack([r["pred"] for r in results]),
                              [r["id"] or r["filename"] for r in results])
        return super().compute_metrics(results)
