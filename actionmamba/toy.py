"""A small synthetic THUMOS14-format data set: annotation json + one T x C .npy per video.

Videos hold several actions of a few classes, from very short (3 feature steps) to long (90 steps),
on a noisy background. A class shows as its own prototype direction (classes share part of it, so
they are confusable) whose strength ramps up and down over a few steps, so boundaries are ambiguous.
Grid and seconds are tied by the THUMOS mapping (fps 30, feat_stride 4, num_frames 16).
"""
import json
import os

import numpy as np

CLASSES = ("Jump", "Throw", "Dive", "Swing", "Run")
FPS, FEAT_STRIDE, NUM_FRAMES = 30.0, 4, 16
FEAT_DIM = 32
SPLITS = (("validation", 48), ("test", 24))  # THUMOS trains on 'validation' and tests on 'test'


def _grid_to_seconds(g):
    return (g * FEAT_STRIDE + 0.5 * NUM_FRAMES) / FPS


def _video(rng, prototypes):
    """One video with at least two actions."""
    while True:
        feats, duration, annotations = _draw_video(rng, prototypes)
        if len(annotations) >= 2:
            return feats, duration, annotations


def _draw_video(rng, prototypes):
    length = int(rng.integers(160, 257))
    duration = _grid_to_seconds(length - 1) + 0.5 * NUM_FRAMES / FPS
    feats = rng.normal(0.0, 0.8, size=(length, FEAT_DIM))
    feats += 0.5 * np.sin(np.arange(length)[:, None] / rng.uniform(5, 20) + rng.uniform(0, 6, FEAT_DIM))  # drift
    t = np.arange(length)
    annotations, cursor = [], int(rng.integers(2, 20))
    while True:
        seg_len = int(np.exp(rng.uniform(np.log(3), np.log(90))))  # log-uniform: many short, some long
        if cursor + seg_len >= length - 2:
            break
        label = int(rng.integers(len(CLASSES)))
        start, end = cursor, cursor + seg_len
        ramp = rng.uniform(0.7, 1.5)  # soft edges: the class signal fades in and out
        strength = 1 / (1 + np.exp(-(t - start) / ramp)) / (1 + np.exp((t - end) / ramp))
        feats += strength[:, None] * rng.uniform(1.2, 1.8) * prototypes[label]
        annotations.append(dict(segment=[round(_grid_to_seconds(start), 3), round(_grid_to_seconds(end), 3)],
                                label=CLASSES[label], label_id=label))
        cursor = end + int(rng.integers(4, 40))
    return feats.astype(np.float32), round(duration, 3), annotations


def make_toy_data(out_dir, seed=0):
    """Write out_dir/annotations.json and out_dir/features/<video_id>.npy."""
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=FEAT_DIM)
    prototypes = 0.5 * shared + rng.normal(size=(len(CLASSES), FEAT_DIM))
    prototypes /= np.linalg.norm(prototypes, axis=1, keepdims=True) / 3.0
    os.makedirs(os.path.join(out_dir, "features"), exist_ok=True)
    database = {}
    for subset, count in SPLITS:
        for i in range(count):
            vid = f"video_{subset}_{i:04d}"
            feats, duration, annotations = _video(rng, prototypes)
            np.save(os.path.join(out_dir, "features", vid + ".npy"), feats)
            database[vid] = dict(subset=subset, duration=duration, fps=FPS, annotations=annotations)
    with open(os.path.join(out_dir, "annotations.json"), "w") as f:
        json.dump(dict(database=database), f, indent=1)
