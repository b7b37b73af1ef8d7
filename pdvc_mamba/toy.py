"""A small synthetic ActivityNet Captions set, in PDVC's layout and formats:

    captiondata/train_modified.json, val_1.json, val_2.json       caption jsons
    captiondata/para/anet_entities_val_{1,2}_para.json           paragraph references
    vocabulary_activitynet.json                                   vocabulary (PDVC's build_vocab rules)
    features/c3d/<video id>.npy                                   T x 500 "C3D" features

A video (30-100 s, one feature step per second) holds 1-3 events. An event is one of EVENT_TYPES: its
frames carry the type's own direction in feature space, fading in and out over a couple of steps, on
noise and a slow drift; its caption is the type's "<who> <does> <which> <what>" sentence. So the pattern gives
both the boundaries and the words; no word is shared between types, so a caption of the wrong type
scores near zero. val_2 re-annotates val_1's videos with boundaries moved by a few percent.
"""
import json
import os

import numpy as np

EVENT_TYPES = (
    ("chef", "slices", "ripe", "tomatoes"), ("dog", "chases", "red", "frisbee"),
    ("girl", "paints", "wooden", "fence"), ("man", "lifts", "heavy", "weights"),
    ("boy", "kicks", "leather", "football"), ("woman", "waters", "garden", "flowers"),
    ("player", "dribbles", "orange", "basketball"), ("mechanic", "repairs", "broken", "bicycle"),
)
FEATURE_DIM = 500  # C3D
SPLITS = (("train_modified", 160), ("val_1", 50))
COUNT_THRESHOLD = 2  # PDVC keeps words seen at least 4 (ActivityNet) / 2 (YouCook2) times


def sentence(event_type):
    who, does, which, what = EVENT_TYPES[event_type]
    return f"{who.capitalize()} {does} {which} {what}."


def build_vocabulary(sentences, threshold=COUNT_THRESHOLD):
    """PDVC's misc/build_vocab.py: words in order of first appearance, <bos> and <eos>, those seen at least
    `threshold` times, then UNK; ids from 1."""
    counts = {}
    for s in sentences:
        for mark in (",", ":", "!", "_", ";", "-", ".", "?", "/", '"', "\\n", "\\"):
            s = s.replace(mark, " ")
        for word in " ".join(s.split()).lower().split(" "):
            counts[word] = counts.get(word, 0) + 1
    counts["<bos>"] = counts["<eos>"] = float("inf")
    words = [w for w, n in counts.items() if n >= threshold] + ["UNK"]
    return {"ix_to_word": {str(i + 1): w for i, w in enumerate(words)},
            "word_to_ix": {w: i + 1 for i, w in enumerate(words)}}


def _video(rng, prototypes):
    duration = float(rng.integers(30, 101))
    length = int(duration)  # one feature step per second
    t = np.arange(length)
    feats = rng.normal(0.0, 1.0, size=(length, FEATURE_DIM))
    feats += 0.5 * np.sin(t[:, None] / rng.uniform(4, 12) + rng.uniform(0, 6, FEATURE_DIM))
    n_events = int(rng.integers(1, 4))
    # non-overlapping events, each 10-40% of the video, separated by gaps
    while True:
        lengths = rng.uniform(0.1, 0.4, n_events) * duration
        slack = duration - lengths.sum()
        if slack > 2 * (n_events + 1):
            break
    gaps = rng.dirichlet(np.ones(n_events + 1)) * slack
    stamps, types, cursor = [], [], 0.0
    for i in range(n_events):
        start = cursor + gaps[i]
        end = start + lengths[i]
        cursor = end
        kind = int(rng.integers(len(EVENT_TYPES)))
        ramp = rng.uniform(0.5, 1.5)
        strength = 1 / (1 + np.exp(-(t + 0.5 - start) / ramp)) / (1 + np.exp((t + 0.5 - end) / ramp))
        feats += strength[:, None] * prototypes[kind]
        stamps.append([round(start, 2), round(end, 2)])
        types.append(kind)
    return feats.astype(np.float32), duration, stamps, types


def make_toy_data(out_dir, seed=0, n_train=SPLITS[0][1], n_val=SPLITS[1][1]):
    """Write the data set (layout in the module docstring) into out_dir."""
    rng = np.random.default_rng(seed)
    prototypes = rng.normal(0.0, 1.0, size=(len(EVENT_TYPES), FEATURE_DIM)) * 0.6
    feature_dir = os.path.join(out_dir, "features", "c3d")
    os.makedirs(feature_dir, exist_ok=True)
    os.makedirs(os.path.join(out_dir, "captiondata", "para"), exist_ok=True)
    splits = {}
    for (split, _), count in zip(SPLITS, (n_train, n_val)):
        videos = {}
        for i in range(count):
            vid = f"v_toy{split[0]}{len(videos):07d}"
            feats, duration, stamps, types = _video(rng, prototypes)
            np.save(os.path.join(feature_dir, vid + ".npy"), feats)
            videos[vid] = dict(duration=duration, timestamps=stamps, sentences=[sentence(k) for k in types])
        splits[split] = videos
    # a second annotator: the same events, boundaries moved by up to 3% of the video
    splits["val_2"] = {}
    for vid, video in splits["val_1"].items():
        d = video["duration"]
        moved = [[round(float(np.clip(s + rng.uniform(-0.03, 0.03) * d, 0, d)), 2),
                  round(float(np.clip(e + rng.uniform(-0.03, 0.03) * d, 0, d)), 2)] for s, e in video["timestamps"]]
        moved = [[min(s, e), max(s, e)] for s, e in moved]
        splits["val_2"][vid] = dict(duration=d, timestamps=moved, sentences=list(video["sentences"]))
    for split, videos in splits.items():
        _dump(os.path.join(out_dir, "captiondata", f"{split}.json"), videos)
    for k in (1, 2):  # paragraphs as PDVC's YouCook2 script builds them: the sentences joined with '. '
        paragraphs = {vid: ". ".join(v["sentences"]) for vid, v in splits[f"val_{k}"].items()}
        _dump(os.path.join(out_dir, "captiondata", "para", f"anet_entities_val_{k}_para.json"), paragraphs)
    all_sentences = [s for videos in splits.values() for v in videos.values() for s in v["sentences"]]
    _dump(os.path.join(out_dir, "vocabulary_activitynet.json"), build_vocabulary(all_sentences))


def _dump(path, data):
    with open(path, "w") as f:
        json.dump(data, f)
