"""A synthetic sequence-labelling data set: per-step features, per-step class labels.

On disk: `<root>/{train,val}.npz`, each with `features` float32 (N, L, D) and `labels` int64 (N, L).
The label of step t is the argmax over classes of (x[t-1] + x[t] + x[t+1]) @ W for a fixed random W,
so a width-3 temporal convolution can learn it; chance is 1 / num_classes.
"""
import os
import random

import numpy as np
import torch
from torch.utils.data import Dataset

from common.engine import DATASETS

LENGTH, FEATURES, CLASSES = 16, 8, 4


def make_toy_data(out_dir: str, seed: int = 0, n_train: int = 64, n_val: int = 32) -> None:
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=(FEATURES, CLASSES))
    os.makedirs(out_dir, exist_ok=True)
    for split, n in (("train", n_train), ("val", n_val)):
        x = rng.normal(size=(n, LENGTH, FEATURES)).astype(np.float32)
        padded = np.pad(x, ((0, 0), (1, 1), (0, 0)))
        context = padded[:, :-2] + padded[:, 1:-1] + padded[:, 2:]
        labels = (context @ weights).argmax(-1).astype(np.int64)
        np.savez(os.path.join(out_dir, f"{split}.npz"), features=x, labels=labels)


@DATASETS.register_module(force=True)
class ToySequenceDataset(Dataset):
    """Items: dict(inputs=(L, D) float, data_samples=dict(labels=(L,) long, index=int, video="<split>_<index>")).

    The train split augments with the global RNGs (numpy noise, Python-random time reversal, which
    keeps the symmetric labelling rule valid), so resuming must restore those states too.
    """

    def __init__(self, data_root: str, split: str, augment: bool = False):
        path = os.path.join(data_root, f"{split}.npz")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path} not found; write it with "
                                    f"`python tools/make_toy_data.py engine_toy {data_root}`")
        with np.load(path) as f:
            if {"features", "labels"} - set(f.files):
                raise ValueError(f"{path}: expected arrays 'features' (N, L, D) and 'labels' "
                                 f"(N, L), found {sorted(f.files)}")
            self.features, self.labels = f["features"], f["labels"]
        if self.features.shape[:2] != self.labels.shape:
            raise ValueError(f"{path}: features {self.features.shape} and labels "
                             f"{self.labels.shape} disagree on (N, L)")
        self.augment, self.split = augment, split
        self.metainfo = dict(classes=tuple(f"class{c}" for c in range(CLASSES)))

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        x, y = self.features[index], self.labels[index]
        if self.augment:
            x = x + np.random.normal(scale=0.05, size=x.shape).astype(np.float32)
            if random.random() < 0.5:
                x, y = x[::-1], y[::-1]
        return dict(inputs=torch.from_numpy(x.copy()),
                    data_samples=dict(labels=torch.from_numpy(y.copy()), index=index, video=f"{self.split}_{index:03d}"))
