"""Score prediction files in upstream's format, as MS-TCN / ASFormer `eval.py` does.

    python -m asmamba.evaluate --data-root data/gtea --split 1 --pred-dir results/gtea/split_1
    python -m asmamba.evaluate --data-root data/gtea --split 0 --pred-dir results/gtea   # all splits
    python -m asmamba.evaluate --mean W/split_1/test_metrics.json W/split_2/test_metrics.json [--out F]
    python -m asmamba.evaluate --list-splits CONFIG [KEY=VALUE ...]

Split K >= 1 reads `<pred-dir>/<video>` for every video of `splits/test.splitK.bundle`; split 0
scores every split found under `<data-root>/splits`, reading `<pred-dir>/split_K/`, and averages
the per-split scores without weights (as upstream); any other split number than 0 or an existing split
is an error. `--mean` averages per-split metrics files the same way. The last line printed is one JSON
object. `--list-splits` prints the split numbers of a config's test data root after overrides (what
`SPLITS=all asmamba/train.sh` runs).
"""
import argparse
import glob
import json
import os
import re
import warnings
from typing import Dict

from asmamba.datasets import read_bundle, read_labels, read_mapping
from asmamba.metrics import read_prediction, summarize, video_stats
from common.checks import check_finite
from common.engine import atomic_write_text
from common.io import load_json


def evaluate_split(data_root: str, split: int, pred_dir: str) -> Dict[str, float]:
    """Scores of one split's prediction files; labels must be names from mapping.txt. Files of videos
    outside the split are ignored, as upstream does, with a warning."""
    classes = set(read_mapping(os.path.join(data_root, "mapping.txt")))
    videos = read_bundle(os.path.join(data_root, "splits", f"test.split{split}.bundle"))
    stats = []
    for video in videos:
        gt = read_labels(os.path.join(data_root, "groundTruth", video + ".txt"))
        pred_path = os.path.join(pred_dir, video)
        pred = read_prediction(pred_path)
        unknown = sorted(set(pred) - classes)
        if unknown:
            raise ValueError(f"{pred_path}: labels not in {data_root}/mapping.txt: {unknown[:5]}")
        stats.append(video_stats(pred, gt, source=pred_path))
    others = sorted(set(os.listdir(pred_dir)) - set(videos)) if os.path.isdir(pred_dir) else []
    if others:
        warnings.warn(f"{pred_dir}: {len(others)} file(s) of videos outside test split {split}, not scored: "
                      f"{others[:5]}")
    return summarize(stats)


def available_splits(data_root: str):
    bundles = glob.glob(os.path.join(data_root, "splits", "test.split*.bundle"))
    splits = sorted(int(m.group(1)) for b in bundles if (m := re.search(r"test\.split(\d+)\.bundle$", b)))
    if not splits:
        raise FileNotFoundError(f"no test.split<K>.bundle under {os.path.join(data_root, 'splits')}")
    return splits


def evaluate(data_root: str, split: int, pred_dir: str) -> Dict[str, float]:
    """Split `split` of `data_root`, or with split 0 the unweighted mean over every split; any other number
    is an error (a negative one would otherwise read as 'all splits')."""
    splits = available_splits(data_root)
    if split == 0:
        per_split = [evaluate_split(data_root, k, os.path.join(pred_dir, f"split_{k}")) for k in splits]
        return {key: sum(s[key] for s in per_split) / len(per_split) for key in per_split[0]}
    if split not in splits:
        raise ValueError(f"{os.path.join(data_root, 'splits')}: split {split} does not exist; expected 0 (all "
                         f"splits) or one of {splits}")
    return evaluate_split(data_root, split, pred_dir)


def mean_of_files(paths) -> Dict[str, float]:
    """Unweighted mean over splits of the metric keys every file holds (upstream's split 0). A file given
    twice, a non-finite value or no shared metric is an error."""
    twice = sorted({p for p in paths if paths.count(p) > 1})
    if twice:
        raise ValueError(f"metrics files given more than once (each split must count once): {twice}")
    per_split = [load_json(path, "metrics file") for path in paths]
    for path, scores in zip(paths, per_split):
        if not isinstance(scores, dict):
            raise ValueError(f"{path}: expected a JSON object of metrics, found {type(scores).__name__}")
    keys = [k for k, v in per_split[0].items() if isinstance(v, float) and all(k in s for s in per_split)]
    if not keys:
        raise ValueError(f"{paths[0]}: no metric (a float) that every file holds")
    for path, scores in zip(paths, per_split):
        check_finite([scores[k] for k in keys], path, what=f"metrics {keys}")
    return {key: sum(s[key] for s in per_split) / len(per_split) for key in keys}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--pred-dir", help="prediction files (split 0: its split_K/ folders)")
    mode.add_argument("--mean", nargs="+", metavar="METRICS_JSON", help="average per-split metrics files")
    mode.add_argument("--list-splits", metavar="CONFIG", help="split numbers of CONFIG's test data root")
    parser.add_argument("--data-root", help="data set folder with groundTruth/ and splits/ (with --pred-dir)")
    parser.add_argument("--split", type=int, help="split number; 0 averages all splits (with --pred-dir)")
    parser.add_argument("--out", help="also write the JSON scores to this file")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides (--list-splits)")
    args = parser.parse_args(argv)
    if args.list_splits:
        from common.engine import load_config, parse_overrides
        cfg = load_config(args.list_splits, parse_overrides(args.overrides))
        print(" ".join(map(str, available_splits(cfg.test_dataloader.dataset.data_root))))
        return
    if not args.mean and (args.data_root is None or args.split is None):
        parser.error("--pred-dir needs --data-root and --split")
    try:
        scores = mean_of_files(args.mean) if args.mean else evaluate(args.data_root, args.split, args.pred_dir)
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(f"error: {err}")
    if args.out:
        atomic_write_text(args.out, json.dumps(scores))
    print(json.dumps(scores))


if __name__ == "__main__":
    main()
