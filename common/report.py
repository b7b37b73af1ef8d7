"""The report of a comparison (tools/compare.py): what researchers look at to compare a baseline with
its variants. Input is one record per trained config (every seed's run); output is a markdown report
with PNG figures (matplotlib): the metrics table with the baseline marked and each variant's difference
from it (within the seeds' spread or not), a bar chart of the metrics, training-loss and validation
curves on shared axes, the cost side by side, and the task's own drawing of predictions.

A record: dict(name, config, params, flops, runs=[dict(seed, returncode, metrics, seconds_per_epoch,
peak_mib, work_dir, curves=dict(loss={epoch: value}, <metric>={epoch: value}))]).
"""
import json
import math
import os.path as osp
import statistics

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .io import written_aside  # noqa: E402


def read_curves(scalars: list[dict], metric_keys) -> dict:
    """Per-epoch training loss (mean of the logged values of that epoch) and validation metrics from a
    run's scalars.json lines (mmengine LocalVisBackend: training lines carry `epoch`, validation lines
    carry the metrics with `step` = epoch)."""
    losses: dict[int, list[float]] = {}
    curves = {key: {} for key in metric_keys}
    for line in scalars:
        if "loss" in line and "epoch" in line:
            losses.setdefault(int(line["epoch"]), []).append(float(line["loss"]))
        elif all(key in line for key in metric_keys):
            for key in metric_keys:
                curves[key][int(line["step"])] = float(line[key])
    curves["loss"] = {epoch: sum(v) / len(v) for epoch, v in sorted(losses.items())}
    return curves


def spread(values):
    """(mean, sample standard deviation or None for a single value)."""
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def summarize(record, metric_keys) -> dict:
    """Means and spreads over a config's successful runs."""
    ok = [r for r in record["runs"] if r["returncode"] == 0 and r["metrics"]]
    summary = {key: spread([r["metrics"].get(key) for r in ok]) for key in metric_keys}
    for key in ("seconds_per_epoch", "peak_mib"):
        summary[key] = spread([r[key] for r in ok])[0]
    summary["ok_runs"], summary["runs"] = len(ok), len(record["runs"])
    return summary


def difference(variant, baseline):
    """(mean difference, within the spread?) of two (mean, std) pairs. Within the spread: the
    difference is below the standard deviation of the difference of two single runs,
    sqrt(std_a^2 + std_b^2); None when there is only one seed."""
    (mean_v, std_v), (mean_b, std_b) = variant, baseline
    if mean_v is None or mean_b is None:
        return None, None
    if std_v is None or std_b is None:
        return mean_v - mean_b, None
    return mean_v - mean_b, abs(mean_v - mean_b) <= math.hypot(std_v, std_b)


def metrics_table(records, metric_keys) -> str:
    """Markdown: mean (± std over seeds) per metric; variants also show their difference from the
    baseline (the first record), marked ~ when it lies within the seeds' spread."""
    baseline = summarize(records[0], metric_keys)
    lines = ["| config | " + " | ".join(metric_keys) + " |", "|---" * (len(metric_keys) + 1) + "|"]
    for i, record in enumerate(records):
        summary = summarize(record, metric_keys)
        cells = []
        for key in metric_keys:
            mean, std = summary[key]
            if mean is None:
                cells.append("failed")
                continue
            cell = f"{mean:.2f}" + (f" ± {std:.2f}" if std is not None else "")
            if i:
                delta, within = difference(summary[key], baseline[key])
                if delta is not None:
                    cell += f" ({delta:+.2f}{' ~' if within else ''})"
            cells.append(cell)
        name = record["name"] + (" (baseline)" if i == 0 else "")
        if summary["ok_runs"] < summary["runs"]:
            name += f" ({summary['runs'] - summary['ok_runs']} of {summary['runs']} runs failed)"
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cost_table(records, metric_keys) -> str:
    def fmt(value, spec):
        return "n/a" if value is None else format(value, spec)

    lines = ["| config | params (M) | GFLOPs | s/epoch | peak MiB |", "|---|---|---|---|---|"]
    for record in records:
        summary = summarize(record, metric_keys)
        lines.append(f"| {record['name']} | {record['params'] / 1e6:.4g} | "
                     f"{fmt(None if record['flops'] is None else record['flops'] / 1e9, '.4g')} | "
                     f"{fmt(summary['seconds_per_epoch'], '.3g')} | {fmt(summary['peak_mib'], '.0f')} |")
    return "\n".join(lines)


def plot_bars(records, metric_keys, path) -> None:
    n = len(metric_keys)
    fig, axes = plt.subplots(1, n, figsize=(2.2 * n + 1, 3.2), squeeze=False)
    names = [r["name"] for r in records]
    colors = ["0.35"] + [f"C{i}" for i in range(len(records) - 1)]
    for ax, key in zip(axes[0], metric_keys):
        stats = [summarize(r, metric_keys)[key] for r in records]
        means = [m if m is not None else 0.0 for m, _ in stats]
        errors = [s or 0.0 for _, s in stats]
        ax.bar(range(len(records)), means, yerr=errors, color=colors, capsize=3)
        ax.set_xticks(range(len(records)), names, rotation=45, ha="right", fontsize=7)
        ax.set_title(key, fontsize=9)
        low = min(means) if means else 0.0
        ax.set_ylim(bottom=max(0.0, low - 0.25 * (max(means) - low + 1e-9) - 1))
    fig.suptitle("final validation metrics (error bars: std over seeds; grey: baseline)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_curves(records, metric_keys, path) -> None:
    keys = ["loss", *metric_keys]
    cols = min(3, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        for i, record in enumerate(records):
            series = [r["curves"].get(key, {}) for r in record["runs"] if r["returncode"] == 0]
            epochs = sorted({e for s in series for e in s})
            if not epochs:
                continue
            means = [statistics.fmean([s[e] for s in series if e in s]) for e in epochs]
            style = dict(color="0.2", linestyle="--") if i == 0 else dict(color=f"C{i - 1}")
            ax.plot(epochs, means, marker="o", markersize=3, label=record["name"], **style)
            if len(series) > 1:
                lows = [min(s[e] for s in series if e in s) for e in epochs]
                highs = [max(s[e] for s in series if e in s) for e in epochs]
                ax.fill_between(epochs, lows, highs, alpha=0.15, color=style["color"])
        ax.set_title("training loss" if key == "loss" else f"validation {key}", fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(out_dir, task, records, command, note="", predictions_cfg=None) -> str:
    """Writes report.md, compare.json and the figures into `out_dir`, each file written aside and renamed
    (common.io.written_aside), the report last; returns the report's path."""
    keys = list(task.table_metrics)
    for name, plot in (("metrics.png", plot_bars), ("curves.png", plot_curves)):
        with written_aside(osp.join(out_dir, name)) as partial:
            plot(records, keys, partial)
    figures = ["metrics.png", "curves.png"]
    if task.plot_predictions is not None and predictions_cfg is not None:
        runs = {r["name"]: r["runs"][0]["work_dir"] for r in records if r["runs"][0]["returncode"] == 0}
        with written_aside(osp.join(out_dir, "predictions.png")) as partial:
            task.plot_predictions(predictions_cfg, runs, partial)
        figures.append("predictions.png")
    seeds = len(records[0]["runs"])
    text = [f"# {task.name}: baseline vs variants", "", f"`{command}`", "", note,
            "", "## Metrics", "",
            f"Final validation metrics, {'mean ± standard deviation over ' + str(seeds) + ' seeds' if seeds > 1 else 'one seed'}"
            "; in brackets each variant's difference from the baseline"
            + (", marked ~ where it lies within the seeds' spread (|difference| <= sqrt(std_a² + std_b²))."
               if seeds > 1 else " (one seed: no spread to judge it by; use --seeds N)."),
            "", metrics_table(records, keys), "", "![metrics](metrics.png)", "",
            "## Training curves", "", "![curves](curves.png)", "",
            "## Cost", "", "Parameters, FLOPs (fvcore, one multiply-add = 1 flop, the scan counted) on the "
            "task's example input, mean wall time of a training epoch (the first left out), peak resident "
            "memory of the training process.", "", cost_table(records, keys), ""]
    if "predictions.png" in figures:
        text += ["## Predictions", "", "![predictions](predictions.png)", ""]
    text += ["## Files", "", "Per config and seed: `<config>/seed_<s>/` holds the training log (`train.log`), "
             "the checkpoints, the prediction files of the last validation and the TensorBoard events "
             f"(`tensorboard --logdir {out_dir}`).", ""]
    with written_aside(osp.join(out_dir, "compare.json")) as partial, open(partial, "w") as f:
        json.dump(dict(task=task.name, command=command, records=records,
                       table=metrics_table(records, keys), cost=cost_table(records, keys)), f, indent=1)
    path = osp.join(out_dir, "report.md")
    with written_aside(path) as partial, open(partial, "w") as f:
        f.write("\n".join(text))
    return path

