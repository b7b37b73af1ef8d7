"""Moment-DETR / UniVTG data: metadata jsonl, per-video feature folders, per-query text features.

UniVTG's layout, data/<name>/ (QVHighlights: 2 s clips; Charades-STA: 1 s clips):
    metadata/<name>_<split>.jsonl   one query per line: qid, query, vid, duration (s), relevant_windows
                                    [[st, ed], ...] in seconds; QVHighlights adds relevant_clip_ids and
                                    saliency_scores (3 annotators, 0..4, one triple per relevant clip);
                                    its test split carries no labels at all
    vid_slowfast/<vid>.npz          "features": (clips, 2304) SlowFast R50, one row per clip
    vid_clip/<vid>.npz              "features": (clips, 512) CLIP ViT-B/32
    txt_clip/<qid>.npz              "last_hidden_state": (tokens, 512) CLIP text tokens (and "pooler_output")

Read as UniVTG's DatasetMR reads them: each video stream L2-normalised per clip (eps 1e-5), the streams cut
to the shortest (they may differ by one clip, as real SlowFast / CLIP features do; by more is an error naming
the files, checked for every video from the file headers when the data set is built) and concatenated in the
configured order, then the temporal endpoint feature [t / L,
(t + 1) / L] appended (ctx_mode "video_tef"); text tokens L2-normalised; nothing truncated.

Targets, UniVTG's dense formulation (every clip predicts): clip t's anchor is (t + clip_len / 2) / L (UniVTG's
formula: with 2 s clips that is the clip's end), span_labels_nn the (normalised) ground-truth window that
contains the anchor, timestamp_window 1 on those clips, saliency the mean annotator score per clip
(QVHighlights) or timestamp_window (Charades-STA), and one positive clip for the saliency losses.
"""
import os
import random

import numpy as np
import torch

from common.checks import InputError, check_finite, check_lengths
from common.engine import DATASETS, FUNCTIONS
from common.io import array_shape, load_array
from .metrics import check_ground_truth, check_unique_qids, has_labels, is_number, read_jsonl

L2_EPS = 1e-5  # UniVTG's l2_normalize_np_array
# Clips the video streams of one video may differ by: upstream cuts to the shortest because "some features are
# slightly longer than the others" (SlowFast and CLIP features of one QVHighlights video, extracted with their
# own clip boundaries, end one clip apart); more than that is another video's file or a broken extraction.
STREAM_LENGTH_TOLERANCE = 1


def check_feature_shape(path, key, shape, width):
    if len(shape) != 2 or shape[1] != width or shape[0] == 0:
        raise InputError(f"{path}: expected a (rows >= 1, {width}) array under {key!r}, found shape {tuple(shape)}")


def load_npz_array(path, key, width):
    """One (rows, width) float32 array stored under `key` of an .npz file (common.io.load_array: nothing is
    unpickled); errors name the file."""
    array = load_array(path, key)
    check_feature_shape(path, key, array.shape, width)
    return check_finite(array, path, what=f"{key!r} values").astype(np.float32)


def l2_normalize(x):
    return x / (np.linalg.norm(x, axis=-1, keepdims=True) + L2_EPS)


def clip_targets(windows, n_clips, clip_len):
    """UniVTG's per-clip moment targets for windows [[st, ed], ...] in seconds.

    Returns timestamp (L,), span_labels_nn (L, 2) (window of the clip, normalised by L * clip_len, zeros
    where no window contains the clip's anchor) and timestamp_window (L,) (1 inside a window). Where windows
    overlap, a clip takes the later one; when no anchor falls in any window, every clip takes the first
    window and the clip at its start is marked (UniVTG's ActivityNet fallback)."""
    timestamp = (torch.arange(n_clips) + clip_len / 2) / n_clips
    first_start = windows[0][0]
    windows = torch.tensor(windows, dtype=torch.float32) / (n_clips * clip_len)
    inside = (timestamp[:, None] >= windows[None, :, 0]) & (timestamp[:, None] <= windows[None, :, 1])
    if inside.any():
        last = inside.shape[1] - 1 - inside.flip(1).int().argmax(1)
        span = torch.where(inside.any(1, keepdim=True), windows[last], torch.zeros(2))
    else:
        span = windows[:1].expand(n_clips, 2)
    in_window = ((timestamp >= span[:, 0]) & (timestamp <= span[:, 1])).float()
    if in_window.sum() < 1:
        in_window[max(0, min(int(first_start / clip_len), n_clips - 1))] = 1
    return timestamp, span.clone(), in_window


def saliency_targets(item, n_clips, in_window, positive, rng=random):
    """(per-clip saliency (L,), index of the positive clip) for the saliency losses.

    QVHighlights: the mean annotator score at relevant_clip_ids (clips past the features are dropped);
    positive = a random relevant clip (positive="random", UniVTG's easy_negative_only=1) or the clip with
    the highest summed score ("top", easy_negative_only=-1; also "random"'s choice when every clip is
    relevant). Without saliency labels (Charades-STA): timestamp_window and a random clip inside it."""
    if "saliency_scores" not in item:
        return in_window.clone(), rng.choice(torch.nonzero(in_window)[:, 0].tolist())
    ids = np.array(item["relevant_clip_ids"], dtype=int)
    scores = np.array(item["saliency_scores"], dtype=float).reshape(-1, 3)
    keep = ids < n_clips
    ids, scores = ids[keep], scores[keep]
    saliency = torch.zeros(n_clips)
    if len(ids) == 0:
        return saliency, 0
    saliency[torch.from_numpy(ids)] = torch.from_numpy(scores.mean(1)).float()
    if positive == "random" and len(ids) < n_clips:
        return saliency, int(rng.sample(ids.tolist(), k=1)[0])
    return saliency, int(ids[np.argsort(scores.sum(1))[-1]])


@DATASETS.register_module()
class MomentRetrievalDataset(torch.utils.data.Dataset):
    """One query per item: its text tokens, its video's clip features and (when labelled) UniVTG's targets.

    video_feat_dirs: one folder per stream, in concatenation order (SlowFast, then CLIP); video_feat_dims their
    widths (checked); the model's video input is sum(video_feat_dims) + 2 with use_tef. cache_features keeps
    every loaded (normalised) feature in memory, as upstream's use_cache (per data-loader worker).
    """

    def __init__(self, ann_file, video_feat_dirs, text_feat_dir, video_feat_dims, text_feat_dim=512, clip_len=2.0,
                 use_tef=True, normalize_video=True, normalize_text=True, text_key="last_hidden_state",
                 saliency_positive="random", cache_features=False):
        if len(video_feat_dirs) != len(video_feat_dims) or not video_feat_dirs:
            raise ValueError(f"video_feat_dirs {video_feat_dirs} and video_feat_dims {video_feat_dims} must pair up")
        if saliency_positive not in ("random", "top"):
            raise ValueError(f"saliency_positive must be 'random' or 'top', got {saliency_positive!r}")
        self.ann_file, self.video_feat_dirs, self.text_feat_dir = ann_file, list(video_feat_dirs), text_feat_dir
        self.video_feat_dims, self.text_feat_dim, self.clip_len = list(video_feat_dims), text_feat_dim, clip_len
        self.use_tef, self.normalize_video, self.normalize_text = use_tef, normalize_video, normalize_text
        self.text_key, self.saliency_positive = text_key, saliency_positive
        self.cache = {} if cache_features else None

        self.items = read_jsonl(ann_file)
        self.labelled = has_labels(self.items, ann_file)
        if self.labelled:
            check_ground_truth(self.items, ann_file)
        else:
            check_unique_qids(self.items, ann_file)
        for item in self.items:
            if not isinstance(item.get("vid"), str) or not isinstance(item.get("query"), str):
                raise ValueError(f"{ann_file}: qid {item.get('qid')!r}: expected string 'vid' and 'query'")
            if not is_number(item.get("duration")) or item["duration"] <= 0:
                raise ValueError(f"{ann_file}: qid {item['qid']!r}: expected a positive 'duration' in seconds")
        missing = [p for item in self.items for p in self.feature_paths(item) if not os.path.isfile(p)]
        if missing:
            raise FileNotFoundError(f"{ann_file}: {len(missing)} feature files not found, e.g. {missing[:3]}")
        self.check_feature_files()

    def check_feature_files(self):
        """Every feature file's shape (from its header): widths, at least one row, and a video's streams within
        STREAM_LENGTH_TOLERANCE clips of each other; a video's queries must agree on its duration."""
        durations = {}
        for item in self.items:
            if durations.setdefault(item["vid"], item["duration"]) != item["duration"]:
                raise InputError(f"{self.ann_file}: qid {item['qid']!r}: video {item['vid']!r} has duration "
                                 f"{item['duration']}, another query of it {durations[item['vid']]}")
            text = self.feature_paths(item)[-1]
            check_feature_shape(text, self.text_key, array_shape(text, self.text_key), self.text_feat_dim)
        for item in {item["vid"]: item for item in self.items}.values():
            self.stream_lengths(item, {path: array_shape(path, "features")
                                       for path in self.feature_paths(item)[:-1]})

    def stream_lengths(self, item, shapes):
        """Checks the video streams' shapes ({path: shape}); returns the clips they share."""
        for (path, shape), width in zip(shapes.items(), self.video_feat_dims):
            check_feature_shape(path, "features", shape, width)
        return check_lengths({path: shape[0] for path, shape in shapes.items()}, f"{self.ann_file}: video "
                             f"{item['vid']!r}", tolerance=STREAM_LENGTH_TOLERANCE, what="clips")

    @property
    def metainfo(self):
        """Handed by the runner to the metric: where the ground truth lives."""
        return dict(ann_file=self.ann_file)

    @property
    def video_dim(self):
        return sum(self.video_feat_dims) + 2 * self.use_tef

    def feature_paths(self, item):
        return [os.path.join(d, f"{item['vid']}.npz") for d in self.video_feat_dirs] + [
            os.path.join(self.text_feat_dir, f"{item['qid']}.npz")]

    def __len__(self):
        return len(self.items)

    def load_video(self, item):
        paths = self.feature_paths(item)[:-1]
        streams = [load_npz_array(path, "features", dim) for path, dim in zip(paths, self.video_feat_dims)]
        n_clips = self.stream_lengths(item, {path: s.shape for path, s in zip(paths, streams)})
        if self.normalize_video:
            streams = [l2_normalize(s) for s in streams]
        video = torch.from_numpy(np.concatenate([s[:n_clips] for s in streams], axis=1))
        if self.use_tef:
            start = torch.arange(n_clips, dtype=torch.float32) / n_clips
            video = torch.cat([video, torch.stack([start, start + 1.0 / n_clips], dim=1)], dim=1)
        return video

    def load_text(self, item):
        text = load_npz_array(self.feature_paths(item)[-1], self.text_key, self.text_feat_dim)
        return torch.from_numpy(l2_normalize(text) if self.normalize_text else text)

    def cached(self, kind, key, load):
        if self.cache is None:
            return load()
        if (kind, key) not in self.cache:
            self.cache[kind, key] = load()
        return self.cache[kind, key]

    def __getitem__(self, idx):
        item = self.items[idx]
        video = self.cached("video", item["vid"], lambda: self.load_video(item))
        text = self.cached("text", item["qid"], lambda: self.load_text(item))
        sample = dict(qid=item["qid"], query=item["query"], vid=item["vid"], duration=float(item["duration"]),
                      clip_len=self.clip_len)
        if self.labelled:
            n_clips = len(video)
            timestamp, span, in_window = clip_targets(item["relevant_windows"], n_clips, self.clip_len)
            saliency, positive = saliency_targets(item, n_clips, in_window, self.saliency_positive)
            sample.update(timestamp=timestamp, span_labels_nn=span, timestamp_window=in_window,
                          saliency_scores=saliency, saliency_pos=positive)
        return dict(text=text, video=video, sample=sample)


def pad_stack(tensors):
    """Zero-padded (B, L_max, ...) and the (B, L_max) bool mask of valid rows."""
    lengths = torch.tensor([len(t) for t in tensors])
    out = tensors[0].new_zeros((len(tensors), int(lengths.max())) + tuple(tensors[0].shape[1:]))
    for i, t in enumerate(tensors):
        out[i, :len(t)] = t
    return out, torch.arange(out.shape[1]) < lengths[:, None]


@FUNCTIONS.register_module()
def moment_collate(batch):
    """Queries -> inputs (text, text_mask, video, video_mask; zero-padded) and the per-query samples."""
    text, text_mask = pad_stack([b["text"] for b in batch])
    video, video_mask = pad_stack([b["video"] for b in batch])
    return dict(inputs=dict(text=text, text_mask=text_mask, video=video, video_mask=video_mask),
                data_samples=[b["sample"] for b in batch])
