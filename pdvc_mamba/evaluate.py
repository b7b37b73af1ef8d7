"""Score a PDVC results json as PDVC's eval_utils.eval_metrics does, every language metric on.

    python -m pdvc_mamba.evaluate --predictions FILE --references R1 [R2 ...] [--para-references P ...]
                                  [--alpha A | --no-rerank]

FILE: {"results": {video_id: [{"timestamp": [s, e], "sentence": str, ...}]}}. The joint ranking
(eval_utils.reranking) runs with --alpha A (PDVC 1.0, PDVC-light 0.3), or as the file's "rerank" entry
says (this package's results.json records it; results_reranked.json says none); --no-rerank scores the
predictions as they are (a file already ranked, e.g. upstream's *_rerank_*.json, or a submission).
References: PDVC caption jsons (ActivityNet: val_1.json val_2.json); paragraph references
{video_id: paragraph} (ActivityNet Entities: anet_entities_val_{1,2}_para.json).
The last line printed is one JSON object with eval_metrics' keys and scale (fractions): Bleu_1..4,
METEOR, ROUGE_L, CIDEr, Recall, Precision (means over tIoU 0.3/0.5/0.7/0.9), soda_c, and para_*.
"""
import argparse
import json
import sys

from common.checks import InputError
from common.io import load_json
from .metrics import (TIOUS, eval_metrics, load_paragraphs, load_references, rerank,
                      validate_predictions)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--predictions", required=True, help="PDVC results json")
    parser.add_argument("--references", required=True, nargs="+", help="reference caption json(s)")
    parser.add_argument("--para-references", nargs="*", default=[], help="paragraph reference json(s)")
    ranking = parser.add_mutually_exclusive_group()
    ranking.add_argument("--alpha", type=float, help="rank jointly with this caption weight")
    ranking.add_argument("--no-rerank", action="store_true", help="score the predictions as they are")
    parser.add_argument("--max-proposals", type=int, default=1000, help="predictions per video (dense scores)")
    return parser.parse_args(argv)


def ranking_alpha(args, submission):
    """The joint-ranking weight to apply, or None to score the file as it is."""
    if args.no_rerank:
        return None
    if args.alpha is not None:
        return args.alpha
    if isinstance(submission, dict) and "rerank" in submission:
        spec = submission["rerank"]
        if spec is not None and not (isinstance(spec, dict) and isinstance(spec.get("alpha"), (int, float))):
            raise ValueError(f"{args.predictions}: 'rerank' must be null or {{'alpha': number, ...}}, found {spec!r}")
        return None if spec is None else spec["alpha"]
    entries = [p for v in submission.get("results", {}).values() if isinstance(v, list) for p in v] \
        if isinstance(submission, dict) else []
    if any(isinstance(p, dict) and "pred_event_count" in p and "joint_score" not in p for p in entries):
        raise ValueError(f"{args.predictions}: raw PDVC predictions (every query, with pred_event_count) and no "
                         "recorded ranking: pass --alpha A (PDVC 1.0, PDVC-light 0.3) to rank them as "
                         "eval_metrics does, or --no-rerank to score every prediction")
    return None


def main(argv=None):
    args = parse_args(argv)
    try:
        submission = load_json(args.predictions, "results file")
        alpha = ranking_alpha(args, submission)
        results = validate_predictions(submission, args.predictions, for_rerank=alpha is not None)
        references = load_references(args.references)
        paragraphs = load_paragraphs(args.para_references)
    except (OSError, ValueError) as err:
        raise SystemExit(f"error: {err}")
    unknown = [vid for vid in results if not any(vid in ref for ref in references)]
    if unknown:
        print(f"warning: {len(unknown)} predicted video(s) are in no reference file and are not scored, "
              f"e.g. {unknown[:3]}", file=sys.stderr)
    if alpha is not None:
        results = rerank(results, alpha)
    try:
        scores = eval_metrics(results, references, paragraphs, TIOUS, args.max_proposals, args.predictions)
    except (InputError, RuntimeError) as err:
        raise SystemExit(f"error: {err}")
    print(json.dumps(scores))


if __name__ == "__main__":
    main()
