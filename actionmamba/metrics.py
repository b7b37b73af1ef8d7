"""Temporal action detection mAP: the official ActivityNet protocol as ActionFormer runs it.

Pure functions score a results dict against an annotation json (used by `python -m actionmamba.evaluate`);
`DetectionMAP` is the same scoring as an mmengine metric that also writes the results file.

Protocol, per class and tIoU threshold: predictions sorted by score (descending; equal scores keep the
order NumPy's stable sort reversed gives, as the official code does on small inputs), each matched to the
ground truth of its video in decreasing tIoU order: below the threshold -> false positive; a ground truth
already taken -> try the next; else true positive. AP is all-point interpolated (VOC 2011), npos the number
of ground-truth segments of the class; mAP is the mean over the classes present in the ground truth.
"""
import json
import math
import os
import warnings

import numpy as np
from mmengine.evaluator import BaseMetric

from common.checks import check_array, check_segments
from common.engine import METRICS, atomic_write_text
from common.io import load_json
from common.segments import segment_iou
from .datasets import DUPLICATE_TOL, DURATION_TOLERANCE, MISSING_DURATION, read_database

THUMOS_TIOUS = tuple(np.linspace(0.3, 0.7, 5).round(2))
ANET_TIOUS = tuple(np.linspace(0.5, 0.95, 10).round(2))  # ActivityNet and HACS
EPIC_TIOUS = tuple(np.linspace(0.1, 0.5, 5).round(2))
MIN_GT_LENGTH = 1e-3  # seconds; shorter ground-truth segments are annotation noise


def interpolated_ap(precision, recall):
    """All-point interpolated average precision (VOC 2011 / ActivityNet)."""
    prec = np.concatenate([[0.0], precision, [0.0]])
    rec = np.concatenate([[0.0], recall, [1.0]])
    prec = np.maximum.accumulate(prec[::-1])[::-1]  # monotone envelope from the right
    changes = np.flatnonzero(rec[1:] != rec[:-1]) + 1
    return float(np.sum((rec[changes] - rec[changes - 1]) * prec[changes]))


def class_average_precision(ground_truth, predictions, tiou_thresholds):
    """AP of one class at each threshold.

    ground_truth: {video_id: (G, 2) array}; predictions: list of (video_id, start, end, score) in file order.
    """
    tious = np.asarray(tiou_thresholds)
    npos = sum(len(g) for g in ground_truth.values())
    if not predictions or npos == 0:
        return np.zeros(len(tious))
    scores = np.array([p[3] for p in predictions], dtype=np.float64)
    order = np.argsort(scores, kind="stable")[::-1]
    tp = np.zeros((len(tious), len(predictions)))
    fp = np.zeros((len(tious), len(predictions)))
    taken = {vid: np.zeros((len(tious), len(g)), dtype=bool) for vid, g in ground_truth.items()}
    for rank, idx in enumerate(order):
        vid, start, end, _ = predictions[idx]
        if vid not in ground_truth:
            fp[:, rank] = 1
            continue
        ious = segment_iou([start, end], ground_truth[vid])[0]
        by_iou = np.argsort(ious, kind="stable")[::-1]
        for t, thr in enumerate(tious):
            for g in by_iou:
                if ious[g] < thr:
                    break
                if taken[vid][t, g]:
                    continue
                tp[t, rank] = 1
                taken[vid][t, g] = True
                break
            fp[t, rank] = 1 - tp[t, rank]
    tp, fp = np.cumsum(tp, axis=1), np.cumsum(fp, axis=1)
    recall, precision = tp / npos, tp / (tp + fp)
    return np.array([interpolated_ap(precision[t], recall[t]) for t in range(len(tious))])


def load_ground_truth(ann_file, split, duration_tolerance=DURATION_TOLERANCE):
    """{class name: {video_id: (G, 2) segments}} of the split; drops sub-1 ms and duplicate segments.

    The file is read and checked as the data set reads it (`actionmamba.datasets.read_database`): a reversed
    segment or one past the duration is an error, never dropped. Also returns {label_id: name} so
    predictions may name classes by id, and {video_id: duration} of the split's videos.
    """
    database = read_database(ann_file, duration_tolerance)
    splits = {s.lower() for s in ([split] if isinstance(split, str) else split)}
    id_to_name, per_class, videos = {}, {}, {}
    for vid, video in database.items():
        kept = []
        for ann in video.get("annotations", []):
            id_to_name.setdefault(ann["label_id"], ann["label"])
            if video["subset"].lower() not in splits:
                continue
            s, e = ann["segment"]
            if e - s < MIN_GT_LENGTH or any(
                    abs(s - k[0]) <= DUPLICATE_TOL and abs(e - k[1]) <= DUPLICATE_TOL and ann["label"] == k[2]
                    for k in kept):
                continue
            kept.append((s, e, ann["label"]))
        if video["subset"].lower() in splits:
            videos[vid] = float(video.get("duration", MISSING_DURATION))
        for s, e, label in kept:
            per_class.setdefault(label, {}).setdefault(vid, []).append((s, e))
    if not videos:
        raise ValueError(f"{ann_file}: no video in subset {sorted(splits)}")
    if not per_class:
        raise ValueError(f"{ann_file}: the videos of subset {sorted(splits)} hold no ground-truth segment")
    ground_truth = {c: {v: np.array(segs, dtype=np.float64) for v, segs in vids.items()}
                    for c, vids in per_class.items()}
    return ground_truth, id_to_name, videos


def read_predictions(results, id_to_name, videos, source="predictions", duration_tolerance=DURATION_TOLERANCE):
    """{class name: [(video_id, start, end, score), ...]} from an ActivityNet-format results dict.

    Every detection is checked: a [start, end] of finite numbers with start <= end, inside [0, duration] of
    its video (`videos`: {video_id: duration}, give or take `duration_tolerance`; seconds past the video mean
    another unit or another video), a finite score, a label (name or id) of the annotation file. Videos
    outside the split are scored as the official code scores them, as false positives, with a warning.
    """
    if not isinstance(results, dict) or not isinstance(results.get("results"), dict):
        raise ValueError(f"{source}: expected {{'results': {{video_id: [{{'segment', 'label', 'score'}}]}}}}")
    names = set(id_to_name.values())
    per_class = {}
    unknown = sorted(set(results["results"]) - set(videos))
    if unknown:
        warnings.warn(f"{source}: {len(unknown)} video(s) outside the scored split, counted as false positives "
                      f"as the official evaluation does: {unknown[:5]}")
    for vid, dets in results["results"].items():
        if not isinstance(dets, list):
            raise ValueError(f"{source}: video {vid!r}: expected a list of detections, found {type(dets).__name__}")
        for i, det in enumerate(dets):
            where = f"video {vid!r} detection {i}"
            try:
                (start, end), label, score = det["segment"], det["label"], float(det["score"])
                start, end = float(start), float(end)
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"{source}: {where}: expected 'segment': [s, e], 'label' and a numeric 'score', "
                                 f"found {det!r}") from None
            check_segments([start, end], source, where, duration=videos.get(vid), tolerance=duration_tolerance)
            if not math.isfinite(score):
                raise ValueError(f"{source}: {where}: score {score} is not finite")
            if isinstance(label, str) and label not in names and label.isdigit():
                label = int(label)
            if not isinstance(label, str):
                if label not in id_to_name:
                    raise ValueError(f"{source}: {where}: unknown label id {label!r}")
                label = id_to_name[label]
            elif label not in names:
                raise ValueError(f"{source}: {where}: unknown label {label!r}")
            per_class.setdefault(label, []).append((vid, start, end, score))
    return per_class


def evaluate_detections(ground_truth, predictions, tiou_thresholds):
    """{"mAP@0.30": ..., "mAP_avg": ...} in percent, plus per-class AP (fractions) under "per_class"."""
    bad = [t for t in tiou_thresholds if not 0 < t <= 1]
    if bad or not len(tiou_thresholds):
        raise ValueError(f"tIoU thresholds must be in (0, 1], got {list(tiou_thresholds)}")
    classes = sorted(ground_truth)
    ap = np.stack([class_average_precision(ground_truth[c], predictions.get(c, []), tiou_thresholds)
                   for c in classes])  # (classes, thresholds)
    mean_ap = ap.mean(axis=0)
    scores = {f"mAP@{t:.2f}": float(100 * m) for t, m in zip(tiou_thresholds, mean_ap)}
    scores["mAP_avg"] = float(100 * mean_ap.mean())
    return scores, {c: ap[i].tolist() for i, c in enumerate(classes)}


def fuse_external_scores(results, class_scores, class_names, topk=2, source="external class scores",
                         softmax_out_of_range=False):
    """Class-agnostic detections x an external video classifier (ActionFormer on ActivityNet / HACS).

    Each segment is repeated for the video's top-k classes with score sqrt(segment score * class score).
    results: {video_id: [det, ...]}; class_scores: {video_id or 'v_' + id: [score per label_id]} (or that list
    inside a list of one, as the suite's files may hold it), one finite, non-negative score per class of
    `class_names` (errors name `source`, the scores' file). `softmax_out_of_range`: a video's scores holding a
    value outside [0, 1] are logits, replaced by their softmax (the video suite's rule for its InternVideo2
    score files); one warning counts the videos.
    """
    fused, softmaxed = {}, []
    for vid, dets in results.items():
        probs = class_scores.get(vid, class_scores.get("v_" + vid))
        if probs is None:
            raise ValueError(f"{source}: no entry for video {vid!r}")
        try:
            probs = np.asarray(probs, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{source}: video {vid!r}: expected a list of class scores, found {str(probs)[:100]}") \
                from None
        if probs.ndim == 2 and len(probs) == 1:
            probs = probs[0]
        check_array(probs, source, f"video {vid!r}", shape=(len(class_names),), what="class scores")
        if softmax_out_of_range and ((probs < 0) | (probs > 1)).any():
            probs = np.exp(probs - probs.max())
            probs /= probs.sum()
            softmaxed.append(vid)
        if (probs < 0).any():
            raise ValueError(f"{source}: video {vid!r}: negative class scores (expected probabilities; "
                             "logits need softmax_out_of_range)")
        top = np.argsort(probs, kind="stable")[::-1][:topk]
        fused[vid] = [dict(segment=d["segment"], label=class_names[c], score=float(np.sqrt(probs[c] * d["score"])))
                      for c in top for d in dets]
    if softmaxed:
        warnings.warn(f"{source}: the class scores of {len(softmaxed)} of {len(results)} video(s) lie outside "
                      "[0, 1]: read as logits and softmaxed (softmax_out_of_range)")
    return fused


@METRICS.register_module()
class DetectionMAP(BaseMetric):
    """mAP over tIoU thresholds on the data set's annotation json (read from `dataset_meta`).

    Writes the ActivityNet-format results file (`results_file`, relative to `out_dir`, which
    `ResultsDirHook` points at the run's work dir) so a run can be re-scored or submitted.
    `external_scores` (json {"results": {video_id: [score per class]}}) turns a class-agnostic model's
    detections into class-specific ones (ActivityNet / HACS); `softmax_out_of_range` reads its out-of-[0, 1]
    rows as logits (`fuse_external_scores`).
    """

    def __init__(self, tiou_thresholds=THUMOS_TIOUS, results_file="results.json", external_scores=None,
                 fusion_topk=2, softmax_out_of_range=False, **kwargs):
        super().__init__(**kwargs)
        self.tiou_thresholds = tuple(float(t) for t in tiou_thresholds)
        self.results_file, self.out_dir = results_file, None
        self.external_scores, self.fusion_topk = external_scores, fusion_topk
        self.softmax_out_of_range = softmax_out_of_range

    def process(self, data_batch, data_samples):
        for pred in data_samples:
            self.results.append(dict(video_id=pred["video_id"], segments=pred["segments"].tolist(),
                                     scores=pred["scores"].tolist(), labels=pred["labels"].tolist()))

    def compute_metrics(self, results):
        meta = self.dataset_meta
        ann_file, split, class_names = meta["ann_file"], meta["split"], meta["classes"]
        detections = {r["video_id"]: [dict(segment=seg, label=lab, score=score)
                                      for seg, score, lab in zip(r["segments"], r["scores"], r["labels"])]
                      for r in results}
        if self.external_scores:
            class_scores = load_json(self.external_scores, "external classification scores")
            detections = fuse_external_scores(detections, class_scores.get("results", class_scores), class_names,
                                              self.fusion_topk, source=self.external_scores,
                                              softmax_out_of_range=self.softmax_out_of_range)
        elif meta["num_classes"] == 1:
            raise ValueError("a class-agnostic model (num_classes=1) needs external_scores to be scored per class")
        else:
            detections = {vid: [dict(d, label=class_names[d["label"]]) for d in dets]
                          for vid, dets in detections.items()}
        payload = dict(version="VERSION 1.3", results=detections, external_data={})
        if self.out_dir is not None:
            atomic_write_text(os.path.join(self.out_dir, self.results_file), json.dumps(payload))
        tolerance = meta.get("duration_tolerance", DURATION_TOLERANCE)
        ground_truth, id_to_name, videos = load_ground_truth(ann_file, split, tolerance)
        scores, _ = evaluate_detections(ground_truth, read_predictions(payload, id_to_name, videos,
                                                                       duration_tolerance=tolerance),
                                        self.tiou_thresholds)
        return scores

