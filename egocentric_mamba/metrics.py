"""The suite's egocentric evaluation: EK100 multi-instance retrieval (mAP, nDCG), EK100 action recognition
(action top-1 / top-5, mean class accuracy, marginalised verb / noun top-1) and zero-shot EgoSchema, as pure
functions over arrays and as engine metrics over the model's predictions.

EK100 MIR (AVION's evaluation_ek100mir.py, run by every zero-shot and fine-tuned evaluation):
- S = (V T^T + 1) / 2 over the clips of EPIC_100_retrieval_test.csv (V their video embeddings, T the text
  embeddings of their own narrations, both L2-normalised, computed in their own float precision); the column of
  each sentence of the sentence csv (in its order) is that of the first clip whose narration_id is the sentence's
  id. R = the relevancy matrix (clips x sentences). V2T ranks the row of each clip, T2V the column of each
  sentence (S^T, R^T); "avg" is the mean of the two.
- mAP: per query, items ranked by decreasing score; AP = sum over the ranks k of the items with relevancy
  exactly 1 of P(k) / (number of such items), where P(k) = (sum of the relevancies of the top k items) / k: the
  partial relevancies of the items above count towards the precision (upstream sums the ranked relevancy values,
  it does not count relevant items).
- nDCG: per query, k = its number of non-zero relevancies; DCG = sum over the first k ranked items of
  relevancy / log2(rank + 2) (rank from 0); IDCG the same over the relevancies sorted in decreasing order.
- Ties (equal scores in a query's row). Upstream orders mAP by NumPy's default (unstable) sort of -s and nDCG by
  the default ascending sort reversed; which of two tied items comes first there depends on NumPy's sort
  algorithm for the row length and the CPU (vectorised sorts on AVX-512 machines), so upstream has no defined
  value on ties. Here both sorts are stable: mAP ranks tied items in increasing column order, nDCG in decreasing
  column order (what upstream's two expressions give with a stable sort, and what NumPy's default gives on
  short rows without vectorised sorting). Without ties (real embeddings practically never tie) the values are
  upstream's, bit for bit. The same row can score differently in the two: scores (0.5, 0.5, 0.2) with relevancy
  (0, 1, 0) give AP 0.5 (item 1 ranked second) and nDCG 1 (item 1 ranked first). A model whose embeddings
  collapse scores all ties, and then the tie rule alone sets its numbers.
- A query with no item of relevancy 1 has no AP (upstream: NaN): it is an error, as are a relevancy matrix
  whose shape does not fit the csvs and sentence ids that name no clip. Reported in percent.

EK100 action recognition (main_lavila_finetune_cls.py's validate, one view): probabilities = softmax of the
logits, in float64 (upstream rounds the logits to fp16 first, which can create ties among near-equal scores);
action top-1 / top-5 as sklearn's top_k_accuracy_score over the labels 0..A-1 (ties: the higher class id
first); mean class accuracy from sklearn's confusion matrix of the argmax (ties: the lower id), whose classes
are those that occur as a label or a prediction: a predicted class that is never a label counts as a class
with accuracy 0 in the mean. Verb / noun top-1 by marginalisation: verb v scores the summed probability of the
actions whose verb is v, for v = 0 .. the largest verb id of the label map, then the argmax's accuracy; a verb
id that no action uses scores the probability of action 0 (upstream's get_marginal_indexes): never more than
action 0's own verb scores, so it matters only on a tie with it, which the lower id wins. Nouns alike. Percent.

EgoSchema: the answer is the option whose prompt embedding has the largest cosine with the video embedding
(computed in float64; the first such option on ties). Submissions: the Kaggle csv (`q_uid,answer`) and the
validation server's json ({q_uid: answer}); offline accuracy over subset_answers.json (all its questions must be
answered). A submission that answers a question the questions file does not hold is an error.
"""
import csv
import json
import os
from typing import Dict, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric

from common.checks import InputError, check_array, check_finite, check_labels
from common.engine import METRICS, atomic_write_text, commit_file
from common.engine.checkpoint import temporary_name
from .annotations import NUM_OPTIONS, ActionLabels, check_answer_values, read_ek100_segments, \
    read_egoschema_answers, read_relevancy, read_sentences, sentence_columns

ROW_CHUNK = 1024  # rows ranked at a time: bounds the temporaries on the 9,668 x 3,842 test matrix


def percent(value) -> float:
    return float(100 * value)


# ---------------------------------------------------------------------------------------------------------
# EK100 multi-instance retrieval


def mir_similarity(video_emb: np.ndarray, text_emb: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """(V T^T + 1) / 2 restricted to the sentence columns: clips x sentences."""
    return ((video_emb @ text_emb.T + 1) / 2)[:, columns]


def check_queries(relevancy: np.ndarray, source: str) -> None:
    """Every clip (row) and every sentence (column) needs an item of relevancy 1, or its AP is undefined."""
    for axis, what in ((1, "clip (row)"), (0, "sentence (column)")):
        lonely = np.flatnonzero(~(relevancy == 1).any(axis=axis))
        if lonely.size:
            raise InputError(f"{source}: {lonely.size} {what}s have no item of relevancy 1, so no average precision "
                             f"(indices {lonely[:5].tolist()})")


def mean_average_precision(scores: np.ndarray, relevancy: np.ndarray) -> float:
    """Mean over the rows (queries) of AVION's AP; tied scores ranked in increasing column order."""
    n = scores.shape[1]
    ap = []
    for lo in range(0, len(scores), ROW_CHUNK):
        s, r = scores[lo:lo + ROW_CHUNK], relevancy[lo:lo + ROW_CHUNK]
        ranked = np.take_along_axis(r, np.argsort(-s, axis=1, kind="stable"), axis=1)
        hits = ranked == 1
        precision = np.cumsum(ranked, axis=1) / (np.arange(n) + 1)
        ap.append(np.where(hits, precision, 0).sum(axis=1) / hits.sum(axis=1))
    return float(np.mean(np.concatenate(ap)))


def mean_ndcg(scores: np.ndarray, relevancy: np.ndarray) -> float:
    """Mean over the rows (queries) of AVION's nDCG; tied scores ranked in decreasing column order."""
    n = scores.shape[1]
    discounts = np.log2(np.arange(n) + 2)
    ndcg = []
    for lo in range(0, len(scores), ROW_CHUNK):
        s, r = scores[lo:lo + ROW_CHUNK], relevancy[lo:lo + ROW_CHUNK]
        first_k = np.arange(n) < (r > 0).sum(axis=1, keepdims=True)
        gains = np.take_along_axis(r, np.argsort(s, axis=1, kind="stable")[:, ::-1], axis=1)
        dcg = np.sum(gains * first_k / discounts, axis=1)
        idcg = np.sum(np.sort(r, axis=1)[:, ::-1] * first_k / discounts, axis=1)
        ndcg.append(dcg / idcg)
    return float(np.mean(np.concatenate(ndcg)))


def mir_metrics(similarity: np.ndarray, relevancy: np.ndarray, source: str = "relevancy matrix") -> Dict[str, float]:
    """similarity, relevancy: clips x sentences -> mAP / nDCG for V2T, T2V and their average, in percent."""
    check_finite(similarity, source, what="similarities")
    if similarity.shape != relevancy.shape:
        raise InputError(f"{source}: similarity matrix {similarity.shape} and relevancy matrix {relevancy.shape} "
                         "differ in shape")
    check_queries(relevancy, source)
    v2t, t2v = mean_average_precision(similarity, relevancy), mean_average_precision(similarity.T, relevancy.T)
    nv2t, nt2v = mean_ndcg(similarity, relevancy), mean_ndcg(similarity.T, relevancy.T)
    return {"mAP_V2T": percent(v2t), "mAP_T2V": percent(t2v), "mAP_avg": percent((v2t + t2v) / 2),
            "nDCG_V2T": percent(nv2t), "nDCG_T2V": percent(nt2v), "nDCG_avg": percent((nv2t + nt2v) / 2)}


class MIRGroundTruth:
    """The three files of an EK100 MIR split, read and checked against each other."""

    def __init__(self, clip_file: str, sentence_file: str, relevancy_file: str):
        self.clip_file, self.sentence_file, self.relevancy_file = clip_file, sentence_file, relevancy_file
        self.clip_ids = [s.narration_id for s in read_ek100_segments(clip_file)]
        self.sentence_ids, _ = read_sentences(sentence_file)
        self.columns = sentence_columns(self.clip_ids, self.sentence_ids, clip_file, sentence_file)
        self.relevancy = read_relevancy(relevancy_file, len(self.clip_ids), len(self.sentence_ids), clip_file,
                                        sentence_file)

    def order(self, narration_ids: Sequence[str], source: str) -> np.ndarray:
        """Positions that put rows given per narration_id into the clip csv's order (every clip exactly once)."""
        position = {nid: i for i, nid in enumerate(narration_ids)}
        if len(position) != len(narration_ids):
            raise InputError(f"{source}: a narration_id appears twice among the {len(narration_ids)} clips")
        missing = [c for c in self.clip_ids if c not in position]
        unknown = sorted(set(position) - set(self.clip_ids))
        if missing or unknown:
            raise InputError(f"{source}: the clips must be those of {self.clip_file}: {len(missing)} missing (e.g. "
                             f"{missing[:3]}), {len(unknown)} not in it (e.g. {unknown[:3]})")
        return np.array([position[c] for c in self.clip_ids])

    def score_embeddings(self, video_emb, text_emb, narration_ids, source: str) -> Dict[str, float]:
        rows = self.order(list(narration_ids), source)
        video_emb = check_array(np.asarray(video_emb), source, what="video embeddings", ndim=2)[rows]
        text_emb = check_array(np.asarray(text_emb), source, what="text embeddings", shape=video_emb.shape)[rows]
        return self.score(mir_similarity(video_emb, text_emb, self.columns), source)

    def score(self, similarity: np.ndarray, source: str) -> Dict[str, float]:
        similarity = check_array(np.asarray(similarity), source, what="similarity matrix", ndim=2)
        if similarity.shape != self.relevancy.shape:
            raise InputError(f"{source}: similarity matrix of shape {similarity.shape}, expected clips x sentences "
                             f"{self.relevancy.shape} ({self.clip_file}, {self.sentence_file})")
        return mir_metrics(similarity, self.relevancy, self.relevancy_file)


# ---------------------------------------------------------------------------------------------------------
# EK100 action recognition


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def top_k_accuracy(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    """sklearn's top_k_accuracy_score over the labels 0..C-1: ties put the higher class id first."""
    top = np.argsort(scores, axis=1, kind="mergesort")[:, ::-1][:, :k]
    return float((top == labels[:, None]).any(axis=1).mean())


def mean_class_accuracy(labels: np.ndarray, predictions: np.ndarray) -> float:
    """The suite's get_mean_accuracy on sklearn's confusion matrix: the mean over the classes that occur as a
    label or a prediction of (correct / labelled), 0 for a class never labelled."""
    classes = np.union1d(labels, predictions)
    correct = np.bincount(labels[labels == predictions], minlength=classes.max() + 1)[classes]
    labelled = np.bincount(labels, minlength=classes.max() + 1)[classes]
    return float(np.mean(np.divide(correct, labelled, out=np.zeros(len(classes)), where=labelled > 0)))


def marginal_indexes(of_action: np.ndarray) -> list:
    """For each verb (noun) id 0..max, the actions that have it; [0] for an id no action has (upstream's quirk)."""
    return [np.flatnonzero(of_action == v) if (of_action == v).any() else np.array([0])
            for v in range(int(of_action.max()) + 1)]


def marginalize(probs: np.ndarray, indexes: list) -> np.ndarray:
    return np.stack([probs[:, idx].sum(axis=1) for idx in indexes], axis=1)


def ek100_cls_metrics(logits: np.ndarray, labels: np.ndarray, actions: ActionLabels,
                      source: str = "predictions") -> Dict[str, float]:
    """logits (N, A), labels (N,) action ids -> the suite's numbers, in percent."""
    logits = check_array(np.asarray(logits, dtype=np.float64), source, what="logits", shape=(None, len(actions)),
                         min_rows=1)
    labels = check_labels(labels, len(actions), source, what="action label")
    if labels.shape != (len(logits),):
        raise InputError(f"{source}: {len(logits)} rows of logits but labels of shape {labels.shape}")
    probs = softmax(logits)
    verb_scores = marginalize(probs, marginal_indexes(actions.verbs))
    noun_scores = marginalize(probs, marginal_indexes(actions.nouns))
    return {"action_top1": percent(top_k_accuracy(probs, labels, 1)),
            "action_top5": percent(top_k_accuracy(probs, labels, 5)),
            "mean_class_acc": percent(mean_class_accuracy(labels, probs.argmax(axis=1))),
            "verb_top1": percent(np.mean(verb_scores.argmax(axis=1) == actions.verbs[labels])),
            "noun_top1": percent(np.mean(noun_scores.argmax(axis=1) == actions.nouns[labels]))}


# ---------------------------------------------------------------------------------------------------------
# EgoSchema


def egoschema_answers(video_emb: np.ndarray, text_emb: np.ndarray, source: str = "predictions") -> np.ndarray:
    """video_emb (N, D), text_emb (N, 5, D) -> the option with the largest cosine, per question."""
    video_emb = check_array(np.asarray(video_emb, dtype=np.float64), source, what="video embeddings", ndim=2)
    text_emb = check_array(np.asarray(text_emb, dtype=np.float64), source, what="option embeddings",
                           shape=(len(video_emb), NUM_OPTIONS, video_emb.shape[1]))
    video_emb = video_emb / np.linalg.norm(video_emb, axis=-1, keepdims=True)
    text_emb = text_emb / np.linalg.norm(text_emb, axis=-1, keepdims=True)
    cosine = check_finite(np.einsum("nd,nkd->nk", video_emb, text_emb), source, what="cosines (zero embeddings?)")
    return cosine.argmax(axis=1)


def write_submission(csv_path: str, json_path: str, q_uids: Sequence[str], answers: Sequence[int]) -> None:
    """The two formats EgoSchema accepts: Kaggle's csv (q_uid,answer) and the validation server's json."""
    rows = "".join(f"{q},{int(a)}\n" for q, a in zip(q_uids, answers))
    atomic_write_text(csv_path, "q_uid,answer\n" + rows)
    atomic_write_text(json_path, json.dumps({q: int(a) for q, a in zip(q_uids, answers)}))


def read_submission(path: str) -> Dict[str, int]:
    """A submission in either format (by extension: .csv or .json)."""
    if path.endswith(".json"):
        data = read_egoschema_answers(path)
    elif path.endswith(".csv"):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: EgoSchema submission not found")
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames != ["q_uid", "answer"]:
                raise InputError(f"{path}: expected the header q_uid,answer (Kaggle's format), found "
                                 f"{reader.fieldnames}")
            data = {}
            for line, row in enumerate(reader, start=2):
                if row["q_uid"] in data:
                    raise InputError(f"{path}:{line}: q_uid {row['q_uid']!r} appears twice")
                try:
                    data[row["q_uid"]] = int(row["answer"])
                except (TypeError, ValueError):
                    raise InputError(f"{path}:{line}: expected an option index, found {row['answer']!r}") from None
        if not data:
            raise InputError(f"{path}: no answers")
        check_answer_values(data, path)
    else:
        raise InputError(f"{path}: expected an EgoSchema submission as .csv (q_uid,answer) or .json "
                         "({q_uid: answer})")
    return data


def egoschema_accuracy(submission: Dict[str, int], answers: Dict[str, int], question_ids: Sequence[str],
                       source: str = "submission", answers_file: str = "answers") -> Dict[str, float]:
    """Accuracy (percent) over the questions of `answers` (subset_answers.json); every submitted q_uid must be a
    question of `question_ids`, every answered question of the subset must be submitted."""
    check_answer_values(submission, source)
    known = set(question_ids)
    unknown = sorted(set(submission) - known)
    if unknown:
        raise InputError(f"{source}: {len(unknown)} answer(s) for questions not in the questions file, e.g. "
                         f"{unknown[:3]}")
    outside = sorted(set(answers) - known)
    if outside:
        raise InputError(f"{answers_file}: {len(outside)} answer(s) for questions not in the questions file, e.g. "
                         f"{outside[:3]}")
    missing = sorted(set(answers) - set(submission))
    if missing:
        raise InputError(f"{source}: {len(missing)} question(s) of {answers_file} not answered, e.g. {missing[:3]}")
    correct = sum(int(submission[q]) == a for q, a in answers.items())
    return {"accuracy": percent(correct / len(answers)), "num_scored": float(len(answers))}


# ---------------------------------------------------------------------------------------------------------
# engine metrics


def _save_npz(path: str, **arrays) -> None:
    tmp = os.path.join(os.path.dirname(path), temporary_name(os.path.basename(path)))
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        commit_file(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _field(result: dict, key: str, metric: str):
    if key not in result:
        raise KeyError(f"{metric}: a prediction lacks {key!r} (found {sorted(result)}): the model's predict mode "
                       "must return the embeddings and copy data_samples['meta'][i] into prediction i")
    value = result[key]
    return value.detach().float().cpu().numpy() if hasattr(value, "detach") else value


@METRICS.register_module()
class EK100MIRMetric(BaseMetric):
    """Zero-shot / fine-tuned EK100 MIR on the data set's files (EK100MIRDataset.metainfo: ann_file,
    sentence_file, relevancy_file). Predictions: video_emb (D,), text_emb (D,), narration_id. Writes the
    embeddings (video_emb, text_emb, narration_ids; csv order) to out_dir/`embeddings_file`, which
    `python -m egocentric_mamba.evaluate mir --embeddings` scores to the same numbers."""

    default_prefix = None

    def __init__(self, embeddings_file: str = "ek100_mir_embeddings.npz", **kwargs):
        super().__init__(**kwargs)
        self.embeddings_file, self.out_dir, self.ground_truth = embeddings_file, None, None

    def process(self, data_batch, data_samples):
        for r in data_samples:
            self.results.append({k: _field(r, k, type(self).__name__)
                                 for k in ("video_emb", "text_emb", "narration_id")})

    def compute_metrics(self, results):
        meta = self.dataset_meta
        if not meta.get("relevancy_file"):
            raise ValueError(f"{meta['ann_file']}: the MIR evaluation data set needs relevancy_file (the test "
                             "relevancy pickle)")
        key = (meta["ann_file"], meta["sentence_file"], meta["relevancy_file"])
        if self.ground_truth is None or self.ground_truth[0] != key:
            self.ground_truth = key, MIRGroundTruth(*key)
        truth = self.ground_truth[1]
        ids = [r["narration_id"] for r in results]
        rows = truth.order(ids, "predictions")
        video = np.stack([r["video_emb"] for r in results])[rows]
        text = np.stack([r["text_emb"] for r in results])[rows]
        if self.out_dir is not None:
            _save_npz(os.path.join(self.out_dir, self.embeddings_file), video_emb=video, text_emb=text,
                      narration_ids=np.array(truth.clip_ids))
        return truth.score_embeddings(video, text, truth.clip_ids, "predictions")


@METRICS.register_module()
class EK100ActionMetric(BaseMetric):
    """EK100 action recognition over the data set's label map (EK100ActionDataset.metainfo['actions']).
    Predictions: logits (A,), label, narration_id. Writes out_dir/`logits_file` (logits, labels, narration_ids,
    actions), which `python -m egocentric_mamba.evaluate cls` scores to the same numbers."""

    default_prefix = None

    def __init__(self, logits_file: str = "ek100_cls_logits.npz", **kwargs):
        super().__init__(**kwargs)
        self.logits_file, self.out_dir = logits_file, None

    def process(self, data_batch, data_samples):
        for r in data_samples:
            self.results.append({k: _field(r, k, type(self).__name__) for k in ("logits", "label", "narration_id")})

    def compute_metrics(self, results):
        actions = ActionLabels(self.dataset_meta["actions"])
        logits = np.stack([r["logits"] for r in results]).astype(np.float32)
        labels = np.array([int(r["label"]) for r in results])
        if self.out_dir is not None:
            _save_npz(os.path.join(self.out_dir, self.logits_file), logits=logits, labels=labels,
                      narration_ids=np.array([r["narration_id"] for r in results]), actions=np.array(actions.names))
        return ek100_cls_metrics(logits, labels, actions)


@METRICS.register_module()
class EgoSchemaMetric(BaseMetric):
    """Zero-shot EgoSchema. Predictions: video_emb (D,), text_emb (5, D), q_uid. Writes the submission in both
    formats to out_dir (`submission_file`.csv / .json); with `answers_file` (subset_answers.json) also returns
    the offline accuracy over its questions, else only the number of questions answered."""

    default_prefix = None

    def __init__(self, answers_file: Optional[str] = None, submission_file: str = "egoschema_submission", **kwargs):
        super().__init__(**kwargs)
        self.answers_file, self.submission_file, self.out_dir = answers_file, submission_file, None

    def process(self, data_batch, data_samples):
        for r in data_samples:
            self.results.append({k: _field(r, k, type(self).__name__) for k in ("video_emb", "text_emb", "q_uid")})

    def compute_metrics(self, results):
        q_uids = [r["q_uid"] for r in results]
        answers = egoschema_answers(np.stack([r["video_emb"] for r in results]),
                                    np.stack([r["text_emb"] for r in results]))
        if len(set(q_uids)) != len(q_uids):
            raise InputError(f"predictions: a question appears twice among the {len(q_uids)} answered")
        if self.out_dir is not None:
            stem = os.path.join(self.out_dir, self.submission_file)
            write_submission(stem + ".csv", stem + ".json", q_uids, answers)
        if self.answers_file is None:
            return {"num_answered": float(len(q_uids))}
        return egoschema_accuracy(dict(zip(q_uids, answers.tolist())), read_egoschema_answers(self.answers_file),
                                  self.dataset_meta["q_uids"], "predictions", self.answers_file)
