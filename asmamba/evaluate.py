"""Score prediction files in upstream's format, as MS-TCN / ASFormer `eval.py` does.

    python -m asmamba.evaluate --data-root data/gtea --split 1 --pred-dir results/gtea/split_1
    python -m asmamba.evaluate --data-root data/gtea --split 0 --pred-dir results/gtea   # all splits

Split K >= 1 reads `<pred-dir>/<video>` for every video of `splits/test.splitK.bundle`; split 0
scores every split found under `<data-root>/splits`, reading `<pred-dir>/split_K/`, and averages
the per-split scores without weights (as upstream). The last line printed is one JSON object.
"""
import argparse
import glob
import json
import os
import re
from typing import Dict

from asmamba.datasets import read_bundle, read_labels
from asmamba.metrics import read_prediction, summarize, video_stats


def evaluate_split(data_root: str, split: int, pred_dir: str) -> Dict[str, float]:
    stats = []
    for video in read_bundle(os.path.join(data_root, "splits", f"test.split{split}.bundle")):
        gt = read_labels(os.path.join(data_root, "groundTruth", video + ".txt"))
        pred_path = os.path.join(pred_dir, video)
        stats.append(video_stats(read_prediction(pred_path), gt, source=pred_path))
    return summarize(stats)


def available_splits(data_root: str):
    bundles = glob.glob(os.path.join(data_root, "splits", "test.split*.bundle"))
    splits = sorted(int(m.group(1)) for b in bundles if (m := re.search(r"test\.split(\d+)\.bundle$", b)))
    if not splits:
        raise FileNotFoundError(f"no test.split<K>.bundle under {os.path.join(data_root, 'splits')}")
    return splits


def evaluate(data_root: str, split: int, pred_dir: str) -> Dict[str, float]:
    if split > 0:
        return evaluate_split(data_root, split, pred_dir)
    per_split = [evaluate_split(data_root, k, os.path.join(pred_dir, f"split_{k}"))
                 for k in available_splits(data_root)]
    return {key: sum(s[key] for s in per_split) / len(per_split) for key in per_split[0]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", required=True, help="data set folder with groundTruth/ and splits/")
    parser.add_argument("--split", type=int, required=True, help="split number; 0 averages all splits")
    parser.add_argument("--pred-dir", required=True, help="prediction files (split 0: its split_K/ folders)")
    args = parser.parse_args(argv)
    scores = evaluate(args.data_root, args.split, args.pred_dir)
    print(json.dumps(scores))


if __name__ == "__main__":
    main()
