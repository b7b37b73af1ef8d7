"""Anchor-free heads shared across pyramid levels, and the points they predict at.

A point is a row [t, reg_min, reg_max, stride]: its position t on the input feature grid (level l has
points 0, s, 2s, ... with s = 2**l), the regression range it is responsible for and its stride.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ChannelLayerNorm, MaskedConv1D, Scale


def make_points(lengths, strides, regression_range, device=None):
    """Per-level (T_l, 4) point tables for levels of lengths T_l."""
    points = []
    for length, stride, (lo, hi) in zip(lengths, strides, regression_range):
        t = torch.arange(length, dtype=torch.float32, device=device) * stride
        table = torch.stack([t, torch.full_like(t, lo), torch.full_like(t, hi), torch.full_like(t, stride)], dim=1)
        points.append(table)
    return points


class HeadTrunk(nn.Module):
    """(num_layers - 1) x (MaskedConv1D -> LayerNorm -> ReLU), shared across levels."""

    def __init__(self, in_channels, feat_dim, num_layers=3, kernel_size=3, with_ln=True):
        super().__init__()
        self.convs = nn.ModuleList(MaskedConv1D(in_channels if i == 0 else feat_dim, feat_dim, kernel_size,
                                                bias=not with_ln) for i in range(num_layers - 1))
        self.norms = nn.ModuleList(ChannelLayerNorm(feat_dim) if with_ln else nn.Identity()
                                   for _ in range(num_layers - 1))

    def forward(self, x, mask):
        for conv, norm in zip(self.convs, self.norms):
            x = F.relu(norm(conv(x, mask)[0]))
        return x


class ClassificationHead(nn.Module):
    """Per-point class logits (B, num_classes, T_l) per level.

    The output bias starts at the prior -log((1 - p) / p); classes that never occur in training
    (`empty_classes`) start at p = 1e-6 so they stay silent.
    """

    def __init__(self, in_channels, feat_dim, num_classes, prior_prob=0.01, num_layers=3, kernel_size=3,
                 with_ln=True, empty_classes=()):
        super().__init__()
        self.trunk = HeadTrunk(in_channels, feat_dim, num_layers, kernel_size, with_ln)
        self.cls = MaskedConv1D(feat_dim, num_classes, kernel_size)
        nn.init.constant_(self.cls.conv.bias, -math.log((1 - prior_prob) / prior_prob))
        self.silence_classes(empty_classes)

    @torch.no_grad()
    def silence_classes(self, class_ids):
        if len(class_ids):
            self.cls.conv.bias[list(class_ids)] = -math.log((1 - 1e-6) / 1e-6)

    def forward(self, levels):
        return [self.cls(self.trunk(x, mask), mask)[0] for x, mask in levels]


class RegressionHead(nn.Module):
    """Per-point (left, right) distances in units of the level's stride, (B, 2, T_l) per level, >= 0."""

    def __init__(self, in_channels, feat_dim, n_levels, num_layers=3, kernel_size=3, with_ln=True):
        super().__init__()
        self.trunk = HeadTrunk(in_channels, feat_dim, num_layers, kernel_size, with_ln)
        self.offsets = MaskedConv1D(feat_dim, 2, kernel_size)
        self.scales = nn.ModuleList(Scale() for _ in range(n_levels))

    def forward(self, levels):
        return [F.relu(scale(self.offsets(self.trunk(x, mask), mask)[0]))
                for scale, (x, mask) in zip(self.scales, levels)]
