"""PDVC's evaluation (eval_utils.eval_metrics over densevid_eval3), with every language metric on as the
suite's copy runs it: pure functions for `python -m pdvc_mamba.evaluate`, and `DenseCaptioningMetric`,
the engine metric that writes PDVC's results json and scores it with the same functions.

Protocol, in the order eval_metrics runs it (fractions, not percent):
1. Joint ranking (eval_utils.reranking): per video, joint = alpha * sentence_score / (words^2 + 1e-5)
   + proposal_score; keep the pred_event_count best, sort them by timestamp.
2. Dense captioning (evaluate2018, verbose): per tIoU in (0.3, 0.5, 0.7, 0.9), each prediction (first
   1000 per video) is paired with every reference event, of either reference file, with IoU >= tIoU; a
   prediction without one is paired with 'abc123!@#'. Per reference video its pairs are scored as one
   corpus (PTB-tokenised; BLEU 1-4, METEOR, ROUGE-L, CIDEr-D with that video's IDF); videos without
   predictions score 0; the mean over reference videos, then over tIoUs. Recall / Precision: the
   fraction of reference / predicted events with IoU > tIoU, the better reference file per video.
3. SODA_c (fujiso/SODA): per reference file, for each predicted video, events and predictions sorted by
   start; IoU x METEOR matrix (METEOR with the prediction as reference and the gold sentence as
   hypothesis); the best order-preserving assignment by dynamic programming; F1 of precision and recall;
   the mean over videos, then over reference files.
4. Paragraphs (para_evaluate): a video's sentences joined with '. ' in results order, letters only,
   lower-cased; BLEU 1-4, METEOR, ROUGE-L, CIDEr-D against every reference paragraph of the video.

Bit-for-bit details kept on purpose: each tokenizer batch holds exactly the sentences upstream tokenises
together (the PTB lexer reads across line ends, so a line's tokens can depend on the next line; all
batches still go through one JVM, `-ioFileList`); videos are visited in upstream's set-iteration order
(built by the same set operations), so the float sums and batches agree. That order depends on
PYTHONHASHSEED, in upstream as here: two processes agree to the last bit under the same seed. IoUs are
common.segments.segment_iou with upstream's eps (1e-8): bit-identical to evaluate2018's and SODA's, whose
orders of summing the two lengths matter only where that sum is the union, i.e. for disjoint segments.

Unlike upstream, what would give no score or a wrong one is an error naming the file: no predicted
video, an empty prediction list (upstream's SODA and precision crash on it), a reference file holding
none of the predicted videos (upstream's SODA_c is then NaN), a reversed predicted segment, a prediction
outside its video's duration (beyond datasets.TIMESTAMP_TOLERANCE), and captions with line-breaking
control characters (they would shift every later line of the tokenizer's output).
"""
import importlib.util
import json
import math
import os
import re
import shutil
import subprocess
import tempfile

import numpy as np
from mmengine.dist import is_main_process
from mmengine.evaluator import BaseMetric

from common.checks import InputError, check_segments
from common.engine import METRICS, atomic_write_text
from common.io import load_json
from common.segments import segment_iou
from .datasets import TIMESTAMP_TOLERANCE, Vocabulary, load_captions

TIOUS = (0.3, 0.5, 0.7, 0.9)
GARBAGE_SENTENCE = "abc123!@#"
RERANK_TEMPERATURE = 2.0
LANGUAGE_METRICS = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr")
JAVA_HELP = ("pycocoevalcap's PTB tokenizer and METEOR 1.5 are Java programs, and no `java` is on PATH: install "
             "a Java runtime (e.g. `apt-get install openjdk-17-jre-headless`, or conda's openjdk) and retry")
LINE_BREAKS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
IOU_EPS = 1e-8  # evaluate2018 and SODA add it to the union


def remove_nonascii(text):
    return "".join(c if ord(c) < 128 else " " for c in text)


# ---------------------------------------------------------------------------------------------------------
# inputs


def _number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def validate_predictions(submission, source, for_rerank=False):
    """A PDVC results json ({"results": {video_id: [{"timestamp": [s, e], "sentence": str, ...}]}}) -> results."""
    results = submission.get("results") if isinstance(submission, dict) else None
    if not isinstance(results, dict):
        raise InputError(f"{source}: expected {{'results': {{video_id: [{{'timestamp': [s, e], 'sentence': ...}}]}}}}")
    if not results:
        raise InputError(f"{source}: 'results' holds no video: nothing to score")
    for vid, entries in results.items():
        if not isinstance(entries, list) or not entries:
            raise InputError(f"{source}: video {vid!r}: expected a non-empty list of predictions")
        for i, p in enumerate(entries):
            where = f"{source}: video {vid!r} prediction {i}"
            stamp = p.get("timestamp") if isinstance(p, dict) else None
            if not (isinstance(stamp, list) and len(stamp) == 2 and all(_number(t) for t in stamp)):
                raise InputError(f"{where}: expected 'timestamp': [start, end] in seconds, found {stamp!r}")
            if not isinstance(p.get("sentence"), str):
                raise InputError(f"{where}: expected a string 'sentence'")
            if LINE_BREAKS.search(p["sentence"]):
                raise InputError(f"{where}: the sentence holds a control character, which would break the "
                                 "tokenizer's line alignment")
            if for_rerank:
                if not (_number(p.get("proposal_score")) and _number(p.get("sentence_score"))):
                    raise InputError(f"{where}: joint ranking needs numeric 'proposal_score' and 'sentence_score'")
                count = p.get("pred_event_count")
                if not (isinstance(count, int) and count >= 1):
                    raise InputError(f"{where}: joint ranking needs 'pred_event_count' >= 1, found {count!r}")
        check_segments([p["timestamp"] for p in entries], source, f"video {vid!r}", what="prediction")
    return results


class ReferenceFile(dict):
    """One reference caption json: {video_id: {"duration", "timestamps", "sentences"}}, and its `path`."""

    def __init__(self, path, videos):
        super().__init__(videos)
        self.path = path


def load_references(paths):
    """Reference caption jsons (val_1, val_2, ...) -> [ReferenceFile], file order."""
    refs = []
    for path in paths:
        videos = load_captions(path)
        for vid, video in videos.items():
            if any(LINE_BREAKS.search(s) for s in video["sentences"]):
                raise InputError(f"{path}: video {vid!r}: a sentence holds a control character")
        refs.append(ReferenceFile(path, {vid: dict(duration=v["duration"], timestamps=v["timestamps"],
                                                   sentences=v["sentences"]) for vid, v in videos.items()}))
    return refs


def check_against_references(results, references, source):
    """Predictions that can be scored: every reference file holds some predicted video (else its SODA_c is
    the mean of nothing, NaN), and each prediction of a video lies inside the video's duration (within
    TIMESTAMP_TOLERANCE; PDVC clamps its own predictions to it)."""
    durations = {}
    for i, ref in enumerate(references):
        if not any(vid in ref for vid in results):
            name = getattr(ref, "path", f"reference {i + 1} of {len(references)}")
            raise InputError(f"{source}: none of its {len(results)} videos (e.g. {next(iter(results))!r}) is in "
                             f"{name}: nothing to score")
        for vid, video in ref.items():
            durations[vid] = max(durations.get(vid, 0.0), video["duration"])
    for vid, entries in results.items():
        if vid in durations:
            check_segments([p["timestamp"] for p in entries], source, f"video {vid!r}", duration=durations[vid],
                           tolerance=TIMESTAMP_TOLERANCE, what="prediction")


def load_paragraphs(paths):
    """Paragraph reference jsons ({video_id: paragraph}) -> list of dicts, file order."""
    paragraphs = []
    for path in paths:
        data = load_json(path, "paragraph reference file")
        if not isinstance(data, dict) or not data or not all(isinstance(p, str) for p in data.values()):
            raise InputError(f"{path}: expected a non-empty object {{video_id: paragraph string}}")
        paragraphs.append(data)
    return paragraphs


# ---------------------------------------------------------------------------------------------------------
# pycocoevalcap


def _jar(module, name):
    spec = importlib.util.find_spec(f"pycocoevalcap.{module}")
    if spec is None:
        raise ImportError("pycocoevalcap is not installed: `pip install pycocoevalcap==1.2`")
    return os.path.join(os.path.dirname(spec.origin), name)


class CocoScorers:
    """pycocoevalcap's BLEU, METEOR, ROUGE-L, CIDEr-D and the PTB tokenizer; every tokenizer batch of an
    evaluation goes through one Java run. Its METEOR process (Java) takes seconds to load: `shared_scorers()`
    keeps one per Python process."""

    def __init__(self):
        if shutil.which("java") is None:
            raise RuntimeError(JAVA_HELP)
        from pycocoevalcap.bleu.bleu import Bleu
        from pycocoevalcap.cider.cider import Cider
        from pycocoevalcap.meteor.meteor import Meteor
        from pycocoevalcap.rouge.rouge import Rouge
        from pycocoevalcap.tokenizer.ptbtokenizer import PUNCTUATIONS
        self.punctuations = set(PUNCTUATIONS)
        self.tokenizer_jar = _jar("tokenizer.ptbtokenizer", "stanford-corenlp-3.4.1.jar")
        self.bleu, self.rouge, self.cider = Bleu(4), Rouge(), Cider()
        self.meteor = Meteor()

    def scorers(self):
        """(scorer, names) in evaluate2018's verbose order."""
        return [(self.bleu, ["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4"]), (self.meteor, "METEOR"),
                (self.rouge, "ROUGE_L"), (self.cider, "CIDEr")]

    def compute(self, scorer, gts, res):
        if scorer is self.bleu:  # upstream's default verbose=1 only prints
            return scorer.compute_score(gts, res, verbose=0)
        return scorer.compute_score(gts, res)

    def tokenize(self, batches):
        """PTBTokenizer.tokenize of each batch (a list of captions), all in one Java run: -ioFileList tokenises
        every file on its own, exactly as one pycocoevalcap call per batch. Returns a list of lists."""
        out = [[] for _ in batches]
        todo = [i for i, b in enumerate(batches) if b]
        if not todo:
            return out
        with tempfile.TemporaryDirectory() as tmp:
            pairs = []
            for i in todo:
                src, dst = os.path.join(tmp, f"{i}.txt"), os.path.join(tmp, f"{i}.tok")
                with open(src, "wb") as f:
                    f.write("\n".join(c.replace("\n", " ") for c in batches[i]).encode())
                pairs.append(f"{src}\t{dst}")
            listing = os.path.join(tmp, "files.txt")
            with open(listing, "w") as f:
                f.write("\n".join(pairs) + "\n")
            subprocess.run(["java", "-cp", self.tokenizer_jar, "edu.stanford.nlp.process.PTBTokenizer",
                            "-preserveLines", "-lowerCase", "-ioFileList", listing],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            for i in todo:
                with open(os.path.join(tmp, f"{i}.tok"), "rb") as f:
                    lines = f.read().decode().split("\n")
                if len(lines) < len(batches[i]):
                    raise RuntimeError(f"the PTB tokenizer returned {len(lines)} lines for {len(batches[i])} captions")
                out[i] = [" ".join(w for w in line.rstrip().split(" ") if w not in self.punctuations)
                          for line in lines[:len(batches[i])]]
        return out


_shared = None


def shared_scorers():
    """The process's CocoScorers, started on first use. METEOR answers each request on its own, so one
    process serves every evaluation (upstream starts one per evaluation, seconds each)."""
    global _shared
    if _shared is None:
        _shared = CocoScorers()
    return _shared


# ---------------------------------------------------------------------------------------------------------
# protocol


def rerank(results, alpha, temperature=RERANK_TEMPERATURE):
    """eval_utils.reranking: each video's pred_event_count best predictions by joint score, in time order."""
    ranked = {}
    for vid, entries in results.items():
        sent = [p["sentence_score"] / (float(len(p["sentence"].split())) ** temperature + 1e-5) for p in entries]
        joint = alpha * np.array(sent) + np.array([p["proposal_score"] for p in entries])
        entries = [dict(p, joint_score=float(j)) for p, j in zip(entries, joint)]
        entries = sorted(entries, key=lambda x: x["joint_score"], reverse=True)
        ranked[vid] = sorted(entries[:entries[0]["pred_event_count"]], key=lambda x: x["timestamp"])
    return ranked


def union_ids(dicts):
    """list(set of every key), built as upstream builds it (its iteration order decides sums and batches)."""
    ids = set([])
    for d in dicts:
        ids |= set(d.keys())
    return list(ids)


class DenseEval:
    """evaluate2018.ANETcaptions with verbose=True (all scorers): requests its tokenizer batches on creation."""

    def __init__(self, results, references, tious=TIOUS, max_proposals=1000):
        self.refs, self.tious = references, tious
        self.preds = {vid: entries[:max_proposals] for vid, entries in results.items()}
        self.vids = union_ids(references)
        # per video, per reference file holding it: tIoU (predictions x reference events)
        self.ious = {vid: [segment_iou([p["timestamp"] for p in self.preds[vid]], ref[vid]["timestamps"], IOU_EPS)
                           if vid in ref else None for ref in references] for vid in self.vids if vid in self.preds}
        self.pairs = [self._pairs(tiou) for tiou in tious]  # per tIoU: (vid -> pair ids, res lines, gts lines)

    def _pairs(self, tiou):
        vid2ids, res, gts = {}, [], []
        for vid in self.vids:
            vid2ids[vid] = []
            for p, pred in enumerate(self.preds.get(vid, [])):
                added = False
                for ref, iou in zip(self.refs, self.ious.get(vid, ())):
                    if iou is None:
                        continue
                    for g, sentence in enumerate(ref[vid]["sentences"]):
                        if iou[p, g] >= tiou:
                            vid2ids[vid].append(len(res))
                            res.append(remove_nonascii(pred["sentence"]))
                            gts.append(remove_nonascii(sentence))
                            added = True
                if not added:
                    vid2ids[vid].append(len(res))
                    res.append(remove_nonascii(pred["sentence"]))
                    gts.append(GARBAGE_SENTENCE)
        return vid2ids, res, gts

    def batches(self):
        return [lines for _, res, gts in self.pairs for lines in (res, gts)]

    def language(self, tokenized, scorers):
        """{metric: [score per tIoU]} from the tokenized batches (in `batches()` order)."""
        out = {}
        for t, (vid2ids, _, _) in enumerate(self.pairs):
            tok_res, tok_gts = tokenized[2 * t], tokenized[2 * t + 1]
            for scorer, names in scorers.scorers():
                per_video = {}
                for vid in self.vids:
                    ids = vid2ids[vid]
                    if not ids:
                        per_video[vid] = [0] * len(names) if isinstance(names, list) else 0
                        continue
                    gts = {i: [tok_gts[i]] for i in ids}
                    res = {i: [tok_res[i]] for i in ids}
                    per_video[vid] = scorers.compute(scorer, gts, res)[0]
                if isinstance(names, list):
                    means = np.mean(list(per_video.values()), axis=0)
                    for m, name in enumerate(names):
                        out.setdefault(name, []).append(means[m])
                else:
                    out.setdefault(names, []).append(np.mean(list(per_video.values())))
        return out

    def detection(self):
        """{'Recall': [per tIoU], 'Precision': [per tIoU]}."""
        recalls, precisions = [], []
        for tiou in self.tious:
            recall, precision = [0] * len(self.vids), [0] * len(self.vids)
            for v, vid in enumerate(self.vids):
                best_recall = best_precision = 0
                for r, ref in enumerate(self.refs):
                    if vid not in ref:
                        continue
                    covered_refs = 0
                    if vid in self.preds:
                        hits = self.ious[vid][r] > tiou
                        covered_refs = int(hits.any(0).sum())
                        best_precision = max(best_precision, float(hits.any(1).sum()) / len(self.preds[vid]))
                    best_recall = max(best_recall, float(covered_refs) / len(ref[vid]["timestamps"]))
                recall[v], precision[v] = best_recall, best_precision
            recalls.append(sum(recall) / len(recall))
            precisions.append(sum(precision) / len(precision))
        return dict(Recall=recalls, Precision=precisions)


def soda_dp(scores):
    """SODA's chased_dp_assignment score: the best order-preserving matching of rows to columns."""
    rows, cols = scores.shape
    dp = np.zeros((rows, cols))
    for i in range(rows):
        for j in range(cols):
            if i == 0 and j == 0:
                state = [-1, -1, scores[i, j]]
            elif i == 0:
                state = [-1, dp[i, j - 1], scores[i, j]]
            elif j == 0:
                state = [dp[i - 1, j], -1, scores[i, j]]
            else:
                state = [dp[i - 1, j], dp[i, j - 1], dp[i - 1, j - 1] + scores[i, j]]
            dp[i, j] = np.max(state)
    return dp[rows - 1, cols - 1]


class SodaEval:
    """SODA-c with METEOR against one reference file (eval_soda.eval_tool, multi_reference=False)."""

    def __init__(self, results, reference):
        gt_vids = set()
        gt_vids.update(reference.keys())
        self.gold = {}
        for vid in gt_vids:
            stamps, sentences = zip(*sorted(zip(reference[vid]["timestamps"], reference[vid]["sentences"]),
                                            key=lambda x: x[0][0]))
            self.gold[vid] = (stamps, sentences)
        preds = {vid: sorted(entries, key=lambda x: x["timestamp"][0]) for vid, entries in results.items()}
        self.vids = list(set(gt_vids) & set(preds.keys()))
        self.pred_stamps = [[p["timestamp"] for p in preds[vid]] for vid in self.vids]
        self.pred_lines = [remove_nonascii(p["sentence"]) for vid in self.vids for p in preds[vid]]
        self.gold_lines = [remove_nonascii(s) for vid in self.vids for s in self.gold[vid][1]]

    def batches(self):
        return [self.pred_lines, self.gold_lines]

    def score(self, tokenized, scorers):
        """Mean (precision, recall, F1) over the predicted videos."""
        tok_preds, tok_gold = iter(tokenized[0]), iter(tokenized[1])
        p_best, r_best, f_best = [], [], []
        for vid, stamps in zip(self.vids, self.pred_stamps):
            preds = [[next(tok_preds)] for _ in stamps]
            golds = [[next(tok_gold)] for _ in self.gold[vid][0]]
            overlap = segment_iou(self.gold[vid][0], stamps, IOU_EPS)
            res = dict(enumerate(preds))
            meteor = np.array([scorers.meteor.compute_score(res, {i: g for i in range(len(preds))})[1]
                               for g in golds])
            best = soda_dp(overlap * meteor)
            n_g, n_p = overlap.shape
            p, r = best / n_p, best / n_g
            p_best.append(p)
            r_best.append(r)
            f_best.append(2 * p * r / (p + r) if p + r > 0 else 0)
        return [np.mean(np.mean([x], axis=1)) for x in (p_best, r_best, f_best)]


def parse_sentence(text):
    return re.sub("[^a-zA-Z]", " ", text).strip().lower().split()


def with_v_prefix(data):
    """para_evaluate's ensure_caption_key: ids get 'v_' when the first one lacks it."""
    if data and not next(iter(data)).startswith("v_"):
        return {"v_" + k: v for k, v in data.items()}
    return data


def paragraph_scores(results, paragraphs, scorers):
    """para_evaluate.ANETcaptions with all scorers: {'para_Bleu_1': ..., 'para_CIDEr': ...}."""
    predicted = with_v_prefix({vid: "".join(p["sentence"] + ". " for p in entries) for vid, entries in results.items()})
    refs = [with_v_prefix(r) for r in paragraphs]
    vids = union_ids(refs)
    gts = {i: [] for i in range(len(vids))}
    for ref in refs:
        for i, vid in enumerate(vids):
            if vid in ref:
                gts[i].append(" ".join(parse_sentence(ref[vid])))
    res = {i: [" ".join(parse_sentence(predicted[vid]))] if vid in predicted and len(predicted[vid]) > 0 else [""]
           for i, vid in enumerate(vids)}
    out = {}
    for scorer, names in scorers.scorers():
        score, _ = scorers.compute(scorer, gts, res)
        for m, name in enumerate(names if isinstance(names, list) else [names]):
            out["para_" + name] = score[m] if isinstance(names, list) else score
    return out


def eval_metrics(results, references, paragraphs=(), tious=TIOUS, max_proposals=1000, source="predictions"):
    """eval_utils.eval_metrics on already-ranked results: the mean over tIoUs of each dense score
    (Bleu_1..4, METEOR, ROUGE_L, CIDEr, Recall, Precision), soda_c, and para_* when paragraphs are given.
    `source` names the results in errors (check_against_references)."""
    check_against_references(results, references, source)
    scorers = shared_scorers()
    dense = DenseEval(results, references, tious, max_proposals)
    sodas = [SodaEval(results, ref) for ref in references]
    tokenized = scorers.tokenize(dense.batches() + [b for s in sodas for b in s.batches()])
    scores = dense.language(tokenized[:2 * len(tious)], scorers)
    scores.update(dense.detection())
    scores = {k: sum(v) / len(v) for k, v in scores.items()}
    soda_batches = tokenized[2 * len(tious):]
    soda = [s.score(soda_batches[2 * i:2 * i + 2], scorers) for i, s in enumerate(sodas)]
    scores["soda_c"] = np.mean(soda, axis=0)[-1]
    if paragraphs:
        scores.update(paragraph_scores(results, paragraphs, scorers))
    scores = {k: float(v) for k, v in scores.items()}
    broken = [k for k, v in scores.items() if not math.isfinite(v)]
    if broken:
        raise RuntimeError(f"{source}: the evaluation gave non-finite {broken}; this is a bug, please report it")
    return scores


def selection_criteria(scores):
    """train.py's --criteria_for_best_ckpt as keys to keep the best checkpoint by: `dvc` = METEOR + soda_c
    (dense captioning, PDVC's default) and, with paragraph scores, `pc` = para_METEOR + para_CIDEr +
    para_Bleu_4 (paragraph captioning)."""
    criteria = dict(dvc=scores["METEOR"] + scores["soda_c"])
    if "para_METEOR" in scores:
        criteria["pc"] = scores["para_METEOR"] + scores["para_CIDEr"] + scores["para_Bleu_4"]
    return criteria


# ---------------------------------------------------------------------------------------------------------
# engine metric


def results_json(results):
    """PDVC's results json around {video_id: [prediction]} (save_dvc_json adds the two counts)."""
    return {"results": results, "version": "VERSION 1.0", "external_data": {"used:": True, "details": None},
            "valid_video_num": len(results),
            "avg_proposal_num": float(np.mean([len(v) for v in results.values()])) if results else 0.0}


@METRICS.register_module()
class DenseCaptioningMetric(BaseMetric):
    """Scores the model's predictions as eval_utils.evaluate + eval_metrics do, and writes PDVC's files into
    `out_dir` (the run's work dir, set by ResultsDirHook): `results.json` (every query with a positive score,
    upstream's fields, plus the joint ranking to apply) and `results_reranked.json` (the ranked dense
    captions that are scored). `rerank_alpha` None skips the ranking (PDVC without an event counter).
    Returns eval_metrics' keys and the best-checkpoint criteria `dvc` and `pc` (selection_criteria)."""

    default_prefix = None

    def __init__(self, references, para_references=(), rerank_alpha=1.0, tious=TIOUS, max_proposals=1000,
                 results_file="results.json", **kwargs):
        super().__init__(**kwargs)
        self.references, self.para_references = list(references), list(para_references)
        self.rerank_alpha, self.tious, self.max_proposals = rerank_alpha, tuple(tious), max_proposals
        self.results_file, self.out_dir = results_file, None
        self._vocab = None

    def process(self, data_batch, data_samples):
        if self._vocab is None:
            self._vocab = Vocabulary(self.dataset_meta["vocab_file"], self.dataset_meta["vocab_size"])
            if is_main_process():
                shared_scorers()  # METEOR's Java process loads its tables while the model runs
        for pred in data_samples:
            entries = [{"timestamp": pred["timestamps"][i].tolist(), "raw_box": pred["timestamps"][i].tolist(),
                        "proposal_score": float(score), "sentence": self._vocab.decode(pred["words"][i].tolist()),
                        "sentence_score": float(pred["sentence_scores"][i]), "query_id": int(pred["query_ids"][i]),
                        "vid_duration": pred["duration"], "pred_event_count": pred["event_count"]}
                       for i, score in enumerate(pred["scores"]) if score > 0]
            self.results.append((pred["video_id"], entries))

    def compute_metrics(self, results):
        predictions = dict(results)
        if len(predictions) != len(results):
            raise ValueError("the evaluation saw a video twice")
        rerank_spec = None if self.rerank_alpha is None else dict(alpha=self.rerank_alpha,
                                                                   temperature=RERANK_TEMPERATURE)
        source = "the model's predictions"
        if self.out_dir is not None:
            stem = os.path.splitext(os.path.join(self.out_dir, self.results_file))[0]
            source = stem + ".json"
            atomic_write_text(source, json.dumps(dict(results_json(predictions), rerank=rerank_spec)))
        validate_predictions({"results": predictions}, source, for_rerank=rerank_spec is not None)
        ranked = predictions if rerank_spec is None else rerank(predictions, self.rerank_alpha)
        if self.out_dir is not None:
            atomic_write_text(stem + "_reranked.json", json.dumps(dict(results_json(ranked), rerank=None)))
        scores = eval_metrics(ranked, load_references(self.references), load_paragraphs(self.para_references),
                              self.tious, self.max_proposals, source)
        return dict(scores, **selection_criteria(scores))
