"""Score a detection results file with the official ActivityNet protocol (as ActionFormer uses it).

    python -m actionmamba.evaluate --annotations FILE --split SUBSET --predictions FILE [--tiou T ...]

Predictions: {"results": {video_id: [{"segment": [s, e], "label": name or label_id, "score": x}]}}.
Ground truth and detections are checked as the data set checks its annotations: a reversed segment or one
past the video's duration (--duration-tolerance seconds allowed, 1 by default) is an error.
Default thresholds follow the data set (from --dataset, else recognised from the annotations: a 'test'
subset means THUMOS14, 97 or 300 classes EPIC-Kitchens, anything else ActivityNet-style):
THUMOS14 0.3:0.7 (5), ActivityNet / HACS 0.5:0.95 (10), EPIC-Kitchens 0.1:0.5 (5).
The last line printed is one JSON object: {"mAP@0.30": ..., "mAP_avg": ...} in percent.
"""
import argparse
import json

from common.io import load_json
from .datasets import DURATION_TOLERANCE
from .metrics import (ANET_TIOUS, EPIC_TIOUS, THUMOS_TIOUS, evaluate_detections, load_ground_truth,
                      read_predictions)

DATASET_TIOUS = dict(thumos14=THUMOS_TIOUS, activitynet=ANET_TIOUS, hacs=ANET_TIOUS, epic=EPIC_TIOUS)


def default_tious(ann_file, num_classes):
    """THUMOS14 alone tests on a 'test' subset; EPIC-Kitchens 100 has 97 verbs / 300 nouns."""
    subsets = {video["subset"].lower() for video in load_json(ann_file)["database"].values()}
    if "test" in subsets:
        return THUMOS_TIOUS
    if num_classes in (97, 300):
        return EPIC_TIOUS
    return ANET_TIOUS


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotations", required=True, help="ActionFormer annotation json")
    parser.add_argument("--split", required=True, nargs="+", help="subset(s) to score, e.g. test")
    parser.add_argument("--predictions", required=True, help="results json (ActivityNet detection format)")
    parser.add_argument("--tiou", type=float, nargs="+", help="tIoU thresholds (default: per data set)")
    parser.add_argument("--dataset", choices=sorted(DATASET_TIOUS), help="picks the default thresholds")
    parser.add_argument("--per-class", action="store_true", help="also print each class's AP")
    parser.add_argument("--duration-tolerance", type=float, default=DURATION_TOLERANCE,
                        help="seconds a segment may reach past [0, duration] (the data set's duration_tolerance)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        ground_truth, id_to_name, videos = load_ground_truth(args.annotations, args.split, args.duration_tolerance)
        predictions = read_predictions(load_json(args.predictions, "predictions file"), id_to_name, videos,
                                       source=args.predictions, duration_tolerance=args.duration_tolerance)
        if args.tiou:
            tious = args.tiou
        else:
            tious = DATASET_TIOUS[args.dataset] if args.dataset else default_tious(args.annotations,
                                                                                   len(id_to_name))
        scores, per_class = evaluate_detections(ground_truth, predictions, tious)
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(f"error: {err}")
    if args.per_class:
        for name, ap in per_class.items():
            print(f"{name}: " + " ".join(f"{100 * a:.2f}" for a in ap))
    print(json.dumps({k: round(v, 4) for k, v in scores.items()}))


if __name__ == "__main__":
    main()
