"""Evaluate a checkpoint on a config's test set.

    python tools/test.py CONFIG CHECKPOINT [--work-dir D] [--cfg-options k=v ...]

The checkpoint loads strictly: every key and shape must fit the model the config builds (convert
upstream releases first with tools/convert_checkpoint.py). The task's metric writes its prediction
file(s) and <work dir>/test_metrics.json; the work dir defaults to work_dirs/<config name>.
"""
import argparse
import os.path as osp
import sys

# Run as a script: the repository root, not tools/, must lead sys.path.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from common.engine import build_runner, default_work_dir, load_config  # noqa: E402  (before torch loads)
from mmengine.config import DictAction  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", help="mmengine python config file")
    parser.add_argument("checkpoint", help="checkpoint file (.pth) written by tools/train.py")
    parser.add_argument("--work-dir", help="where logs and metrics go")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, default={},
                        help="override config entries, e.g. test_dataloader.batch_size=1")
    return parser.parse_args()


def main():
    args = parse_args()
    if not osp.isfile(args.checkpoint):
        raise SystemExit(f"error: checkpoint {args.checkpoint} not found")
    try:
        cfg = load_config(args.config, args.cfg_options)
        cfg.work_dir = args.work_dir or cfg.get("work_dir") or default_work_dir(args.config)
        cfg.load_from, cfg.load_partial = args.checkpoint, False
        build_runner(cfg).test()
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f"error: {e}")


if __name__ == "__main__":
    main()
