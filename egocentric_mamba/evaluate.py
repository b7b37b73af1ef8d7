"""Score saved egocentric predictions as the suite does (see egocentric_mamba/metrics.py for the protocols).

    python -m egocentric_mamba.evaluate mir (--embeddings FILE.npz | --similarity FILE.npy) \\
        --clips EPIC_100_retrieval_test.csv --sentences EPIC_100_retrieval_test_sentence.csv \\
        --relevancy caption_relevancy_EPIC_100_retrieval_test.pkl
    python -m egocentric_mamba.evaluate cls --logits FILE.npz [--label-files EPIC_100_train.csv EPIC_100_validation.csv]
    python -m egocentric_mamba.evaluate egoschema --submission FILE.csv|FILE.json --questions questions.json \\
        --answers subset_answers.json

mir: --embeddings is what EK100MIRMetric writes (video_emb, text_emb: clips x D; narration_ids), --similarity a
clips x sentences matrix already assembled ((V T^T + 1) / 2, the sentences' columns). cls: what EK100ActionMetric
writes (logits, labels, actions: the label map; --label-files rebuilds the map from the csvs instead, for a file
without one). egoschema: a submission in either accepted format. The last line printed is the metrics as JSON
(percent).
"""
import argparse
import json

import numpy as np

from common.checks import InputError
from common.io import load_array
from .annotations import ActionLabels, read_egoschema_answers, read_egoschema_questions
from .metrics import MIRGroundTruth, egoschema_accuracy, ek100_cls_metrics, read_submission


def load_npz(path: str, keys, what: str) -> dict:
    """The named arrays of an .npz (no pickles); an absent key is an error naming the file."""
    out = {}
    for key in keys:
        out[key] = load_array(path, key=key, what=what)
    return out


def score_mir(args) -> dict:
    truth = MIRGroundTruth(args.clips, args.sentences, args.relevancy)
    if args.similarity:
        return truth.score(load_array(args.similarity, what="similarity matrix"), args.similarity)
    arrays = load_npz(args.embeddings, ("video_emb", "text_emb", "narration_ids"), "embeddings file")
    return truth.score_embeddings(arrays["video_emb"], arrays["text_emb"], arrays["narration_ids"].tolist(),
                                  args.embeddings)


def score_cls(args) -> dict:
    arrays = load_npz(args.logits, ("logits", "labels"), "logits file")
    with np.load(args.logits, allow_pickle=False) as archive:
        stored = archive["actions"].tolist() if "actions" in archive.files else None
    if args.label_files:
        actions = ActionLabels.from_csvs(args.label_files)
        if stored is not None and list(actions.names) != stored:
            raise InputError(f"{args.logits}: its label map ({len(stored)} actions) differs from the one of "
                             f"{' + '.join(args.label_files)} ({len(actions)} actions)")
    elif stored is None:
        raise InputError(f"{args.logits}: no 'actions' label map in the file: give --label-files")
    else:
        actions = ActionLabels(stored, args.logits)
    return ek100_cls_metrics(arrays["logits"], arrays["labels"], actions, args.logits)


def score_egoschema(args) -> dict:
    questions = [q.q_uid for q in read_egoschema_questions(args.questions)]
    return egoschema_accuracy(read_submission(args.submission), read_egoschema_answers(args.answers), questions,
                              args.submission, args.answers)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    tasks = parser.add_subparsers(dest="task", required=True)
    mir = tasks.add_parser("mir", help="EK100 multi-instance retrieval: mAP and nDCG")
    source = mir.add_mutually_exclusive_group(required=True)
    source.add_argument("--embeddings", help=".npz with video_emb, text_emb, narration_ids")
    source.add_argument("--similarity", help=".npy / .npz clips x sentences similarity matrix")
    mir.add_argument("--clips", required=True, help="EPIC_100_retrieval_test.csv")
    mir.add_argument("--sentences", required=True, help="EPIC_100_retrieval_test_sentence.csv")
    mir.add_argument("--relevancy", required=True, help="caption_relevancy_EPIC_100_retrieval_test.pkl")
    cls = tasks.add_parser("cls", help="EK100 action recognition: action / verb / noun accuracy")
    cls.add_argument("--logits", required=True, help=".npz with logits, labels (and actions)")
    cls.add_argument("--label-files", nargs="+", help="the EPIC_100_*.csv files that define the label map")
    ego = tasks.add_parser("egoschema", help="EgoSchema offline accuracy on the answer subset")
    ego.add_argument("--submission", required=True, help=".csv (q_uid,answer) or .json ({q_uid: answer})")
    ego.add_argument("--questions", required=True, help="questions.json")
    ego.add_argument("--answers", required=True, help="subset_answers.json")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    score = {"mir": score_mir, "cls": score_cls, "egoschema": score_egoschema}[args.task]
    try:
        metrics = score(args)
    except (OSError, ValueError) as err:
        raise SystemExit(f"error: {err}")
    print(json.dumps(metrics))


if __name__ == "__main__":
    main()
