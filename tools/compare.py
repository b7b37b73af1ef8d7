"""Train a task's baseline and variants on its toy data with the same budget; write a report.

    python tools/compare.py TASK --toy [--seeds N] [--epochs N] [--out DIR]

Run it from the repository root: the toy data (TASK.toy_data_root, written first if missing) and the
work dirs are relative to the working directory, as in the configs. Each config trains in its own
`tools/train.py` process per seed (seed 0 is the config's own seed, seed k adds k), so that its time
and peak memory are its own; the console shows live progress (config k of n, epoch, loss, ETA of the
config and of the whole comparison) and each result as it lands. `--epochs N` scales every config's
whole schedule to N epochs (warm-up, decay, validation interval: common.engine.scale_schedule).

Everything goes to work_dirs/compare/TASK/<timestamp>/ (earlier runs are kept): report.md with its
figures (metrics with the baseline marked, training and validation curves, cost, predictions),
compare.json with every number, and <config>/seed_<s>/ per run (train.log, checkpoints, prediction
files, TensorBoard events). The table's metrics are each run's last validation. The report's files are each
written aside and renamed (a killed comparison leaves no half-written report); --out must be new or empty.
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TRAIN = osp.join(REPO, "tools", "train.py")
# Run as a script: the repository root, not tools/, must lead sys.path.
sys.path.insert(0, REPO)

from common.engine import MODELS, format_seconds, get_task, load_config, scale_schedule, write_toy_data  # noqa: E402
from common.engine.hooks import PROGRESS_FILE, read_json  # noqa: E402
from common.report import metrics_table, read_curves, write_report  # noqa: E402


def read_scalars(work_dir: str) -> list[dict]:
    """The JSON scalar lines (LocalVisBackend) of the latest run in `work_dir`; a torn last line (a run
    killed while it logged) is left out, any other line that is not JSON is an error naming the file."""
    runs = sorted(glob.glob(osp.join(work_dir, "*", "vis_data", "scalars.json")))
    if not runs:
        return []
    with open(runs[-1]) as f:
        lines = [line for line in f if line.strip()]
    scalars = []
    for number, line in enumerate(lines, 1):
        try:
            scalars.append(json.loads(line))
        except json.JSONDecodeError:
            if number < len(lines):
                raise ValueError(f"{runs[-1]}: line {number} is not a JSON record of LocalVisBackend") from None
    return scalars


def model_cost(cfg, task) -> tuple[int, int | None]:
    """Parameter count and FLOPs (None where fvcore cannot count the model)."""
    from common.flops import count_flops
    model = MODELS.build(cfg.model).eval()
    params = sum(p.numel() for p in model.parameters())
    try:
        return params, count_flops(model, task.flops_inputs(cfg))
    except Exception as err:  # a model fvcore cannot trace still gets its row, with the reason in the log
        print(f"FLOPs of {cfg.filename} not counted: {err}", file=sys.stderr)
        return params, None


class Progress:
    """The console line: updated in place on a terminal, one line per epoch in a log or CI."""

    def __init__(self, total_jobs: int):
        self.total, self.durations, self.tty = total_jobs, [], sys.stdout.isatty()
        self._last_key = None

    def show(self, label: str, job: int, state: dict, elapsed: float) -> None:
        eta = state.get("eta")
        per_job = (sum(self.durations) / len(self.durations) if self.durations
                   else (elapsed + eta if eta is not None else None))
        rest = None if eta is None or per_job is None else eta + per_job * (self.total - job)
        loss = f"{state['loss']:.4f}" if "loss" in state else "-"  # none before the first logged step
        line = (f"[{job}/{self.total}] {label}: epoch {state.get('epoch', 0)}/{state.get('max_epochs', '?')} "
                f"({state.get('phase', 'starting')}) loss {loss} | "
                f"ETA {format_seconds(eta) if eta is not None else '?'}, all "
                f"{format_seconds(rest) if rest is not None else '?'}")
        if self.tty:
            print("\r\033[K" + line, end="", flush=True)
        elif (key := (label, state.get("epoch"))) != self._last_key:
            self._last_key = key
            print(line, flush=True)

    def done(self, seconds: float) -> None:
        self.durations.append(seconds)
        if self.tty:
            print("\r\033[K", end="")


def train(cfg_path, work_dir, seed_offset, epochs, label, job, progress) -> dict:
    """One tools/train.py run, watched through its progress file; returns its record."""
    cmd = [sys.executable, TRAIN, cfg_path, "--work-dir", work_dir]
    if epochs is not None:
        cmd += ["--epochs", str(epochs)]
    if seed_offset:
        cmd += ["--seed-offset", str(seed_offset)]
    start = time.perf_counter()
    with open(osp.join(work_dir, "train.log"), "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            progress.show(label, job, read_json_safely(osp.join(work_dir, PROGRESS_FILE)),
                          time.perf_counter() - start)
            time.sleep(0.5)
    seconds = time.perf_counter() - start
    progress.done(seconds)
    return dict(returncode=os.waitstatus_to_exitcode(status), peak_mib=usage.ru_maxrss / 1024,
                wall_seconds=seconds)


def read_json_safely(path):
    try:
        return read_json(path)
    except ValueError:  # caught between two writes: the next poll reads it
        return {}


def compare(task, out_dir, seeds, epochs) -> list[dict]:
    if not (osp.isdir(task.toy_data_root) and os.listdir(task.toy_data_root)):
        print(f"writing the toy data set to {task.toy_data_root}", flush=True)
        write_toy_data(task, task.toy_data_root)  # built aside: a killed writer leaves no half-written set
    progress = Progress(len(task.compare_configs) * seeds)
    records, job = [], 0
    for rel_config in task.compare_configs:
        config = osp.join(REPO, rel_config)
        name = osp.splitext(osp.basename(config))[0]
        cfg = load_config(config)
        params, flops = model_cost(cfg, task)
        record = dict(name=name, config=rel_config, params=params, flops=flops, runs=[])
        for seed in range(seeds):
            job += 1
            work_dir = osp.join(out_dir, name, f"seed_{seed}")
            os.makedirs(work_dir)
            run = train(config, work_dir, seed, epochs, f"{name} seed {seed}", job, progress)
            scalars = read_scalars(work_dir)
            curves = read_curves(scalars, task.table_metrics)
            last = max(curves[task.table_metrics[0]], default=None)
            seconds = [s["epoch_seconds"] for s in scalars if "epoch_seconds" in s]
            run.update(seed=seed, work_dir=work_dir, log=osp.join(work_dir, "train.log"), curves=curves,
                       metrics={k: curves[k][last] for k in task.table_metrics} if last is not None else None,
                       seconds_per_epoch=(sum(seconds[1:]) / len(seconds[1:]) if len(seconds) > 1
                                          else seconds[0] if seconds else None))
            record["runs"].append(run)
            if run["returncode"] != 0 or run["metrics"] is None:
                print(f"{name} seed {seed} FAILED (exit code {run['returncode']}): see {run['log']}", flush=True)
            else:
                scores = "  ".join(f"{k} {v:.2f}" for k, v in run["metrics"].items())
                print(f"{name} seed {seed}: {scores}  ({format_seconds(run['wall_seconds'])})", flush=True)
        records.append(record)
    return records


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task", help="task package name, e.g. asmamba")
    parser.add_argument("--toy", action="store_true", help="train on the task's toy data set")
    parser.add_argument("--seeds", type=int, default=1, help="train each config this many times")
    parser.add_argument("--epochs", type=int, help="scale every config's whole schedule to this many epochs")
    parser.add_argument("--out", help="output directory (default: work_dirs/compare/TASK/<timestamp>)")
    args = parser.parse_args(argv)
    if not args.toy:
        parser.error("only toy comparisons are implemented: pass --toy")
    if args.seeds < 1 or (args.epochs is not None and args.epochs < 1):
        parser.error("--seeds and --epochs must be positive")
    if args.out and osp.isdir(args.out) and os.listdir(args.out):
        parser.error(f"--out {args.out} is not empty (an earlier comparison?): its report and runs would be taken "
                     "for this one's; choose a new directory")
    try:
        task = get_task(args.task)
    except ValueError as e:
        raise SystemExit(f"error: {e}")
    out_dir = args.out or osp.join("work_dirs", "compare", task.name, time.strftime("%Y%m%d_%H%M%S"))
    os.makedirs(out_dir, exist_ok=bool(args.out))
    command = "python tools/compare.py " + " ".join(sys.argv[1:] if argv is None else argv)
    print(f"$ {command}\n{len(task.compare_configs)} configs x {args.seeds} seed(s) -> {out_dir}", flush=True)

    try:
        records = compare(task, out_dir, args.seeds, args.epochs)
    except (FileExistsError, ValueError) as e:
        raise SystemExit(f"error: {e}")
    baseline_cfg = load_config(osp.join(REPO, task.compare_configs[0]))
    note = (f"Each config trained for {args.epochs} epochs (its schedule scaled to that length)."
            if args.epochs else "Each config trained with its own toy schedule.")
    report = write_report(out_dir, task, records, command, note, predictions_cfg=scale_schedule(
        baseline_cfg, args.epochs) if args.epochs else baseline_cfg)
    print("\n" + metrics_table(records, task.table_metrics))
    print(f"\nreport: {report}\nper run (config/seed_<s>/): train.log, checkpoints, predictions\n"
          f"TensorBoard: tensorboard --logdir {out_dir}")
    if any(r["returncode"] != 0 or r["metrics"] is None for record in records for r in record["runs"]):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
