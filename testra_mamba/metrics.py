"""EK100 action anticipation as RULSTM evaluates it: class-mean top-5 recall, pure functions (used by
`python -m testra_mamba.evaluate`) and the mmengine metric that writes the score file and scores it.

Protocol (RULSTM's main.py / utils.py on EK100, 1 s anticipation, as TeSTra reports it):
- top 5 of a row: `scores.argsort()[:, ::-1][:, :5]`. Where scores tie across the 5th place RULSTM's order
  depends on NumPy's sort kernel (quicksort is not stable, its SIMD kernels differ between CPUs); here it is
  fixed to the stable order, i.e. the higher class index ranks first among equal scores, which is what RULSTM
  gives whenever the sort keeps ties in order (always for constant rows such as the zero rows below).
- recall of class c: the fraction of the subset's segments labelled c with c in their top 5; the class-mean is
  over the classes present among the subset's labels, summed in class order and divided by their number.
- segments: every validation segment; those with nothing observed 1 s before their start get zero scores
  (RULSTM's and TeSTra's "discarded" segments count, with zero scores).
- subsets: overall; unseen = ids in validation_unseen_participants_ids.csv; tail verbs / nouns / actions =
  ids in validation_tail_{verbs,nouns,actions}_ids.csv, each scored for its own task only.
Score file (.npz): ids (N,) strings, verb_scores (N, V), noun_scores (N, N), action_scores (N, A).
"""
import json
import os

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from common.checks import InputError, check_array
from common.engine import METRICS, atomic_write_text, commit_file
from common.engine.checkpoint import temporary_name
from common.io import load_array
from .datasets import SUBSETS, EK100Annotations

TASKS = ("verb", "noun", "action")
KEYS = tuple(f"{subset}_{task}" for subset in ("overall", "unseen", "tail") for task in TASKS)
TOP_K = 5


def top_k(scores, k=TOP_K):
    """(N, C) -> (N, k) class indices, best first (RULSTM's reversed ascending argsort, ties stable)."""
    return np.argsort(scores, axis=1, kind="stable")[:, ::-1][:, :k]


def class_mean_recall(scores, labels, k=TOP_K):
    """RULSTM's topk_recall in percent: mean over the classes present in `labels` of their top-k recall."""
    if len(labels) == 0:
        raise ValueError("class-mean recall of an empty subset")
    hits = (top_k(scores, k) == labels[:, None]).any(1)
    classes = np.unique(labels)
    total = 0.0
    for c in classes:
        total += hits[labels == c].mean()
    return float(total / len(classes) * 100)


def anticipation_recalls(scores, labels, ids, subsets):
    """The nine numbers. scores: {task: (N, classes)}; labels: {task: (N,)}; ids (N,); subsets: {name: set of
    ids} for SUBSETS. Returns {overall_verb, ..., tail_action} in percent."""
    ids = np.asarray(ids)
    unseen = np.isin(ids, list(subsets["unseen_participants"]))
    out = {}
    for task in TASKS:
        tail = np.isin(ids, list(subsets[f"tail_{task}s"]))
        for subset, rows in (("overall", slice(None)), ("unseen", unseen), ("tail", tail)):
            out[f"{subset}_{task}"] = class_mean_recall(scores[task][rows], labels[task][rows])
    return {k: out[k] for k in KEYS}


def chance_recall(num_classes, k=TOP_K):
    """Expected class-mean top-k recall of a random ranking, in percent."""
    return 100.0 * min(k, num_classes) / num_classes


def load_scores(path, ann: EK100Annotations, split="validation"):
    """Read and check a score file against the split: {task: (N, classes) in the split's segment order}.

    Every segment of the split needs exactly one row; unknown or repeated ids, wrong widths and non-finite
    scores are errors."""
    ids = load_array(path, key="ids", what="score file")
    if ids.ndim != 1 or ids.dtype.kind not in "US":
        raise InputError(f"{path}: ids must be a 1-D string array, found {ids.dtype} {ids.shape}")
    ids = ids.astype(str)
    classes = ann.classes
    widths = dict(verb=classes.num_verbs, noun=classes.num_nouns, action=classes.num_actions)
    arrays = {t: check_array(load_array(path, key=f"{t}_scores", what="score file"), path,
                             shape=(len(ids), widths[t]), what=f"{t}_scores (ids x {t} classes in {classes.path})")
              for t in TASKS}
    row = {}
    for i, seg_id in enumerate(ids):
        if seg_id in row:
            raise InputError(f"{path}: id {seg_id!r} appears more than once")
        row[seg_id] = i
    segments = ann.segments(split)
    known = {s.id for s in segments}
    unknown = [i for i in row if i not in known]
    if unknown:
        raise InputError(f"{path}: {len(unknown)} ids are not {split} segments, e.g. {unknown[0]!r}")
    absent = [s.id for s in segments if s.id not in row]
    if absent:
        raise InputError(f"{path}: {len(absent)} {split} segments have no scores, e.g. {absent[0]!r}")
    order = np.array([row[s.id] for s in segments])
    return {t: a[order] for t, a in arrays.items()}


def evaluate_scores(scores, ann: EK100Annotations):
    """The nine recalls of validation scores (as load_scores returns them)."""
    segments = ann.segments("validation")
    labels = {t: np.array([getattr(s, t) for s in segments]) for t in TASKS}
    subsets = {name: ann.subset_ids(name) for name in SUBSETS}
    return anticipation_recalls(scores, labels, [s.id for s in segments], subsets)


def challenge_json(ids, scores, classes, top_actions=100):
    """The EPIC-Kitchens action-anticipation submission, as RULSTM's predictions_to_json writes it for EK100:
    every verb and noun score, the top 100 actions keyed "verb,noun"."""
    results = {}
    top = np.argsort(scores["action"], axis=1, kind="stable")[:, ::-1][:, :top_actions]
    for i, seg_id in enumerate(ids):
        results[str(seg_id)] = dict(
            verb={str(c): float(v) for c, v in enumerate(scores["verb"][i])},
            noun={str(c): float(v) for c, v in enumerate(scores["noun"][i])},
            action={f"{classes.verb_of[a]},{classes.noun_of[a]}": float(scores["action"][i, a]) for a in top[i]})
    return dict(version="0.2", challenge="action_anticipation", sls_pt=1, sls_tl=4, sls_td=3, results=results)


def save_npz(path, **arrays):
    """Atomically write an .npz (a temporary file in the same folder, then renamed)."""
    tmp = os.path.join(os.path.dirname(path), temporary_name(os.path.basename(path)))
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    commit_file(tmp, path)


@METRICS.register_module()
class AnticipationRecall(BaseMetric):
    """Assembles the model's per-segment probabilities into RULSTM's score file (`scores_file`, in `out_dir`,
    which ResultsDirHook points at the work dir), optionally the challenge json, and the anticipation tracks
    of the data set's track videos (`tracks_file`, for plots); returns the nine recalls (labelled splits)."""

    def __init__(self, scores_file="anticipation_scores.npz", challenge_file=None, tracks_file="tracks.npz",
                 **kwargs):
        super().__init__(**kwargs)
        self.scores_file, self.challenge_file, self.tracks_file = scores_file, challenge_file, tracks_file
        self.out_dir = None

    def process(self, data_batch, data_samples):
        for out in data_samples:
            result = {k: out[k] for k in ("video", "segment_ids", "discarded", *TASKS)}
            if len(out["track_ends"]):
                probs, labels = out["track_action"], np.asarray(out["track_labels"])
                rows = np.arange(len(labels))
                result["track"] = dict(ends=np.asarray(out["track_ends"]), labels=labels,
                                       top=top_k(probs), top_scores=np.take_along_axis(probs, top_k(probs), 1),
                                       label_scores=np.where(labels >= 0, probs[rows, labels.clip(0)], np.nan))
            self.results.append(result)

    def compute_metrics(self, results):
        meta = self.dataset_meta
        ann, split = EK100Annotations(meta["annotations"]), meta["split"]
        widths = dict(verb=meta["num_verbs"], noun=meta["num_nouns"], action=meta["num_actions"])
        rows = {}
        for r in results:
            for i, seg_id in enumerate(r["segment_ids"]):
                rows[seg_id] = {t: r[t][i] for t in TASKS}
            rows.update({seg_id: {t: np.zeros(widths[t], np.float32) for t in TASKS} for seg_id in r["discarded"]})
        ids = [s.id for s in ann.segments(split)]
        absent = [i for i in ids if i not in rows]
        if absent:
            raise ValueError(f"{len(absent)} {split} segments got no prediction, e.g. {absent[0]!r}")
        scores = {t: np.stack([rows[i][t] for i in ids]).astype(np.float32) for t in TASKS}
        for t, s in scores.items():  # a non-finite probability would rank as any class: never scored or written
            check_array(s, "the model's predictions", shape=(len(ids), widths[t]), what=f"{t} probabilities")
        if self.out_dir is not None:
            save_npz(os.path.join(self.out_dir, self.scores_file), ids=np.array(ids),
                     **{f"{t}_scores": s for t, s in scores.items()})
            if self.challenge_file:
                atomic_write_text(os.path.join(self.out_dir, self.challenge_file),
                                  json.dumps(challenge_json(ids, scores, ann.classes)))
            tracks = {f"{r['video']}/{k}": v for r in results if "track" in r for k, v in r["track"].items()}
            if tracks:
                save_npz(os.path.join(self.out_dir, self.tracks_file), **tracks)
        if split != "validation":  # the challenge's test split has no labels; only validation has the subsets
            return {}
        MMLogger.get_current_instance().info(
            f"chance level (random ranking) of the class-mean top-{TOP_K} recall: "
            + ", ".join(f"{t} {chance_recall(widths[t]):.2f}%" for t in TASKS))
        return evaluate_scores(scores, ann)
