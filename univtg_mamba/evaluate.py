"""Score a QVHighlights-format submission as UniVTG / Moment-DETR's eval.py does.

    python -m univtg_mamba.evaluate --submission FILE --ground-truth FILE [--allow-mismatched-queries] [--out FILE]

Submission jsonl: {"qid", "query", "vid", "pred_relevant_windows": [[st, ed, score], ...] (ranked),
"pred_saliency_scores": [score per 2 s clip]}; ground truth: the Moment-DETR / UniVTG metadata jsonl
(QVHighlights val, Charades-STA test, ...). Highlight metrics appear when both files carry saliency.
The query sets must match unless --allow-mismatched-queries (upstream's match_number=False) scores the
shared ones. --out writes every metric (per length range, per threshold) as JSON.
The last line printed is the `brief` dict, upstream's keys and scale (percent, 2 decimals); Charades-STA's
R1@0.3 / 0.5 / 0.7 and mIoU are its MR-full-R1@{0.3,0.5,0.7}-key and MR-full-mIoU-key.
"""
import argparse
import json

from common.engine import atomic_write_text
from .metrics import eval_submission, read_jsonl


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submission", required=True, help="predictions, one query per line")
    parser.add_argument("--ground-truth", required=True, help="metadata jsonl with relevant_windows (and saliency)")
    parser.add_argument("--allow-mismatched-queries", action="store_true",
                        help="score the queries both files share instead of stopping (upstream match_number=False)")
    parser.add_argument("--out", help="write all metrics here as JSON")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        metrics = eval_submission(read_jsonl(args.submission), read_jsonl(args.ground_truth),
                                  match_number=not args.allow_mismatched_queries, source=args.submission,
                                  gt_source=args.ground_truth)
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(f"error: {err}")
    if args.out:
        atomic_write_text(args.out, json.dumps(metrics, indent=1))
    print(json.dumps(metrics["brief"]))


if __name__ == "__main__":
    main()
