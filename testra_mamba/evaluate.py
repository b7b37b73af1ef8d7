"""Score EK100 action-anticipation predictions with RULSTM's protocol (class-mean top-5 recall, 1 s).

    python -m testra_mamba.evaluate --annotations DIR --scores FILE

DIR: RULSTM's EK100 annotations (actions.csv, validation.csv, validation_tail_{verbs,nouns,actions}_ids.csv,
validation_unseen_participants_ids.csv). FILE: .npz with ids (segment ids), verb_scores, noun_scores,
action_scores (N x classes), one row per validation segment (tools/test.py writes it). The last line printed
is one JSON object: overall / unseen / tail recalls for verb, noun and action, in percent.
"""
import argparse
import json

from .datasets import EK100Annotations
from .metrics import evaluate_scores, load_scores


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotations", required=True, help="RULSTM's EK100 annotation folder")
    parser.add_argument("--scores", required=True, help=".npz with ids, verb_scores, noun_scores, action_scores")
    args = parser.parse_args(argv)
    try:
        ann = EK100Annotations(args.annotations)
        recalls = evaluate_scores(load_scores(args.scores, ann), ann)
    except (ValueError, FileNotFoundError) as err:
        raise SystemExit(f"error: {err}")
    print(json.dumps({k: round(v, 4) for k, v in recalls.items()}))


if __name__ == "__main__":
    main()
