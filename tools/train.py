"""Train a model from an mmengine config.

    python tools/train.py CONFIG [--work-dir D] [--resume [CKPT]] [--load-from CKPT [--partial]] [--test]
                          [--epochs N] [--seed-offset K] [--cfg-options k=v ...]
    tools/dist_train.sh CONFIG NPROC [same options]        # several processes / nodes (torchrun)

The work dir defaults to work_dirs/<config name>. `--resume` continues from the work dir's latest
intact checkpoint (or from CKPT) with model, optimizer, LR schedule, EMA, epoch and RNG states restored;
the checkpoint must come from the same model config. `--load-from` starts a new run from a checkpoint's
weights, strictly (every key and shape must fit); `--partial` loads what fits and lists what it skipped
(fine-tuning with another head). `--test` then tests the best (else the last) checkpoint, same config
and overrides (the task's prediction files and <work_dir>/test_metrics.json): what every task's
train.sh runs. Override keys must exist in the config (or be arguments of what it builds).
`--epochs N` scales the whole schedule to N epochs (warm-up, decay, validation and checkpoint
intervals); `--seed-offset K` adds K to the config's seed (tools/compare.py --seeds).
"""
import argparse
import json
import logging
import os
import sys

# Run as a script: the repository root, not tools/, must lead sys.path.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common.engine import (build_runner, check_work_dir, default_work_dir, load_config,  # noqa: E402
                           scale_schedule, test_final_checkpoint)
from mmengine.config import DictAction  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", help="mmengine python config file")
    parser.add_argument("--work-dir", help="where logs and checkpoints go")
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--resume", nargs="?", const="auto", metavar="CKPT",
                       help="resume from CKPT, or without a value from the work dir's latest intact checkpoint")
    start.add_argument("--load-from", metavar="CKPT", help="start from these weights (strictly, unless --partial)")
    parser.add_argument("--partial", action="store_true",
                        help="with --load-from: load the entries that fit, list the skipped ones")
    parser.add_argument("--test", action="store_true",
                        help="after training, test the best (save_best) or else the last checkpoint, same config")
    parser.add_argument("--epochs", type=int, help="scale the whole schedule to this many epochs")
    parser.add_argument("--seed-offset", type=int, default=0, help="add this to the config's random seed")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, default={},
                        help="override config entries, e.g. train_cfg.max_epochs=3")
    parser.add_argument("--verbose", action="store_true",
                        help="also print the log (environment, config, every progress line) on the console")
    parser.add_argument("--launcher", choices=["none", "pytorch", "slurm", "mpi"], default="none",
                        help="how the processes were started (dist_train.sh passes pytorch)")
    args = parser.parse_args()
    if args.partial and not args.load_from:
        parser.error("--partial needs --load-from")
    return args


def print_where(runner):
    log_file = next((h.baseFilename for h in runner.logger.handlers if isinstance(h, logging.FileHandler)), None)
    print(f"training {runner.cfg.filename} in {runner.work_dir}\n  log: {log_file}\n"
          f"  TensorBoard: tensorboard --logdir {runner.work_dir}", flush=True)


def main():
    args = parse_args()
    try:
        cfg = load_config(args.config, args.cfg_options)
        if args.epochs is not None:
            cfg = scale_schedule(cfg, args.epochs)
        if args.seed_offset:
            cfg.randomness.seed += args.seed_offset
        if args.work_dir:
            check_work_dir(cfg, args.work_dir, args.config)
        cfg.work_dir = args.work_dir or cfg.get("work_dir") or default_work_dir(args.config)
        cfg.launcher = args.launcher
        if args.resume == "auto":
            cfg.resume = True
        elif args.resume is not None:
            cfg.resume, cfg.load_from = True, args.resume
        elif args.load_from:
            cfg.load_from, cfg.load_partial = args.load_from, args.partial
        if not args.verbose:
            cfg.console_log_level = "WARNING"
        runner = build_runner(cfg)
        print_where(runner)
        runner.train()
        if args.test:
            metrics = test_final_checkpoint(cfg, runner)
            print(f"test: {json.dumps(metrics)}\n  scores: {os.path.join(runner.work_dir, 'test_metrics.json')}")
    except (FileNotFoundError, ValueError, FloatingPointError) as e:
        raise SystemExit(f"error: {e}")


if __name__ == "__main__":
    main()
