"""The comparison figure: queries of one validation video, UniVTG's way (plot/qvhl.py): per query, the
ground-truth interval and each model's top-ranked window as bars over the video's time line, and below
them the saliency curves (min-max normalised), the annotators' mean score as the reference."""
import os

import numpy as np

from .metrics import read_jsonl

MAX_QUERIES = 3


def submission_path(work_dir, ann_file):
    return os.path.join(work_dir, os.path.splitext(os.path.basename(ann_file))[0] + "_submission.jsonl")


def pick_queries(ground_truth, count=MAX_QUERIES):
    """The queries of the validation video with the most queries (the same clips, different questions)."""
    by_video = {}
    for item in ground_truth:
        by_video.setdefault(item["vid"], []).append(item)
    return max(by_video.values(), key=len)[:count]


def normalise(x):
    x = np.asarray(x, dtype=float)
    span = x.max() - x.min()
    return (x - x.min()) / span if span > 0 else np.zeros_like(x)


def plot_predictions(cfg, runs, path):
    """Draw into the PNG `path`; runs maps a model label to the work dir holding its submission."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ann_file = cfg.val_dataloader.dataset.ann_file
    clip_len = cfg.val_dataloader.dataset.clip_len
    queries = pick_queries(read_jsonl(ann_file))
    preds = {label: {d["qid"]: d for d in read_jsonl(submission_path(work_dir, ann_file))}
             for label, work_dir in runs.items()}
    colors = dict(zip(runs, plt.cm.tab10.colors))
    labels = list(runs)
    fig, axes = plt.subplots(2 * len(queries), 1, figsize=(11, 3.3 * len(queries)),
                             gridspec_kw=dict(height_ratios=[1.1, 1] * len(queries), hspace=0.45))
    for q, item in enumerate(queries):
        bars, curves = axes[2 * q], axes[2 * q + 1]
        duration = item["duration"]
        rows = ["ground truth"] + labels
        for start, end in item["relevant_windows"]:
            bars.barh(0, end - start, left=start, color="0.35", height=0.6)
        for r, label in enumerate(labels, 1):
            start, end, score = preds[label][item["qid"]]["pred_relevant_windows"][0]
            bars.barh(r, end - start, left=start, color=colors[label], height=0.6)
            bars.text(end + 0.005 * duration, r, f"{start:.0f}-{end:.0f} s ({score:.2f})", va="center", fontsize=7)
        bars.set_yticks(range(len(rows)), rows, fontsize=8)
        bars.set_ylim(len(rows) - 0.5, -0.5)
        bars.set_xlim(0, duration)
        bars.set_xticks([])
        bars.set_title(f"qid {item['qid']}: \"{item['query']}\"", fontsize=10, loc="left")

        n_clips = int(duration / clip_len)
        centres = (np.arange(n_clips) + 0.5) * clip_len
        if "saliency_scores" in item:
            reference = np.zeros(n_clips)
            reference[item["relevant_clip_ids"]] = np.mean(item["saliency_scores"], axis=1)
            curves.fill_between(centres, reference / 4, step="mid", color="0.85", label="annotators (mean / 4)")
        for label in labels:
            scores = preds[label][item["qid"]]["pred_saliency_scores"][:n_clips]
            curves.plot(centres[:len(scores)], normalise(scores), color=colors[label], lw=1.2, label=label)
        curves.set_xlim(0, duration)
        curves.set_ylim(-0.05, 1.05)
        curves.set_ylabel("saliency", fontsize=8)
        curves.tick_params(labelsize=7)
        if q == len(queries) - 1:
            curves.set_xlabel("time (s)", fontsize=8)
    axes[1].legend(fontsize=7, ncol=len(labels) + 1, loc="upper right", bbox_to_anchor=(1.0, 1.32))
    fig.suptitle(f"video {queries[0]['vid']}: top-ranked window and saliency per model", fontsize=11)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
