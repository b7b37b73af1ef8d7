"""Dense captions on a timeline, the way dense-captioning papers draw them: per video, the reference events
(val_1) on top, below them each model's ranked predictions, every event a bar labelled with its caption."""
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .datasets import load_captions  # noqa: E402

RANKED_FILE = "results_reranked.json"


def pick_videos(references, count):
    """The `count` videos with the most reference events (ties: file order): the busiest timelines."""
    return sorted(references, key=lambda vid: -len(references[vid]["timestamps"]))[:count]


def plot_predictions(cfg, runs, path, num_videos=3):
    """Draw `num_videos` validation videos: ground truth and each run's ranked captions (RANKED_FILE in its
    work dir); a run without the file is shown as missing."""
    references = load_captions(cfg.val_dataloader.dataset.caption_file)
    predictions = {}
    for label, work_dir in runs.items():
        file = os.path.join(work_dir, RANKED_FILE)
        predictions[label] = None
        if os.path.isfile(file):
            with open(file) as f:
                predictions[label] = json.load(f)["results"]
    videos = pick_videos(references, num_videos)
    rows = ["ground truth"] + list(runs)
    fig, axes = plt.subplots(len(videos), 1, figsize=(12, 0.75 * len(rows) * len(videos) + 0.6), squeeze=False)
    colors = plt.get_cmap("tab10").colors
    for ax, vid in zip(axes[:, 0], videos):
        duration = references[vid]["duration"]
        for row, label in enumerate(rows):
            y = len(rows) - 1 - row
            if label == "ground truth":
                events = list(zip(references[vid]["timestamps"], references[vid]["sentences"]))
            elif predictions[label] is None:
                ax.text(0, y, f"(no {RANKED_FILE})", va="center", fontsize=7, color="grey")
                continue
            else:
                events = [(p["timestamp"], p["sentence"]) for p in predictions[label].get(vid, [])]
            for k, ((start, end), sentence) in enumerate(events):
                lane = y + 0.18 * (k % 2) - 0.09  # alternate lanes so overlapping events stay readable
                ax.barh(lane, end - start, left=start, height=0.16, color=colors[row % len(colors)], alpha=0.8)
                ax.text(start, lane + 0.1, sentence or "(empty)", fontsize=6.5, va="bottom", clip_on=True)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels(rows[::-1], fontsize=8)
        ax.set_xlim(0, duration)
        ax.set_ylim(-0.6, len(rows) - 0.3)
        ax.set_title(f"{vid} ({duration:.0f} s)", fontsize=9)
        ax.set_xlabel("seconds", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
