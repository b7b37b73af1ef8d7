"""QVHighlights moment retrieval (MR) and highlight detection (HL), scored as UniVTG scores them.

Pure functions reproduce the suite's video-temporal-grounding/eval/eval.py (Moment-DETR's
standalone_eval, extended by UniVTG with R1 mIoU, R5 and open-ended length ranges) number for number;
`MomentRetrievalMetric` runs the same scoring in the engine and writes the submission jsonl.

The protocol, quirks kept on purpose:
- MR mAP: per query the first 10 predicted windows in file order, then a stable sort by score;
  ActivityNet matching at tIoU 0.50:0.05:0.95, all-point interpolated AP; mean over queries, then over
  thresholds ("average"). R1: the first window in file order against the ground-truth window it overlaps
  most (IoU >= t for R1@t; mIoU the mean IoU). R5: the best pair among the first 5 windows x all
  ground-truth windows. Length ranges (seconds of a ground-truth window): short (0, 10], middle (10, 30],
  long (30, inf); a query keeps its windows in the range; an empty range falls back to the full set.
- HL: per-clip ground truth (2 s clips) from relevant_clip_ids / saliency_scores (3 annotators, 0..4);
  positive = score >= 2 / 3 / 4 (Fair / Good / VeryGood). Predicted scores are truncated or zero-padded
  to the clip count; Hit@1 takes the argmax over the whole predicted list (a clip past the video is a
  miss) and counts a hit when any annotator marks it positive; AP per annotator from sklearn's
  precision-recall curve with recall cast to float32, running-max precision, averaged over the distinct
  recall levels; an annotator with no positive clip gives AP 0 (all positive: 1) and still counts.
- Every number in percent, rounded to 2 decimals; `brief` holds upstream's 22 keys in its order.
"""
import json
import math
import os
from collections import OrderedDict

import numpy as np
from mmengine.evaluator import BaseMetric

from common.checks import check_labels, check_segments
from common.engine import METRICS, atomic_write_text
from common.io import load_jsonl
from common.segments import paired_segment_iou, segment_iou

MAP_IOUS = [float(f"{t:.2f}") for t in np.linspace(0.5, 0.95, 10)]
RECALL_IOUS = [float(f"{t:.2f}") for t in np.linspace(0.3, 0.95, 14)]
LENGTH_RANGES = OrderedDict(short=(0, 10), middle=(10, 30), long=(30, math.inf), full=(0, math.inf))
HL_MIN_SCORES = OrderedDict(Fair=2, Good=3, VeryGood=4)
SALIENCY_LEVELS = 5  # annotators score a clip 0..4
HL_CLIP_LENGTH = 2  # eval.py's mk_gt_scores: QVHighlights clips, whatever the features' clip length
MAP_MAX_WINDOWS, R5_WINDOWS = 10, 5
# How far a ground-truth window may reach past [0, duration], in seconds. UniVTG's metadata never goes past:
# QVHighlights val (1550 queries) ends at most at the duration, Charades-STA's ends are clipped to it; a second
# covers windows rounded to 0.1 s. Predicted windows have no upper bound: Moment-DETR's published QVHighlights
# submission ends windows at 150 s, the clip's length, on videos whose 'duration' says 128.
WINDOW_TOLERANCE = 1.0


def percent(value):
    return float(f"{100 * value:.2f}")


# ---------------------------------------------------------------------------------------------------------
# reading and checking the two files


def read_jsonl(path):
    """One JSON object per line (common.io.load_jsonl); errors name the file and the line."""
    lines = load_jsonl(path, "metadata / submission file")
    if not lines:
        raise ValueError(f"{path}: no queries in the file")
    return lines


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_unique_qids(lines, source):
    seen = set()
    for item in lines:
        qid = item.get("qid")
        if not isinstance(qid, (int, str)) or isinstance(qid, bool):
            raise ValueError(f"{source}: expected an integer or string 'qid', found {qid!r}")
        if qid in seen:
            raise ValueError(f"{source}: qid {qid!r} appears more than once")
        seen.add(qid)


def all_or_none(lines, key, source):
    present = [key in item for item in lines]
    if any(present) and not all(present):
        missing = next(item["qid"] for item, p in zip(lines, present) if not p)
        raise ValueError(f"{source}: some queries have '{key}' and some do not (e.g. qid {missing!r})")
    return all(present)


def check_ground_truth(lines, source="ground truth"):
    """Moment-DETR / UniVTG metadata with labels: qid, duration, non-empty relevant_windows [[st, ed], ...];
    saliency (relevant_clip_ids + saliency_scores, 3 annotators each) on all queries or on none.
    Returns whether the highlight labels are there."""
    check_unique_qids(lines, source)
    for item in lines:
        where = f"{source}: qid {item['qid']!r}"
        if not is_number(item.get("duration")) or item["duration"] <= 0:
            raise ValueError(f"{where}: expected a positive 'duration' in seconds, found {item.get('duration')!r}")
        windows = item.get("relevant_windows")
        if not isinstance(windows, list) or not windows or not all(
                isinstance(w, list) and len(w) == 2 and all(map(is_number, w)) for w in windows):
            raise ValueError(f"{where}: expected 'relevant_windows' as a non-empty list of [start, end] seconds, "
                             f"found {windows!r}")
        check_segments(windows, source, f"qid {item['qid']!r}", duration=item["duration"], tolerance=WINDOW_TOLERANCE,
                       what="'relevant_windows' entry")
    has_saliency = all_or_none(lines, "saliency_scores", source)
    if has_saliency:
        for item in lines:
            where = f"{source}: qid {item['qid']!r}"
            ids, scores = item.get("relevant_clip_ids"), item["saliency_scores"]
            n_clips = int(item["duration"] / HL_CLIP_LENGTH)
            if not isinstance(ids, list) or not all(isinstance(i, int) and 0 <= i < n_clips for i in ids):
                raise ValueError(f"{where}: expected 'relevant_clip_ids' as clip indices in [0, {n_clips}) "
                                 f"({HL_CLIP_LENGTH} s clips of a {item['duration']} s video), found {ids!r}")
            if not isinstance(scores, list) or len(scores) != len(ids) or not all(
                    isinstance(s, list) and len(s) == 3 and all(map(is_number, s)) for s in scores):
                raise ValueError(f"{where}: expected 'saliency_scores' as one [a, b, c] (3 annotators) per "
                                 f"relevant clip ({len(ids)}), found {scores!r}")
            twice = sorted(i for i in set(ids) if ids.count(i) > 1)
            if twice:
                raise ValueError(f"{where}: 'relevant_clip_ids' lists clips twice: {twice}")
            check_labels(scores, SALIENCY_LEVELS, source, f"qid {item['qid']!r}", what="'saliency_scores' entry")
    return has_saliency


def check_submission(lines, source="submission"):
    """qid, a non-empty pred_relevant_windows [[st, ed, score], ...] (finite, 0 <= start <= end: a reversed
    window would score as a perfect match) and, on all queries or none, pred_saliency_scores [score per clip].
    Returns whether the saliency scores are there."""
    check_unique_qids(lines, source)
    for item in lines:
        where = f"{source}: qid {item['qid']!r}"
        windows = item.get("pred_relevant_windows")
        if not isinstance(windows, list) or not windows or not all(
                isinstance(w, list) and len(w) >= 3 and all(map(is_number, w[:3])) for w in windows):
            raise ValueError(f"{where}: expected 'pred_relevant_windows' as a non-empty list of "
                             f"[start, end, score] numbers, found {str(windows)[:200]}")
        check_segments([w[:2] for w in windows], source, f"qid {item['qid']!r}", tolerance=WINDOW_TOLERANCE,
                       what="'pred_relevant_windows' entry")
    has_saliency = all_or_none(lines, "pred_saliency_scores", source)
    if has_saliency:
        for item in lines:
            scores = item["pred_saliency_scores"]
            if not isinstance(scores, list) or not scores or not all(map(is_number, scores)):
                raise ValueError(f"{source}: qid {item['qid']!r}: expected 'pred_saliency_scores' as a non-empty "
                                 f"list of numbers, found {str(scores)[:200]}")
    return has_saliency


# ---------------------------------------------------------------------------------------------------------
# moment retrieval


def interpolated_ap(precision, recall):
    """All-point interpolated AP (VOC 2011), as eval/utils.py's interpolated_precision_recall."""
    precision = np.hstack([[0], precision, [0]])
    recall = np.hstack([[0], recall, [1]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    changes = np.where(recall[1:] != recall[:-1])[0] + 1
    return np.sum((recall[changes] - recall[changes - 1]) * precision[changes])


def detection_ap(gt_windows, predictions, thresholds=MAP_IOUS):
    """AP of one query at each tIoU threshold. predictions: [start, end, score] in file order."""
    ap = np.zeros(len(thresholds))
    if not predictions:
        return ap
    predictions = sorted(predictions, key=lambda p: -p[2])  # stable, as list.sort in upstream
    gt = np.asarray(gt_windows, dtype=float)
    taken = np.full((len(thresholds), len(gt)), -1)
    tp = np.zeros((len(thresholds), len(predictions)))
    fp = np.zeros((len(thresholds), len(predictions)))
    for i, pred in enumerate(predictions):
        ious = segment_iou(pred[:2], gt)[0]
        by_iou = ious.argsort()[::-1]  # numpy's default sort, as upstream: decides ties between gt windows
        for t, threshold in enumerate(thresholds):
            for j in by_iou:
                if ious[j] < threshold:
                    fp[t, i] = 1
                    break
                if taken[t, j] >= 0:
                    continue
                tp[t, i] = 1
                taken[t, j] = i
                break
            if fp[t, i] == 0 and tp[t, i] == 0:
                fp[t, i] = 1
    tp_sum, fp_sum = np.cumsum(tp, axis=1).astype(float), np.cumsum(fp, axis=1).astype(float)
    recall, precision = tp_sum / float(len(gt)), tp_sum / (tp_sum + fp_sum)
    return np.array([interpolated_ap(precision[t], recall[t]) for t in range(len(thresholds))])


def mr_map(submission, ground_truth):
    """{"0.5": ..., "0.95": ..., "average": ...} in percent."""
    gt = {d["qid"]: d["relevant_windows"] for d in ground_truth}
    aps = np.array([detection_ap(gt.get(d["qid"], []), [w[:3] for w in d["pred_relevant_windows"][:MAP_MAX_WINDOWS]])
                    for d in submission])
    per_threshold = aps.mean(0)
    result = dict(zip([str(t) for t in MAP_IOUS], per_threshold))
    result["average"] = np.mean(per_threshold)
    return {k: percent(v) for k, v in result.items()}


def mr_r1(submission, ground_truth):
    """({"0.3": ..., "0.95": ...}, mIoU) in percent: the first predicted window vs its best ground truth."""
    first = {d["qid"]: d["pred_relevant_windows"][0][:2] for d in submission}
    best_gt = {}
    for d in ground_truth:
        windows = d["relevant_windows"]
        best_gt[d["qid"]] = windows[int(np.argmax(segment_iou(first[d["qid"]], windows)[0]))]
    qids = list(first)
    ious = paired_segment_iou([first[q] for q in qids], [best_gt[q] for q in qids])
    return {str(t): percent(np.mean(ious >= t)) for t in RECALL_IOUS}, percent(np.mean(ious))


def mr_r5(submission, ground_truth):
    """{"0.3": ..., "0.95": ...} in percent: the best (prediction, ground truth) pair among the first 5 windows."""
    top = {d["qid"]: [w[:2] for w in d["pred_relevant_windows"][:R5_WINDOWS]] for d in submission}
    pairs = {}
    for d in ground_truth:
        ious = segment_iou(top[d["qid"]], d["relevant_windows"])
        rows, cols = np.where(ious == np.max(ious))
        pairs[d["qid"]] = (top[d["qid"]][rows[0]], d["relevant_windows"][cols[0]])
    qids = list(top)
    ious = paired_segment_iou([pairs[q][0] for q in qids], [pairs[q][1] for q in qids])
    return {str(t): percent(np.mean(ious >= t)) for t in RECALL_IOUS}


def select_length_range(submission, ground_truth, length_range):
    """Queries with a ground-truth window of length in (lo, hi], keeping only those windows; the full sets
    when the range is (0, inf) or holds no query."""
    lo, hi = length_range
    if lo == 0 and hi == math.inf:
        return submission, ground_truth
    gt_in = []
    for d in ground_truth:
        windows = [w for w in d["relevant_windows"] if lo < w[1] - w[0] <= hi]
        if windows:
            gt_in.append(dict(d, relevant_windows=windows))
    qids = {d["qid"] for d in gt_in}
    sub_in = [d for d in submission if d["qid"] in qids]
    if not gt_in and not sub_in:
        return submission, ground_truth
    return sub_in, gt_in


def eval_moment_retrieval(submission, ground_truth):
    metrics = OrderedDict()
    for name, length_range in LENGTH_RANGES.items():
        sub, gt = select_length_range(submission, ground_truth, length_range)
        r1, miou = mr_r1(sub, gt)
        metrics[name] = {"MR-mIoU": miou, "MR-mAP": mr_map(sub, gt), "MR-R1": r1, "MR-R5": mr_r5(sub, gt)}
    return metrics


# ---------------------------------------------------------------------------------------------------------
# highlight detection


def clip_saliency(item):
    """(clips, 3) annotator scores of a ground-truth query, 0 outside relevant_clip_ids."""
    scores = np.zeros((int(item["duration"] / HL_CLIP_LENGTH), 3))
    scores[np.array(item["relevant_clip_ids"], dtype=int)] = np.array(item["saliency_scores"]).reshape(-1, 3)
    return scores


def precision_recall_curve(y_true, y_score):
    """sklearn.metrics.precision_recall_curve for 0/1 labels (thresholds at the distinct scores, ties together)."""
    order = np.argsort(y_score, kind="mergesort")[::-1]
    y_score, y_true = y_score[order], (y_true[order] == 1)
    thresholds = np.r_[np.where(np.diff(y_score))[0], y_true.size - 1]
    tps = np.cumsum(y_true * 1.0, dtype=np.float64)[thresholds]
    fps = 1 + thresholds - tps
    precision, recall = tps / (tps + fps), tps / tps[-1]
    return np.hstack((precision[::-1], 1)), np.hstack((recall[::-1], 0))


def highlight_ap(y_true, y_score):
    """eval/utils.py's get_ap (interpolated, all recall levels)."""
    if len(set(y_true)) == 1:
        return 0.0 if y_true[0] == 0 else 1.0
    precision, recall = precision_recall_curve(y_true, y_score)
    recall = recall.astype(np.float32)
    precision = np.maximum.accumulate(precision)
    return np.mean(precision[np.where(np.diff(recall))])


def fit_length(scores, length):
    """Predicted clip scores truncated or zero-padded to the video's clip count."""
    fitted = np.zeros(length)
    fitted[:min(length, len(scores))] = scores[:length]
    return fitted


def eval_highlight(submission, ground_truth):
    preds = {d["qid"]: np.asarray(d["pred_saliency_scores"], dtype=float) for d in submission}
    gt_scores = {d["qid"]: clip_saliency(d) for d in ground_truth}
    metrics = OrderedDict()
    for name, min_score in HL_MIN_SCORES.items():
        hits, aps = np.zeros((len(preds), 3)), np.zeros((len(preds), 3))
        for i, (qid, pred) in enumerate(preds.items()):
            positive = (gt_scores[qid] >= min_score).astype(float)
            top = np.argmax(pred)
            if top < len(positive):
                hits[i] = positive[top]
            for annotator in range(3):
                aps[i, annotator] = highlight_ap(positive[:, annotator], fit_length(pred, len(positive)))
        metrics[f"HL-min-{name}"] = {"HL-mAP": percent(np.mean(aps)), "HL-Hit1": percent(np.mean(np.max(hits, 1)))}
    return metrics


# ---------------------------------------------------------------------------------------------------------
# the whole submission


def match_queries(submission, ground_truth, match_number=True, source="submission"):
    """Both query sets must be equal (upstream's match_number); otherwise keep the shared queries."""
    pred_qids, gt_qids = {d["qid"] for d in submission}, {d["qid"] for d in ground_truth}
    if pred_qids == gt_qids:
        return submission, ground_truth
    if match_number:
        missing, unknown = sorted(gt_qids - pred_qids, key=str), sorted(pred_qids - gt_qids, key=str)
        raise ValueError(f"{source}: the queries of the submission ({len(pred_qids)}) and of the ground truth "
                         f"({len(gt_qids)}) differ: {len(missing)} without prediction (e.g. {missing[:3]}), "
                         f"{len(unknown)} not in the ground truth (e.g. {unknown[:3]}); score only the shared "
                         "ones with match_number=False (--allow-mismatched-queries)")
    shared = pred_qids & gt_qids
    if not shared:
        raise ValueError(f"{source}: no query of the submission is in the ground truth")
    return [d for d in submission if d["qid"] in shared], [d for d in ground_truth if d["qid"] in shared]


def eval_submission(submission, ground_truth, match_number=True, source="submission", gt_source="ground truth"):
    """{"brief": upstream's summary, "full"/"short"/...: per length range, "HL-min-*": per threshold}.
    `source` / `gt_source` name the two inputs (their files) in errors."""
    has_saliency = check_ground_truth(ground_truth, gt_source)
    has_pred_saliency = check_submission(submission, source)
    submission, ground_truth = match_queries(submission, ground_truth, match_number, source)
    mr = eval_moment_retrieval(submission, ground_truth)
    full = mr["full"]
    brief_mr = {
        "MR-full-mAP-key": full["MR-mAP"]["average"],
        "MR-full-mAP@0.5-key": full["MR-mAP"]["0.5"],
        "MR-full-mAP@0.75-key": full["MR-mAP"]["0.75"],
        "MR-short-mAP": mr["short"]["MR-mAP"]["average"],
        "MR-middle-mAP": mr["middle"]["MR-mAP"]["average"],
        "MR-long-mAP": mr["long"]["MR-mAP"]["average"],
        "MR-short-mIoU": mr["short"]["MR-mIoU"],
        "MR-middle-mIoU": mr["middle"]["MR-mIoU"],
        "MR-long-mIoU": mr["long"]["MR-mIoU"],
        "MR-full-mIoU-key": full["MR-mIoU"],
        **{f"MR-full-R1@{t}-key": full["MR-R1"][t] for t in ("0.3", "0.5", "0.7")},
        **{f"MR-full-R5@{t}-key": full["MR-R5"][t] for t in ("0.3", "0.5", "0.7")},
    }
    brief = OrderedDict(sorted(brief_mr.items()))
    details = dict(mr)
    if has_pred_saliency and has_saliency:
        hl = eval_highlight(submission, ground_truth)
        details.update(hl)
        for name, scores in hl.items():
            brief[f"{name}-mAP"], brief[f"{name}-Hit1"] = scores["HL-mAP"], scores["HL-Hit1"]
        brief["HL-min-VeryGood-mAP-key"] = brief.pop("HL-min-VeryGood-mAP")
        brief["HL-min-VeryGood-Hit1-key"] = brief.pop("HL-min-VeryGood-Hit1")
    return OrderedDict([("brief", brief)] + sorted(details.items()))


def has_labels(lines, source):
    """Whether metadata lines carry moment labels (QVHighlights' test release does not); all or none."""
    return all_or_none(lines, "relevant_windows", source)


@METRICS.register_module()
class MomentRetrievalMetric(BaseMetric):
    """Scores the model's per-query predictions on the data set's metadata jsonl with eval_submission and
    returns the `brief` dict (upstream's keys, percent). Writes the submission jsonl (qid, query, vid,
    pred_relevant_windows, pred_saliency_scores) into `out_dir` (the run's work dir, ResultsDirHook) as
    `submission_file`, default `<metadata stem>_submission.jsonl`; a split without labels (QVHighlights test)
    is only written, for the CodaLab server."""

    default_prefix = None

    def __init__(self, submission_file=None, match_number=True, **kwargs):
        super().__init__(**kwargs)
        self.submission_file, self.match_number, self.out_dir = submission_file, match_number, None

    def process(self, data_batch, data_samples):
        self.results.extend(data_samples)

    def compute_metrics(self, results):
        ann_file = self.dataset_meta["ann_file"]
        submission = [dict(qid=r["qid"], query=r["query"], vid=r["vid"],
                           pred_relevant_windows=r["pred_relevant_windows"],
                           pred_saliency_scores=r["pred_saliency_scores"]) for r in results]
        if self.out_dir is not None:
            name = self.submission_file or os.path.splitext(os.path.basename(ann_file))[0] + "_submission.jsonl"
            atomic_write_text(os.path.join(self.out_dir, name), "".join(json.dumps(d) + "\n" for d in submission))
        ground_truth = read_jsonl(ann_file)
        if not has_labels(ground_truth, ann_file):
            return {}
        return dict(eval_submission(submission, ground_truth, self.match_number, source="predictions",
                                    gt_source=ann_file)["brief"])
