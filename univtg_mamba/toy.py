"""A small synthetic QVHighlights-format set where the query decides which moment is meant.

Every video (2 s clips, 18-36 of them) shows two or three events of different types on a drifting, noisy
background; in two videos out of five one of its events recurs in a second window. An event marks its clips
in both video streams with its type's prototype, its strength peaking mid-window (soft edges), and the
annotators' 0..4 saliency follows the same peak, with disagreement. Each event gives one query: filler words
plus the event's own word, as CLIP-like tokens (causal context, a closing summary token). The video alone
cannot tell which of its events a query means, so a model that ignores the query can at best pick one of
them. Windows run 4 to 36 s: QVHighlights' short / middle / long ranges are all populated.

Written exactly as UniVTG's data/qvhighlights: metadata/qvhighlights_{train,val}.jsonl,
vid_slowfast/<vid>.npz and vid_clip/<vid>.npz ("features"), txt_clip/<qid>.npz ("last_hidden_state",
"pooler_output"); feature widths SLOWFAST_DIM / CLIP_DIM / TEXT_DIM instead of 2304 / 512 / 512.
"""
import json
import os

import numpy as np

EVENTS = ("jumping", "cooking", "dancing", "swimming", "driving", "reading", "painting", "cycling", "singing",
          "climbing")
FILLERS = ("a", "the", "person", "someone", "is", "while", "in", "room", "outside", "slowly", "two", "people")
SLOWFAST_DIM, CLIP_DIM, TEXT_DIM = 32, 16, 16
CLIP_LEN = 2
VIDEOS = (200, 40)  # train, val


def _place_windows(rng, n_clips, count):
    """`count` disjoint windows [start, end) in clips, 2-18 clips long (each drawn within the room left), a clip
    apart, in random order and positions."""
    room = n_clips - (count - 1)
    lengths = []
    for i in range(count):
        cap = min(18, room - sum(lengths) - 2 * (count - 1 - i))
        lengths.append(int(rng.integers(2, cap + 1)))
    lengths = rng.permutation(lengths)
    offsets = np.sort(rng.integers(0, room - lengths.sum() + 1, count))
    starts = offsets + np.concatenate([[0], np.cumsum(lengths[:-1] + 1)])
    return [(int(s), int(s + n)) for s, n in zip(starts, lengths)]


def _video(rng, protos):
    """Features of one video and its queries' labels: [(event, [(start, end) clips]), profile per clip]."""
    n_clips = int(rng.integers(18, 37))
    n_events = int(rng.integers(2, 4))
    events = rng.choice(len(EVENTS), n_events, replace=False)
    repeats = np.zeros(n_events, dtype=bool)
    repeats[rng.integers(n_events)] = rng.random() < 0.4
    windows = _place_windows(rng, n_clips, n_events + int(repeats.sum()))
    order = rng.permutation(len(windows))
    owner = list(range(n_events)) + [i for i in range(n_events) if repeats[i]]

    t = np.arange(n_clips)[:, None]
    drift = 0.4 * np.sin(t / rng.uniform(3, 8) + rng.uniform(0, 6, SLOWFAST_DIM + CLIP_DIM))
    feats = rng.normal(0, 0.6, (n_clips, SLOWFAST_DIM + CLIP_DIM)) + drift + rng.normal(0, 0.5, SLOWFAST_DIM + CLIP_DIM)
    queries = [(int(e), [], np.zeros(n_clips)) for e in events]
    for k, w in zip(order, range(len(windows))):
        start, end = windows[k]
        centre, half = (start + end - 1) / 2, (end - start) / 2
        profile = np.clip(1.0 - 0.7 * (np.abs(np.arange(start, end) - centre) / max(half, 1)) ** 2, 0.2, 1.0)
        event, spans, saliency = queries[owner[w]]
        feats[start:end] += rng.uniform(1.0, 1.6) * profile[:, None] * protos[event]
        spans.append((start, end))
        saliency[start:end] = profile
    return feats.astype(np.float32), n_clips, queries


def _query_tokens(rng, event, words):
    """CLIP-like token features: CLIP's text encoder is causal, so each token also carries the words before it,
    and the closing (EOT) token sums the sentence up, dominated by its content word."""
    fillers = list(rng.choice(len(FILLERS), int(rng.integers(2, 6))))
    position = int(rng.integers(0, len(fillers) + 1))
    tokens = fillers[:position] + [len(FILLERS) + event] + fillers[position:]
    text = " ".join((FILLERS + EVENTS)[i] for i in tokens)
    own = words[tokens]
    context = np.cumsum(own, axis=0) / np.arange(1, len(tokens) + 1)[:, None]
    eot = words[len(FILLERS) + event] + 0.3 * words[fillers].mean(0)
    feats = np.vstack([0.5 * own + 0.5 * context, eot]) + rng.normal(0, 0.3, (len(tokens) + 1, TEXT_DIM))
    return text, feats.astype(np.float32)


def make_toy_data(out_dir, seed=0, videos=VIDEOS):
    """Write the metadata and feature folders under out_dir; `videos`: (train, val) video counts."""
    rng = np.random.default_rng(seed)
    protos = rng.normal(size=(len(EVENTS), SLOWFAST_DIM + CLIP_DIM))
    protos /= np.linalg.norm(protos, axis=1, keepdims=True) / 6.0
    words = rng.normal(size=(len(FILLERS) + len(EVENTS), TEXT_DIM))
    for folder in ("metadata", "vid_slowfast", "vid_clip", "txt_clip"):
        os.makedirs(os.path.join(out_dir, folder), exist_ok=True)
    qid = 0
    for split, n_videos in zip(("train", "val"), videos):
        lines = []
        for v in range(n_videos):
            vid = f"toy_{split}_{v:04d}"
            feats, n_clips, queries = _video(rng, protos)
            np.savez(os.path.join(out_dir, "vid_slowfast", vid + ".npz"), features=feats[:, :SLOWFAST_DIM])
            np.savez(os.path.join(out_dir, "vid_clip", vid + ".npz"), features=feats[:, SLOWFAST_DIM:])
            for event, spans, profile in queries:
                text, tokens = _query_tokens(rng, event, words)
                np.savez(os.path.join(out_dir, "txt_clip", f"{qid}.npz"), last_hidden_state=tokens,
                         pooler_output=tokens.mean(0))
                clip_ids = [c for s, e in sorted(spans) for c in range(s, e)]
                base = 4 * profile[clip_ids]
                scores = np.clip(np.rint(base[:, None] + rng.normal(0, 0.7, (len(clip_ids), 3))), 0, 4).astype(int)
                lines.append(dict(qid=qid, query=text, duration=n_clips * CLIP_LEN, vid=vid,
                                  relevant_windows=[[s * CLIP_LEN, e * CLIP_LEN] for s, e in sorted(spans)],
                                  relevant_clip_ids=clip_ids, saliency_scores=scores.tolist()))
                qid += 1
        with open(os.path.join(out_dir, "metadata", f"qvhighlights_{split}.jsonl"), "w") as f:
            f.writelines(json.dumps(line) + "\n" for line in lines)
