"""ActionFormer's on-disk data: annotation json, per-video feature files, time <-> grid mapping, crops.

Annotation json (THUMOS14 / ActivityNet / EPIC-Kitchens as ActionFormer ships them, HACS / FineAction as the
video suite converts them):
    {"database": {video_id: {"subset": str, "duration": s, "fps": f,
                             "annotations": [{"segment": [start_s, end_s], "label": str, "label_id": int}]}}}
Features: one file per video, `file_prefix + video_id + file_suffix + file_ext`, a T x C array
(.npy, .npz under key "feats", or .pt holding a tensor); `file_suffix` is the video suite's `feature_type`
(its InternVideo2 files are `<id>_spatial_feature.pt`, `v_<id>_spatial_pool_feature_6.pt`, ...).

Feature grid: feature t covers frames [t * feat_stride, t * feat_stride + num_frames), so its centre sits at
frame t * feat_stride + num_frames / 2. In grid units a time in seconds is t * fps / feat_stride - feat_offset
with feat_offset = 0.5 * num_frames / feat_stride.
"""
import math
import os
import random
import warnings

import numpy as np
import torch
import torch.nn.functional as F

from common.checks import InputError, check_array, check_finite, check_labels, check_segments, fail
from common.engine import DATASETS, FUNCTIONS
from common.io import load_array, load_json

MISSING_DURATION = 1e8  # ActionFormer's stand-in when the json gives no duration
DUPLICATE_TOL = 1e-3  # seconds; same label and both ends this close -> the same annotation
COVERAGE_SLACK_S, COVERAGE_SLACK = 2.0, 0.1  # how far features may fall short of the duration
# How far a segment may reach past [0, duration]: ActivityNet's ends overshoot by rounding, at most 0.01 s
# (its captions' 72k segments); THUMOS14's never by less than 0.96 s, and then by a whole segment (below).
DURATION_TOLERANCE = 1.0
# THUMOS14's own annotation errors, as ActionFormer's thumos14.json ("Thumos14-30fps") holds them: in these
# five videos 30 segments start after the video's end, by 1 s to 537 s (22 of video_test_0000270's 29).
# Upstream scores them as ground truth no detection can reach (and trains on them, to no effect), so they
# are kept for these videos alone, with a warning; in any other video a segment past the end is an error.
KNOWN_OUTSIDE_DURATION = frozenset({"video_test_0000270", "video_test_0000814", "video_test_0001081",
                                    "video_validation_0000364", "video_validation_0000856"})


# ---------------------------------------------------------------------------------------------------------
# time <-> grid


def seconds_to_grid(seconds, fps, feat_stride, num_frames):
    """Seconds -> feature-grid coordinates (float), ActionFormer's mapping."""
    return seconds * fps / feat_stride - 0.5 * num_frames / feat_stride


def grid_to_seconds(grid, fps, feat_stride, num_frames, duration):
    """Feature-grid coordinates -> seconds, clamped to [0, duration]."""
    return ((grid * feat_stride + 0.5 * num_frames) / fps).clamp(0.0, duration)


# ---------------------------------------------------------------------------------------------------------
# readers


def load_features(path):
    """Read one video's features as a float32 (T, C) array from .npy, .npz ('feats') or .pt
    (common.io.load_array: nothing is unpickled). Errors name the file: missing, empty, truncated or not an
    array of numbers, or not T x C."""
    feats = load_array(path, key="feats" if path.endswith(".npz") else None)
    check_array(feats, path, ndim=2, finite=False, what="T x C feature array")
    if 0 in feats.shape:
        raise InputError(f"{path}: expected a T x C feature array, found shape {tuple(feats.shape)}")
    return feats.astype(np.float32, copy=False)


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_decimal(text):
    """A decimal number written as a string, else the string itself (for the caller's error)."""
    try:
        return float(text)
    except ValueError:
        return text


def read_database(ann_file, duration_tolerance=DURATION_TOLERANCE):
    """The 'database' of an ActionFormer annotation json, every entry checked: the one reader of the loader
    and the evaluator, so both accept the same files. Each video: a string 'subset', a positive 'duration'
    (a number or a decimal string, stored back as a float; missing: MISSING_DURATION, as upstream), a number
    'fps' when given; each annotation: a string 'label', an integer 'label_id' (one id per name) and a
    'segment' [start, end] in seconds, finite, start <= end and inside [0, duration] give or take
    `duration_tolerance` (common.checks.check_segments: a reversed segment is an error, never dropped or
    swapped). Errors name the file, the video and what was expected."""
    data = load_json(ann_file, "annotation file")
    if not isinstance(data, dict) or not isinstance(data.get("database"), dict):
        raise InputError(f"{ann_file}: expected a top-level object with a 'database' object of videos")
    label_ids, outside = {}, {}
    for vid, video in data["database"].items():
        where = f"video {vid!r}"
        if not isinstance(video, dict) or not isinstance(video.get("subset"), str):
            fail(ann_file, where, "expected an object with a string 'subset'")
        duration = video.get("duration", MISSING_DURATION)
        if isinstance(duration, str):  # HACS's own file writes its durations as decimal strings ("92.166667")
            duration = parse_decimal(duration)
        if not is_number(duration) or not 0 < duration < math.inf:
            fail(ann_file, where, f"expected a positive 'duration' in seconds, found {video.get('duration')!r}")
        video["duration"] = float(duration)
        if video.get("fps") is not None and not is_number(video["fps"]):
            fail(ann_file, where, f"expected a number 'fps', found {video['fps']!r}")
        anns = video.get("annotations", [])
        if not isinstance(anns, list):
            fail(ann_file, where, "'annotations' must be a list")
        for i, ann in enumerate(anns):
            where = f"video {vid!r} annotation {i}"
            seg = ann.get("segment") if isinstance(ann, dict) else None
            if not (isinstance(seg, (list, tuple)) and len(seg) == 2 and all(map(is_number, seg))):
                fail(ann_file, where, f"expected 'segment': [start, end] in seconds, found {seg!r}")
            if not isinstance(ann.get("label"), str) or type(ann.get("label_id")) is not int:
                fail(ann_file, where, "expected a string 'label' and an integer 'label_id'")
            if vid in KNOWN_OUTSIDE_DURATION and seg[1] > duration + duration_tolerance:
                outside[vid] = outside.get(vid, 0) + 1
                check_segments(seg, ann_file, where)
            else:
                check_segments(seg, ann_file, where, duration=float(duration), tolerance=duration_tolerance)
            name, label_id = ann["label"], ann["label_id"]
            if label_ids.setdefault(name, label_id) != label_id:
                fail(ann_file, where, f"label {name!r} has label_id {label_id} here but {label_ids[name]} before")
    if outside:
        warnings.warn(f"{ann_file}: segments past the video's end kept, as upstream scores them (THUMOS14's "
                      "known annotation errors): " + ", ".join(f"{n} of {vid}" for vid, n in outside.items()))
    return data["database"]


def remove_duplicate_annotations(annotations, tol=DUPLICATE_TOL):
    """Drop annotations whose label matches and both ends lie within `tol` seconds of an earlier one."""
    kept = []
    for ann in annotations:
        (s, e), label = ann["segment"], ann["label_id"]
        if not any(
            abs(s - k["segment"][0]) <= tol and abs(e - k["segment"][1]) <= tol and label == k["label_id"]
            for k in kept
        ):
            kept.append(ann)
    return kept


def load_annotations(ann_file, num_classes, allow_empty_classes=False, duration_tolerance=DURATION_TOLERANCE):
    """Read and validate an ActionFormer annotation json (`read_database`), its label ids against `num_classes`.

    Returns (database, class_names): database maps video id -> dict(subset (lower-case), duration, fps or None,
    annotations (duplicates removed)); class_names[label_id] is the label name (None for a class that never
    occurs). Errors name the file, the video and what was expected.
    """
    label_ids = {}  # name -> id, built from every subset, as ActionFormer does
    database = {}
    for vid, video in read_database(ann_file, duration_tolerance).items():
        anns = video.get("annotations", [])
        for i, ann in enumerate(anns):
            where = f"video {vid!r} annotation {i} (label {ann['label']!r})"
            if num_classes > 1:
                check_labels(ann["label_id"], num_classes, ann_file, where, what="label_id")
            elif ann["label_id"] < 0:
                fail(ann_file, where, f"label_id {ann['label_id']} is negative")
            label_ids[ann["label"]] = ann["label_id"]
        fps = video.get("fps")
        database[vid] = dict(
            subset=video["subset"].lower(),
            duration=float(video.get("duration", MISSING_DURATION)),
            fps=None if fps is None else float(fps),
            annotations=remove_duplicate_annotations(anns),
        )

    if num_classes == 1:  # class-agnostic: keep the names for external score fusion
        num_names = max(label_ids.values(), default=-1) + 1
    else:
        num_names = num_classes
        if len(set(label_ids.values())) != len(label_ids):
            fail(ann_file, "labels", "two label names share one label_id")
        if len(label_ids) != num_classes and not allow_empty_classes:
            fail(ann_file, "labels", f"found {len(label_ids)} classes, the config expects num_classes={num_classes}")
    class_names = [None] * num_names
    for name, label_id in label_ids.items():
        class_names[label_id] = name
    return database, class_names


# ---------------------------------------------------------------------------------------------------------
# training crop


def crop_window(feats, segments, labels, max_seq_len, trunc_thresh, offset, crop_ratio=None, rng=random,
                max_trials=200):
    """ActionFormer's `truncate_feats`: a random temporal window for training.

    feats (C, T), segments (N, 2) in grid units, labels (N,). Longer than max_seq_len -> a window of exactly
    max_seq_len; otherwise, with crop_ratio (lo, hi), a window of round(lo*T)..round(hi*T) steps (no-op when it
    equals T). Up to `max_trials` starts until a segment keeps >= trunc_thresh of its length inside the window
    widened by `offset` on each side; kept segments are clipped to that widened window and shifted.
    """
    length = feats.shape[1]
    if length <= max_seq_len:
        if crop_ratio is None:
            return feats, segments, labels
        max_seq_len = rng.randint(max(round(crop_ratio[0] * length), 1), min(round(crop_ratio[1] * length), length))
        if max_seq_len == length:
            return feats, segments, labels
    seg_len = (segments[:, 1] - segments[:, 0]).abs()
    for _ in range(max_trials):
        start = rng.randint(0, length - max_seq_len)
        left = torch.clamp(segments[:, 0], min=start - offset)
        right = torch.clamp(segments[:, 1], max=start + max_seq_len + offset)
        keep = (right - left).clamp(min=0) / seg_len >= trunc_thresh
        if keep.any():
            break
    cropped = torch.stack((left[keep], right[keep]), dim=1) - start
    return feats[:, start:start + max_seq_len].clone(), cropped, labels[keep].clone()


# ---------------------------------------------------------------------------------------------------------
# data set


@DATASETS.register_module()
class ActionLocalizationDataset(torch.utils.data.Dataset):
    """One video per item: features (C, T), its segments on the feature grid and their labels.

    `split`: the json subset(s) to read ('validation' for THUMOS training, ...). `training` enables the
    random crop and drops videos without usable actions. `force_upsampling` (ActivityNet) resizes every
    video to max_seq_len and adapts feat_stride so the grid still maps to seconds. `skip_missing_features`
    (THUMOS, EPIC upstream) skips videos without a feature file with one warning each; otherwise a
    missing file is an error.

    Two of the video suite's HACS / FineAction rules, each named in the config and counted in one warning:
    `exclude_videos` (ids the suite's loader skips, in every split: videos it has no features for, or
    whose annotations it calls dirty; the evaluator still scores their ground truth, as the suite's does) and
    `drop_zero_length` (segments with end == start are dropped in every split, and a video left without
    any is skipped, as the suite's loader does; the evaluator ignores sub-1 ms ground truth anyway).
    """

    def __init__(self, ann_file, feat_folder, split, num_classes, input_dim, feat_stride, num_frames,
                 max_seq_len, training=False, default_fps=None, downsample_rate=1, trunc_thresh=0.5,
                 crop_ratio=None, force_upsampling=False, file_prefix="", file_suffix="", file_ext=".npy",
                 skip_missing_features=True, allow_empty_classes=False, duration_tolerance=DURATION_TOLERANCE,
                 exclude_videos=(), drop_zero_length=False):
        self.ann_file, self.feat_folder = ann_file, feat_folder
        self.split = [split] if isinstance(split, str) else list(split)
        self.num_classes, self.input_dim = num_classes, input_dim
        self.feat_stride, self.num_frames = feat_stride, num_frames
        self.max_seq_len, self.training = max_seq_len, training
        self.downsample_rate, self.trunc_thresh = downsample_rate, trunc_thresh
        self.crop_ratio, self.force_upsampling = crop_ratio, force_upsampling
        self.file_prefix, self.file_suffix, self.file_ext = file_prefix or "", file_suffix or "", file_ext
        self.duration_tolerance = duration_tolerance

        database, self.class_names = load_annotations(ann_file, num_classes, allow_empty_classes, duration_tolerance)
        exclude_videos = set(exclude_videos)
        excluded, zero_length, emptied = [], 0, []
        self.videos = []
        for vid, video in database.items():
            if video["subset"] not in [s.lower() for s in self.split]:
                continue
            if vid in exclude_videos:
                excluded.append(vid)
                continue
            anns = video["annotations"]
            if drop_zero_length and anns:
                kept = [a for a in anns if a["segment"][1] > a["segment"][0]]
                zero_length += len(anns) - len(kept)
                if not kept:
                    emptied.append(vid)
                    continue
                anns = kept
            fps = default_fps if default_fps is not None else video["fps"]
            if fps is None:
                raise ValueError(f"{ann_file}: video {vid!r} has no 'fps' and the config sets no default_fps")
            if not fps > 0:
                raise ValueError(f"{ann_file}: video {vid!r}: fps must be positive, got {fps}")
            path = self.feature_path(vid)
            if not os.path.isfile(path):
                if skip_missing_features:
                    warnings.warn(f"{path}: feature file not found, skipping video {vid!r}")
                    continue
                raise FileNotFoundError(f"{path}: feature file not found for video {vid!r} of {ann_file}")
            if training:  # as upstream: sub-10 ms actions carry no signal, videos without actions no targets
                anns = [a for a in anns if a["segment"][1] - a["segment"][0] > 0.01]
                if not anns:
                    continue
            self.videos.append(dict(
                video_id=vid, fps=float(fps), duration=video["duration"],
                segments=np.array([a["segment"] for a in anns], dtype=np.float32).reshape(-1, 2),
                labels=np.array([0 if num_classes == 1 else a["label_id"] for a in anns], dtype=np.int64),
            ))
        if excluded:
            warnings.warn(f"{ann_file}: {len(excluded)} video(s) of subset {self.split} skipped as the config's "
                          f"exclude_videos lists them: {', '.join(excluded)}")
        if zero_length:
            named = ", ".join(emptied[:10]) + (", ..." if len(emptied) > 10 else "")
            warnings.warn(f"{ann_file}: {zero_length} zero-length segment(s) (end == start) of subset {self.split} "
                          f"dropped (drop_zero_length); {len(emptied)} video(s) left without a segment skipped"
                          + (f": {named}" if emptied else ""))
        if not self.videos:
            raise ValueError(f"{ann_file}: no video of subset {self.split} has features under {feat_folder}")

    @property
    def metainfo(self):
        """Handed by the runner to the metric (`dataset_meta`): where the ground truth lives."""
        return dict(ann_file=self.ann_file, split=self.split, num_classes=self.num_classes,
                    classes=self.class_names, duration_tolerance=self.duration_tolerance,
                    empty_classes=[i for i, name in enumerate(self.class_names) if name is None])

    def feature_path(self, video_id):
        return os.path.join(self.feat_folder, self.file_prefix + video_id + self.file_suffix + self.file_ext)

    def __len__(self):
        return len(self.videos)

    @staticmethod
    def check_coverage(path, video, steps, feat_stride, num_frames):
        """Features must span the annotated duration, give or take max(2 s, 10%): far shorter means a
        wrong fps / feat_stride in the config or a truncated feature file, and actions past the end
        could never be found."""
        covered = ((steps - 1) * feat_stride + num_frames) / video["fps"]
        duration = video["duration"]
        if duration < MISSING_DURATION and covered < duration - max(COVERAGE_SLACK_S, COVERAGE_SLACK * duration):
            raise ValueError(
                f"{path}: {steps} features x stride {feat_stride:g} frames at {video['fps']:g} fps cover "
                f"{covered:.1f} s of the {duration:.1f} s video {video['video_id']!r}: check fps, feat_stride "
                "and num_frames in the config, or whether the feature file is truncated")

    def __getitem__(self, idx):
        video = self.videos[idx]
        path = self.feature_path(video["video_id"])
        feats = load_features(path)
        if feats.shape[1] != self.input_dim:
            raise ValueError(f"{path}: feature dimension {feats.shape[1]}, the config expects {self.input_dim}")
        check_finite(feats, path, what="features")

        if self.force_upsampling:
            # every video becomes max_seq_len steps; stride/num_frames re-derived so grid <-> seconds holds
            feat_stride = ((feats.shape[0] - 1) * self.feat_stride + self.num_frames) / self.max_seq_len
            num_frames = feat_stride
        else:
            feats = feats[::self.downsample_rate]
            feat_stride = self.feat_stride * self.downsample_rate
            num_frames = self.num_frames
        if not self.force_upsampling:
            self.check_coverage(path, video, len(feats), feat_stride, num_frames)
        feats = torch.from_numpy(np.ascontiguousarray(feats.T))
        if self.force_upsampling and feats.shape[1] != self.max_seq_len:
            feats = F.interpolate(feats[None], size=self.max_seq_len, mode="linear", align_corners=False)[0]

        segments = torch.from_numpy(seconds_to_grid(video["segments"], video["fps"], feat_stride, num_frames))
        labels = torch.from_numpy(video["labels"])
        if self.training:
            feats, segments, labels = crop_window(feats, segments, labels, self.max_seq_len, self.trunc_thresh,
                                                  offset=0.5 * num_frames / feat_stride, crop_ratio=self.crop_ratio)
        return dict(feats=feats, segments=segments, labels=labels, video_id=video["video_id"], fps=video["fps"],
                    duration=video["duration"], feat_stride=float(feat_stride), num_frames=float(num_frames))


@FUNCTIONS.register_module()
def actionformer_collate(batch):
    """Videos keep their own lengths; the model pads (ActionFormer's identity collate, split for mmengine)."""
    return dict(inputs=[item["feats"] for item in batch],
                data_samples=[{k: v for k, v in item.items() if k != "feats"} for item in batch])
