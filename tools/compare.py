"""Train each of a task's compare configs on its toy data with the same budget; print one table.

    python tools/compare.py TASK --toy [--epochs N]

Run it from the repository root: the toy data (TASK.toy_data_root, written first if missing) and
the work dirs (work_dirs/compare/<task>/<config name>/) are relative to the working directory, as
in the configs. Each config trains in its own `tools/train.py` subprocess, so that its peak memory
and time are its own. Columns:
  metrics    the last validation result, keys TASK.table_metrics;
  params (M) trainable and frozen parameters of the model the config builds;
  GFLOPs     common.flops.count_flops on TASK.flops_inputs(cfg) (one multiply-add = one flop);
  s/epoch    mean wall time of a training epoch (EpochTimeHook), leaving out the first epoch when
             there are more, since it carries one-off start-up costs;
  peak MiB   peak resident memory of the training process (os.wait4 rusage).
The table is printed as markdown and written to work_dirs/compare/<task>/compare.json.
"""
import argparse
import glob
import json
import os
import os.path as osp
import shutil
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TRAIN = osp.join(REPO, "tools", "train.py")
# Run as a script: the repository root, not tools/, must lead sys.path.
sys.path.insert(0, REPO)

from common.engine import MODELS, get_task, load_config  # noqa: E402


def train(config: str, work_dir: str, epochs: int | None) -> tuple[int, float]:
    """Run tools/train.py; return its exit code and its peak resident memory in MiB."""
    cmd = [sys.executable, TRAIN, config, "--work-dir", work_dir]
    if epochs is not None:
        cmd += ["--cfg-options", f"train_cfg.max_epochs={epochs}"]
    with open(osp.join(work_dir, "train.log"), "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss / 1024  # Linux reports KiB


def read_scalars(work_dir: str) -> list[dict]:
    """The JSON scalar lines (LocalVisBackend) of the latest run in `work_dir`."""
    runs = sorted(glob.glob(osp.join(work_dir, "*", "vis_data", "scalars.json")))
    if not runs:
        return []
    with open(runs[-1]) as f:
        return [json.loads(line) for line in f if line.strip()]


def model_cost(config: str, task) -> tuple[int, int | None]:
    """Parameter count and FLOPs (None where common.flops is not available)."""
    cfg = load_config(config)
    model = MODELS.build(cfg.model).eval()
    params = sum(p.numel() for p in model.parameters())
    try:
        from common.flops import count_flops
    except ImportError:
        return params, None
    return params, count_flops(model, task.flops_inputs(cfg))


def compare(task, epochs: int | None) -> list[dict]:
    if not (osp.isdir(task.toy_data_root) and os.listdir(task.toy_data_root)):
        task.make_toy_data(task.toy_data_root)
    rows = []
    for rel_config in task.compare_configs:
        config = osp.join(REPO, rel_config)
        name = osp.splitext(osp.basename(config))[0]
        work_dir = osp.join("work_dirs", "compare", task.name, name)
        shutil.rmtree(work_dir, ignore_errors=True)
        os.makedirs(work_dir)
        print(f"training {rel_config} ...", flush=True)
        returncode, peak_mib = train(config, work_dir, epochs)
        scalars = read_scalars(work_dir)
        val = [s for s in scalars if all(k in s for k in task.table_metrics)]
        seconds = [s["epoch_seconds"] for s in scalars if "epoch_seconds" in s]
        params, flops = model_cost(config, task)
        rows.append(dict(
            config=rel_config, returncode=returncode,
            metrics={k: val[-1][k] for k in task.table_metrics} if val else None,
            params=params, flops=flops,
            seconds_per_epoch=(sum(seconds[1:]) / len(seconds[1:]) if len(seconds) > 1
                               else seconds[0] if seconds else None),
            peak_rss_mib=peak_mib, log=osp.join(work_dir, "train.log")))
        if returncode != 0:
            print(f"{rel_config} failed (exit code {returncode}); see {rows[-1]['log']}")
    return rows


def markdown_table(rows: list[dict], metric_keys) -> str:
    def cell(value, fmt):
        return "n/a" if value is None else format(value, fmt)

    head = ["config", *metric_keys, "params (M)", "GFLOPs", "s/epoch", "peak MiB"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        metrics = r["metrics"] or {}
        name = osp.splitext(osp.basename(r["config"]))[0]
        lines.append("| " + " | ".join([
            name + ("" if r["returncode"] == 0 else " (failed)"),
            *(cell(metrics.get(k), ".4f") for k in metric_keys),
            cell(r["params"] / 1e6, ".4g"),
            cell(None if r["flops"] is None else r["flops"] / 1e9, ".4g"),
            cell(r["seconds_per_epoch"], ".3g"),
            cell(r["peak_rss_mib"], ".0f")]) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task", help="task package name, e.g. asmamba")
    parser.add_argument("--toy", action="store_true", help="train on the task's toy data set")
    parser.add_argument("--epochs", type=int, help="override every config's train_cfg.max_epochs")
    args = parser.parse_args()
    if not args.toy:
        parser.error("only toy comparisons are implemented: pass --toy")
    try:
        task = get_task(args.task)
    except ValueError as e:
        raise SystemExit(f"error: {e}")

    rows = compare(task, args.epochs)
    table = markdown_table(rows, task.table_metrics)
    print(table)
    out = osp.join("work_dirs", "compare", task.name, "compare.json")
    with open(out, "w") as f:
        json.dump(dict(task=task.name, epochs=args.epochs, rows=rows, table=table), f, indent=2)
    print(f"written to {out}")
    if any(r["returncode"] != 0 for r in rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
