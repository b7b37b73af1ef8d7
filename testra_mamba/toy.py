"""A small synthetic EPIC-Kitchens-100 set in TeSTra's layout with RULSTM's annotation CSVs.

Six participants: P01-P04 record training and validation videos, P05-P06 validation only (the unseen
subset). Actions are (verb, noun) pairs with Zipf-like frequencies (a long tail; tail ids as EK100 defines
them: the rarest classes holding the last 20% of training instances). Each video has a "recipe", three
nouns its actions use, so what happened earlier in the video predicts the nouns to come.
Features (4 fps, 2 streams): during a segment the flow stream shows its verb's prototype and the rgb stream
its noun's; 1 to 3 s before a segment starts its verb is announced in flow and, half of the time, its noun in
rgb (weaker, noisier), so anticipating 1 s ahead is learnable from the last seconds, and the noun is
otherwise best guessed from the recipe seen in the long memory.
"""
import csv
import os

import numpy as np

from .datasets import FEATURE_DIRS, FRAME_RATE, FPS, TARGET_DIRS

NUM_VERBS, NUM_NOUNS = 10, 16
FEATURE_DIM = 32  # per stream (EK100: 1024)
TRAIN = {f"P0{p}": 14 for p in range(1, 5)}  # participant -> training videos
VALIDATION = {"P01": 3, "P02": 3, "P03": 3, "P04": 3, "P05": 4, "P06": 4}
CUE = (12, 4)  # the announcement covers ticks [start - 12, start - 4): 3 s to 1 s before the start
TICK_FRAMES = FRAME_RATE / FPS  # 7.5


def _actions(rng):
    """(A, 2) verb, noun pairs: every noun goes with 3-5 verbs; frequencies Zipf over verbs and nouns."""
    pairs = [(v, n) for n in range(NUM_NOUNS)
             for v in sorted(rng.choice(NUM_VERBS, size=rng.integers(3, 6), replace=False))]
    verb_w, noun_w = 1.0 / np.arange(1, NUM_VERBS + 1), 1.0 / np.arange(1, NUM_NOUNS + 1)
    weights = np.array([verb_w[v] * noun_w[n] for v, n in pairs])
    return np.array(pairs), weights


def _video(rng, pairs, weights, protos):
    """Features (L, 2 * FEATURE_DIM) and [(start_frame, end_frame, action)]."""
    noun_w = np.bincount(pairs[:, 1], weights, minlength=NUM_NOUNS)
    recipe = rng.choice(NUM_NOUNS, size=3, replace=False, p=noun_w / noun_w.sum())
    allowed = np.isin(pairs[:, 1], recipe)
    p = np.where(allowed, weights, 0.0)
    length = int(rng.integers(360, 560))
    rgb = rng.normal(0, 0.6, (length, FEATURE_DIM))
    flow = rng.normal(0, 0.6, (length, FEATURE_DIM))
    segments, tick = [], int(rng.integers(2, 24))
    while True:
        duration = int(rng.integers(8, 28))
        if tick + duration >= length:
            break
        action = int(rng.choice(len(pairs), p=p / p.sum()))
        verb, noun = pairs[action]
        start_frame = int(np.ceil(tick * TICK_FRAMES)) + int(rng.integers(0, 7))
        end_frame = int((tick + duration) * TICK_FRAMES)
        start, end = start_frame * FPS // FRAME_RATE, -(-end_frame * FPS // FRAME_RATE)
        flow[start:end] += protos["verb"][verb]
        rgb[start:end] += protos["noun"][noun]
        cue = slice(max(0, start - CUE[0]), max(0, start - CUE[1]))
        flow[cue] += protos["verb"][verb] + rng.normal(0, 0.3, FEATURE_DIM)
        if rng.random() < 0.6:
            rgb[cue] += 0.8 * protos["noun"][noun] + rng.normal(0, 0.25, FEATURE_DIM)
        segments.append((start_frame, end_frame, action))
        tick += duration + int(rng.integers(CUE[0], 30))
    return np.concatenate([rgb, flow], axis=1).astype(np.float32), segments


def _targets(length, segments, pairs):
    """TeSTra's generate_targets: ticks [floor(start / 7.5), ceil(end / 7.5)) multi-hot, column 0 background."""
    out = [np.zeros((length, n + 1)) for n in (len(pairs), NUM_VERBS, NUM_NOUNS)]
    for t in out:
        t[:, 0] = 1
    for start_frame, end_frame, action in segments:
        ticks = slice(int(np.floor(start_frame / TICK_FRAMES)), min(int(np.ceil(end_frame / TICK_FRAMES)), length))
        for t, cls in zip(out, (action, *pairs[action])):
            t[ticks, cls + 1] = 1
            t[ticks, 0] = 0
    return out


def _tail_classes(labels, num_classes):
    """EK100's tail: the rarest classes that together hold the last 20% of training instances."""
    counts = np.bincount(labels, minlength=num_classes)
    order = np.argsort(-counts, kind="stable")
    covered = np.cumsum(counts[order]) / counts.sum()
    head = order[: np.searchsorted(covered, 0.8) + 1]
    return set(range(num_classes)) - set(head.tolist())


def _write_rows(path, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)


def make_toy_data(out_dir, seed=0):
    """Write the features, per-frame targets and RULSTM CSVs under out_dir (annotations in out_dir/annotations)."""
    rng = np.random.default_rng(seed)
    pairs, weights = _actions(rng)
    protos = {k: 2.0 * rng.normal(size=(n, FEATURE_DIM)) / np.sqrt(FEATURE_DIM) * 1.5
              for k, n in (("verb", NUM_VERBS), ("noun", NUM_NOUNS))}
    ann_dir = os.path.join(out_dir, "annotations")
    for folder in (*FEATURE_DIRS, *TARGET_DIRS, "annotations"):
        os.makedirs(os.path.join(out_dir, folder), exist_ok=True)
    rows = {}
    for split, videos in (("training", TRAIN), ("validation", VALIDATION)):
        rows[split] = []
        for participant, count in videos.items():
            for k in range(count):
                video = f"{participant}_{k + (1 if split == 'training' else 101):02d}"
                feats, segments = _video(rng, pairs, weights, protos)
                np.save(os.path.join(out_dir, FEATURE_DIRS[0], video + ".npy"), feats[:, :FEATURE_DIM])
                np.save(os.path.join(out_dir, FEATURE_DIRS[1], video + ".npy"), feats[:, FEATURE_DIM:])
                for folder, target in zip(TARGET_DIRS, _targets(len(feats), segments, pairs)):
                    np.save(os.path.join(out_dir, folder, video + ".npy"), target)
                rows[split] += [(f"{video}_{i}", video, s, e, *pairs[a], a) for i, (s, e, a) in enumerate(segments)]
        _write_rows(os.path.join(ann_dir, f"{split}.csv"), rows[split])
    _write_rows(os.path.join(ann_dir, "actions.csv"),
                [("id", "verb", "noun", "action")] + [(a, v, n, f"verb{v} noun{n}") for a, (v, n) in enumerate(pairs)])
    train = np.array([r[4:] for r in rows["training"]])
    for name, column, num in (("verbs", 0, NUM_VERBS), ("nouns", 1, NUM_NOUNS), ("actions", 2, len(pairs))):
        tail = _tail_classes(train[:, column], num)
        _write_rows(os.path.join(ann_dir, f"validation_tail_{name}_ids.csv"),
                    [(r[0],) for r in rows["validation"] if r[4 + column] in tail])
    seen = set(TRAIN)
    _write_rows(os.path.join(ann_dir, "validation_unseen_participants_ids.csv"),
                [(r[0],) for r in rows["validation"] if r[1].split("_")[0] not in seen])
    print(f"toy set: {len(pairs)} actions, chance level of the class-mean top-5 action recall "
          f"{100 * min(5, len(pairs)) / len(pairs):.2f}%")
