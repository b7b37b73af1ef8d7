"""Anticipation over time, the way online-detection papers (LSTR, TeSTra) draw it: for a few validation videos,
the ground-truth actions as a colour strip and, per model, the probability it gives 1 s ahead to the action
that does happen then (read from the tracks file AnticipationRecall writes at validation)."""
import os

import numpy as np

from .datasets import FPS


def load_tracks(work_dir, filename="tracks.npz"):
    """{video: {ends, labels, top, top_scores, label_scores}} from a run's work dir."""
    path = os.path.join(work_dir, filename)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no anticipation tracks (validation with track_videos > 0 writes them)")
    tracks = {}
    with np.load(path) as archive:
        for key in archive.files:
            video, name = key.rsplit("/", 1)
            tracks.setdefault(video, {})[name] = archive[key]
    return tracks


def plot_predictions(cfg, runs, path, max_videos=3):
    """runs: {model label: work dir}. Writes one PNG with a panel per video."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gap = cfg.val_dataloader.dataset.anticipation_gap_ticks
    tracks = {label: load_tracks(work_dir) for label, work_dir in runs.items()}
    videos = sorted(set.intersection(*(set(t) for t in tracks.values())))[:max_videos]
    if not videos:
        raise ValueError(f"the runs {sorted(runs)} have no track video in common")
    fig, axes = plt.subplots(2 * len(videos), 1, figsize=(12, 3.2 * len(videos)), squeeze=False,
                             gridspec_kw=dict(height_ratios=[1, 5] * len(videos)))
    colours = plt.get_cmap("tab20")
    for row, video in enumerate(videos):
        strip, lines = axes[2 * row, 0], axes[2 * row + 1, 0]
        first = next(iter(tracks.values()))[video]
        seconds = (first["ends"] + gap) / FPS
        labels = first["labels"]
        image = np.ones((1, len(labels), 3))
        image[0, labels >= 0] = [colours(label % 20)[:3] for label in labels[labels >= 0]]
        strip.imshow(image, aspect="auto", extent=(seconds[0], seconds[-1], 0, 1), interpolation="nearest")
        strip.set_yticks([])
        strip.set_xticks([])
        strip.set_title(f"{video}: ground-truth actions (colour = class) and P(true action, 1 s ahead)", fontsize=9)
        for label, runs_tracks in tracks.items():
            lines.plot(seconds, runs_tracks[video]["label_scores"], lw=1.2, label=label)
        lines.set_xlim(seconds[0], seconds[-1])
        lines.set_ylim(0, 1)
        lines.set_ylabel("probability")
        lines.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("time of the anticipated tick (s)")
    axes[1, 0].legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
