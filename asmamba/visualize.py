"""Segmentation colour bars, the way ASFormer / MS-TCN draw predictions: one bar per video for the
ground truth and one per model, a colour per class (background white), time left to right."""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from .datasets import read_bundle, read_labels, read_mapping  # noqa: E402
from .metrics import BACKGROUND, read_prediction  # noqa: E402


def plot_predictions(cfg, runs, path, num_videos=3):
    """Ground truth vs each run's predictions (`<work_dir>/predictions/<video>`, upstream's format) for
    the first `num_videos` videos of the config's test split."""
    dataset = cfg.test_dataloader.dataset
    root = dataset.data_root
    classes = read_mapping(os.path.join(root, "mapping.txt"))
    videos = read_bundle(os.path.join(root, "splits", f"test.split{dataset.split}.bundle"))[:num_videos]
    palette = plt.get_cmap("tab20")
    colours = ["white" if name in BACKGROUND else palette(i % 20) for i, name in enumerate(classes)]
    cmap, index = ListedColormap(colours), {name: i for i, name in enumerate(classes)}

    rows = ["ground truth", *runs]
    fig, axes = plt.subplots(len(videos) * len(rows), 1, figsize=(10, 0.32 * len(videos) * len(rows) + 1.2),
                             squeeze=False)
    for v, video in enumerate(videos):
        gt = read_labels(os.path.join(root, "groundTruth", video + ".txt"))
        for r, label in enumerate(rows):
            labels = gt if r == 0 else read_prediction(os.path.join(runs[label], "predictions", video))[:len(gt)]
            ax = axes[v * len(rows) + r, 0]
            ax.imshow(np.array([[index[n] for n in labels]]), aspect="auto", cmap=cmap, vmin=0,
                      vmax=len(classes) - 1, interpolation="nearest")
            ax.set_yticks([0], [f"{video}: {label}" if r == 0 else label], fontsize=7)
            ax.set_xticks([])
            for side in ax.spines.values():
                side.set_linewidth(1.5 if r == 0 else 0.5)
    handles = [Patch(facecolor=colours[i], edgecolor="0.5", label=name) for i, name in enumerate(classes)]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(classes), 6), fontsize=7, frameon=False)
    fig.suptitle("segmentation per frame: ground truth (thick frame) and each model", fontsize=9)
    fig.tight_layout(rect=(0, 0.08, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)
