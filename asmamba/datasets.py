"""The MS-TCN / ASFormer data layout, with batches of any size.

    <data_root>/features/<video>.npy        float (feature_dim, T), channels first (I3D: 2048)
    <data_root>/groundTruth/<video>.txt     one label name per frame
    <data_root>/mapping.txt                 "<id> <name>" per line
    <data_root>/splits/{train,test}.split<K>.bundle   one "<video>.txt" per line

A video is T = min(feature frames, label lines) frames long (features may be one frame short),
subsampled with [::sample_rate]. Everything that can be checked from file headers and label text is
checked when the dataset is built; features are read (and checked for NaN / Inf) once per item.
"""
import os
from typing import Dict, List

import numpy as np
import torch
from torch.utils.data import Dataset

from common.checks import check_array, check_finite
from common.engine import DATASETS, FUNCTIONS
from common.io import load_array

IGNORE_INDEX = -100  # padded targets, as upstream (CrossEntropyLoss's default ignore_index)


def _read_lines(path: str, what: str) -> List[str]:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} missing: {path}")
    with open(path) as f:
        return f.read().splitlines()


def read_mapping(path: str) -> List[str]:
    """Class names ordered by id from mapping.txt ("<id> <name>" per line, ids 0..C-1)."""
    names = {}
    for lineno, line in enumerate(_read_lines(path, "mapping file"), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise ValueError(f"{path} line {lineno}: expected '<id> <name>', got {line!r}")
        names[int(parts[0])] = parts[1]
    if sorted(names) != list(range(len(names))) or len(set(names.values())) != len(names):
        raise ValueError(f"{path}: ids must be 0..C-1 and names unique")
    return [names[i] for i in range(len(names))]


def read_bundle(path: str) -> List[str]:
    """Video names (file name without extension) listed in a split bundle, each once."""
    videos = [os.path.splitext(line.strip())[0] for line in _read_lines(path, "split bundle") if line.strip()]
    if not videos:
        raise ValueError(f"split bundle lists no videos: {path}")
    twice = sorted({v for v in videos if videos.count(v) > 1})
    if twice:
        raise ValueError(f"{path}: videos listed more than once: {twice}")
    return videos


def load_feature_file(path: str, mmap_mode=None) -> np.ndarray:
    """A (feature_dim, T) .npy array; errors name the file (missing, empty, truncated, not 2-d numbers).
    Values are checked where they are read (`__getitem__`): a memory map is only looked at for its shape."""
    return check_array(load_array(path, mmap_mode=mmap_mode), path, ndim=2, finite=False,
                       what="(feature_dim, T) array")


def read_labels(path: str) -> List[str]:
    """Frame-wise label names of one ground-truth file."""
    labels = _read_lines(path, "ground-truth file")
    if not labels:
        raise ValueError(f"ground-truth file has no frames: {path}")
    return labels


@DATASETS.register_module()
class ActionSegmentationDataset(Dataset):
    """Videos of one split of an MS-TCN-layout data set.

    Each item is a dict: `video` (name), `features` (feature_dim, T') float32 tensor, `labels` (T')
    int64 tensor at the subsampled rate, `gt_full` (int64 array of every ground-truth line, what the
    metric scores against).
    """

    def __init__(self, data_root: str, split: int = 1, subset: str = "train", sample_rate: int = 1):
        if subset not in ("train", "test"):
            raise ValueError(f"subset must be 'train' or 'test', got {subset!r}")
        self.data_root, self.sample_rate = data_root, sample_rate
        self.classes = read_mapping(os.path.join(data_root, "mapping.txt"))
        class_id = {name: i for i, name in enumerate(self.classes)}
        self.videos = read_bundle(os.path.join(data_root, "splits", f"{subset}.split{split}.bundle"))
        self.gt, self.num_frames, feature_dims = [], [], set()
        for video in self.videos:
            gt_path = os.path.join(self.data_root, "groundTruth", video + ".txt")
            gt = read_labels(gt_path)
            unknown = next((i for i, name in enumerate(gt) if name not in class_id), None)
            if unknown is not None:
                raise ValueError(f"{gt_path} line {unknown + 1}: label {gt[unknown]!r} is not in mapping.txt")
            self.gt.append(np.array([class_id[name] for name in gt], dtype=np.int64))
            shape = self._feature_shape(video)
            if shape[1] < len(gt) - 1:
                raise ValueError(f"{self.feature_path(video)}: {shape[1]} feature frames for {len(gt)} "
                                 f"label lines in {gt_path} (at most one frame short is allowed)")
            feature_dims.add(shape[0])
            self.num_frames.append(min(shape[1], len(gt)))
        if len(feature_dims) > 1:
            raise ValueError(f"{data_root}/features: videos disagree on feature_dim ({sorted(feature_dims)})")

        self.feature_dim = feature_dims.pop()

    @property
    def metainfo(self) -> Dict:
        return dict(classes=tuple(self.classes), sample_rate=self.sample_rate)

    def feature_path(self, video: str) -> str:
        return os.path.join(self.data_root, "features", video + ".npy")

    def _feature_shape(self, video: str):
        return load_feature_file(self.feature_path(video), mmap_mode="r").shape  # maps, does not read

    def __len__(self):
        return len(self.videos)

    def __getitem__(self, idx: int) -> Dict:
        video, n, step = self.videos[idx], self.num_frames[idx], self.sample_rate
        path = self.feature_path(video)
        features = check_finite(load_feature_file(path)[:, :n:step], path, what="features")
        return dict(
            video=video,
            features=torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)),
            labels=torch.from_numpy(self.gt[idx][:n:step]),
            gt_full=self.gt[idx],
        )


@FUNCTIONS.register_module()
def action_segmentation_collate(items: List[Dict]) -> Dict:
    """Pad a list of items to the longest video.

    Returns `inputs` (B, feature_dim, T) zero-padded and `data_samples` with `labels` (B, T)
    padded with -100, `mask` (B, T) bool (True = valid frame), `videos` and `gt_full` lists.
    """
    length = max(item["labels"].numel() for item in items)
    inputs = torch.zeros(len(items), items[0]["features"].shape[0], length)
    labels = torch.full((len(items), length), IGNORE_INDEX, dtype=torch.long)
    for i, item in enumerate(items):
        t = item["labels"].numel()
        inputs[i, :, :t] = item["features"]
        labels[i, :t] = item["labels"]
    return dict(
        inputs=inputs,
        data_samples=dict(
            labels=labels,
            mask=labels != IGNORE_INDEX,
            videos=[item["video"] for item in items],
            gt_full=[item["gt_full"] for item in items],
        ),
    )
