"""TaskSpec.plot_predictions: a few validation clips (a strip of frames each) with the true class and what each
model predicted (top-1 and its probability), read from the predictions.json files the runs wrote."""
import os

import numpy as np

from common.io import load_json
from .metrics import PREDICTIONS_FILE

NUM_VIDEOS, NUM_FRAMES = 4, 6


def _class_names(cfg):
    """label_map.txt beside the annotation list (the toy set and mmaction2's Kinetics lists have one), else ids."""
    path = os.path.join(os.path.dirname(cfg.val_dataloader.dataset.ann_file), "label_map.txt")
    if os.path.isfile(path):
        with open(path) as f:
            return [line.strip() for line in f if line.strip()]
    return None


def plot_predictions(cfg, runs: dict, path: str) -> None:
    import decord
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    predictions = {}
    for label, work_dir in runs.items():
        videos = load_json(os.path.join(work_dir, PREDICTIONS_FILE), "predictions file")["videos"]
        predictions[label] = {v["filename"]: v for v in videos}
    common = sorted(set.intersection(*(set(p) for p in predictions.values())))
    if not common:
        raise ValueError(f"the runs share no predicted video: {sorted(runs)}")
    names = _class_names(cfg)
    name = (lambda i: names[i]) if names else str
    picks = [common[i] for i in np.linspace(0, len(common) - 1, min(NUM_VIDEOS, len(common))).astype(int)]
    fig, axes = plt.subplots(len(picks), 2, figsize=(12, 2.2 * len(picks)), squeeze=False,
                             gridspec_kw=dict(width_ratios=[3, 2]))
    for row, filename in zip(axes, picks):
        reader = decord.VideoReader(filename)
        frames = reader.get_batch(np.linspace(0, len(reader) - 1, NUM_FRAMES).astype(int).tolist()).asnumpy()
        row[0].imshow(np.concatenate(list(frames), axis=1))
        truth = next(iter(predictions.values()))[filename]["label"]
        row[0].set_title(f"{os.path.basename(filename)}: true class {name(truth)}  (frames left to right in time)",
                         fontsize=9, loc="left")
        lines = []
        for label, videos in predictions.items():
            video = videos[filename]
            top = int(np.argmax(video["scores"]))
            mark = "ok" if top == video["label"] else "wrong"
            lines.append(f"{label}: {name(top)} ({video['scores'][top]:.2f}) {mark}")
        row[1].text(0, 0.5, "\n".join(lines), va="center", family="monospace", fontsize=8)
        for ax in row:
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
