"""Anticipation over time, the way online-detection papers (LSTR, TeSTra) draw it: for a few validation videos,
the ground-truth actions as a colour strip, each model's top-1 anticipated action (1 s ahead) as a strip below
it, and the probability each model gives 1 s ahead to the action that does happen then (read from the tracks
file AnticipationRecall writes at validation)."""
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
    models = list(tracks)
    fig = plt.figure(figsize=(12, (1.6 + 0.3 * len(models)) * 2 * len(videos)))
    colours = plt.get_cmap("tab20")
    for panel, video in zip(np.atleast_1d(fig.subfigures(len(videos), 1)), videos):
        axes = panel.subplots(len(models) + 2, 1, gridspec_kw=dict(height_ratios=[1] * (len(models) + 1) + [4]))
        first = tracks[models[0]][video]
        seconds = (first["ends"] + gap) / FPS
        for ax, name, classes in zip(axes, ["ground truth", *models],
                                     [first["labels"], *(tracks[m][video]["top"][:, 0] for m in models)]):
            image = np.ones((1, len(classes), 3))
            image[0, classes >= 0] = [colours(c % 20)[:3] for c in classes[classes >= 0]]
            ax.imshow(image, aspect="auto", extent=(seconds[0], seconds[-1], 0, 1), interpolation="nearest")
            ax.set_yticks([0.5], [name], fontsize=7)
            ax.set_xticks([])
        axes[0].set_title(f"{video}: action at each tick (colour = class; a model's strip: its top-1, 1 s ahead) "
                          "and the probability given to the true action 1 s ahead", fontsize=9)
        lines = axes[-1]
        for model in models:
            lines.plot(seconds, tracks[model][video]["label_scores"], lw=1.2, label=model)
        lines.set_xlim(seconds[0], seconds[-1])
        lines.set_ylim(0, 1)
        lines.set_ylabel("P(true action)", fontsize=8)
        lines.set_xlabel("time of the anticipated tick (s)", fontsize=8)
        lines.grid(alpha=0.3)
        lines.legend(loc="upper right", fontsize=7)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
