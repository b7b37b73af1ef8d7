"""Score a prediction file written by VideoClassificationMetric (or by hand in its format).

    python -m videomamba_st.evaluate WORK_DIR/predictions.json [--topk 1 5]

Prints top-k accuracy and mean class accuracy (fractions, mmaction2's keys); the last line printed is one JSON
object. The numbers are those the metric logged for the same predictions.
"""
import argparse
import json

from videomamba_st.metrics import classification_scores, read_predictions


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("predictions", help="predictions.json")
    parser.add_argument("--topk", type=int, nargs="+", default=[1, 5])
    args = parser.parse_args(argv)
    try:
        _, labels, scores = read_predictions(args.predictions)
    except (OSError, ValueError) as e:
        raise SystemExit(f"error: {e}")
    print(f"{len(labels)} videos, {scores.shape[1]} classes")
    print(json.dumps(classification_scores(scores, labels, tuple(args.topk))))


if __name__ == "__main__":
    main()
