"""A small synthetic data set in GTEA's on-disk layout (see asmamba/datasets.py).

4 subjects x 5 recipes = 20 videos of ~200 frames; split K tests subject K (5 videos) and trains on
the other 15, as GTEA's leave-one-subject-out splits. A video follows its recipe's ordered actions
(an action is sometimes skipped), with segments of variable length and background in between.

Features: a 16-d latent per frame, mapped to 2048-d by a fixed random projection plus small
isotropic noise. The latent is the class prototype + strong per-frame noise + a per-subject offset
+ a slow random-walk drift. Prototypes come in similar-looking pairs (take/put, open/close, ...),
so a single frame is often ambiguous (the nearest true prototype is right for 62% of the frames
of seed 0) while averaging a segment, or knowing the recipe order, resolves it.
"""
import os

import numpy as np

CLASSES = ("take", "open", "pour", "close", "shake", "scoop", "stir", "put", "fold", "spread", "background")
RECIPES = {
    "Coffee": ("take", "open", "scoop", "pour", "close", "stir"),
    "Tea": ("take", "open", "pour", "close", "shake", "put"),
    "Peanut": ("take", "open", "scoop", "spread", "close", "fold"),
    "Cheese": ("take", "open", "take", "spread", "fold", "put"),
    "Hotdog": ("take", "put", "open", "pour", "close", "fold"),
}
NUM_SUBJECTS = 4
FEATURE_DIM, LATENT_DIM = 2048, 16
SEGMENT_LEN, GAP_LEN, EDGE_LEN = (15, 40), (0, 10), (5, 20)  # frames, inclusive ranges
SKIP_PROB = 0.15
FRAME_NOISE, SUBJECT_OFFSET, DRIFT_STEP, FEATURE_NOISE = 2.0, 0.3, 0.07, 0.1


def _labels(recipe, rng):
    """Frame-wise class names of one video following `recipe`."""
    frames = ["background"] * int(rng.integers(EDGE_LEN[0], EDGE_LEN[1] + 1))
    for i, action in enumerate(recipe):
        if i > 0:
            if rng.random() < SKIP_PROB:
                continue
            frames += ["background"] * int(rng.integers(GAP_LEN[0], GAP_LEN[1] + 1))
        frames += [action] * int(rng.integers(SEGMENT_LEN[0], SEGMENT_LEN[1] + 1))
    return frames + ["background"] * int(rng.integers(EDGE_LEN[0], EDGE_LEN[1] + 1))


def make_toy_data(out_dir: str, seed: int = 0) -> None:
    """Write the toy set (features/, groundTruth/, mapping.txt, splits/) under `out_dir`."""
    rng = np.random.default_rng(seed)
    pair_base = rng.normal(size=(len(CLASSES) // 2, LATENT_DIM))
    prototypes = np.concatenate([
        pair_base.repeat(2, axis=0) + 0.8 * rng.normal(size=(len(CLASSES) - 1, LATENT_DIM)),
        0.5 * rng.normal(size=(1, LATENT_DIM)),  # background
    ])
    projection = rng.normal(size=(FEATURE_DIM, LATENT_DIM)) / np.sqrt(LATENT_DIM)
    class_id = {name: i for i, name in enumerate(CLASSES)}

    for sub in ("features", "groundTruth", "splits"):
        os.makedirs(os.path.join(out_dir, sub), exist_ok=True)
    with open(os.path.join(out_dir, "mapping.txt"), "w") as f:
        f.writelines(f"{i} {name}\n" for i, name in enumerate(CLASSES))

    videos_of = {}
    for subject in range(1, NUM_SUBJECTS + 1):
        offset = SUBJECT_OFFSET * rng.normal(size=LATENT_DIM)
        for recipe, actions in RECIPES.items():
            video = f"S{subject}_{recipe}_C1"
            labels = _labels(actions, rng)
            t = len(labels)
            drift = np.cumsum(DRIFT_STEP * rng.normal(size=(t, LATENT_DIM)), axis=0)
            latent = prototypes[[class_id[n] for n in labels]] + offset + drift
            latent += FRAME_NOISE * rng.normal(size=(t, LATENT_DIM))
            features = latent @ projection.T + FEATURE_NOISE * rng.normal(size=(t, FEATURE_DIM))
            np.save(os.path.join(out_dir, "features", video + ".npy"), features.T.astype(np.float32))
            with open(os.path.join(out_dir, "groundTruth", video + ".txt"), "w") as f:
                f.writelines(name + "\n" for name in labels)
            videos_of.setdefault(subject, []).append(video)

    for split in range(1, NUM_SUBJECTS + 1):
        for subset, subjects in (("train", [s for s in videos_of if s != split]), ("test", [split])):
            with open(os.path.join(out_dir, "splits", f"{subset}.split{split}.bundle"), "w") as f:
                f.writelines(f"{v}.txt\n" for s in subjects for v in videos_of[s])
