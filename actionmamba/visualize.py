"""Detection timelines, the way temporal action localisation papers draw them: per video the ground-
truth actions, then each model's top detections (opacity = score), a colour per class, in seconds."""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from common.io import load_json  # noqa: E402


def plot_predictions(cfg, runs, path, num_videos=3, top_k=8):
    """Ground truth vs each run's `<work_dir>/results.json` (ActivityNet format, written at its last
    validation) for the first `num_videos` videos of the config's validation split."""
    dataset = cfg.val_dataloader.dataset
    splits = {s.lower() for s in ([dataset.split] if isinstance(dataset.split, str) else dataset.split)}
    database = load_json(dataset.ann_file, "annotation file")["database"]
    videos = [v for v, info in database.items() if info["subset"].lower() in splits][:num_videos]
    results = {label: load_json(os.path.join(work_dir, "results.json"), "results file")["results"]
               for label, work_dir in runs.items()}
    classes = sorted({a["label"] for info in database.values() for a in info.get("annotations", [])})
    colour = {name: plt.get_cmap("tab10")(i % 10) for i, name in enumerate(classes)}

    rows = ["ground truth", *runs]
    fig, axes = plt.subplots(len(videos), 1, figsize=(10, 0.45 * len(rows) * len(videos) + 1.2), squeeze=False)
    for ax, video in zip(axes[:, 0], videos):
        duration = database[video]["duration"]
        for a in database[video].get("annotations", []):
            start, end = a["segment"]
            ax.broken_barh([(start, end - start)], (len(rows) - 1 - 0.4, 0.8), color=colour[a["label"]])
        for r, label in enumerate(runs, 1):
            dets = sorted(results[label].get(video, []), key=lambda d: -d["score"])[:top_k]
            for d in dets:
                start, end = d["segment"]
                ax.broken_barh([(start, end - start)], (len(rows) - 1 - r - 0.35, 0.7),
                               color=colour.get(d["label"], "0.5"), alpha=max(0.15, min(1.0, d["score"])))
        ax.set_yticks(range(len(rows)), rows[::-1], fontsize=7)
        ax.set_xlim(0, duration)
        ax.set_title(f"{video} ({duration:.0f} s): top {top_k} detections per model, opacity = score", fontsize=8)
    axes[-1, 0].set_xlabel("seconds", fontsize=8)
    fig.legend(handles=[Patch(color=colour[c], label=c) for c in classes], loc="lower center",
               ncol=min(len(classes), 8), fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
