"""ActionFormer's (x, mask) building blocks: x (B, C, T) float, mask (B, 1, T) bool, True = valid.

Every op zeroes padded positions on the way out and never lets them reach a valid output: convolutions
zero their input's padding first and max-pooling treats padding as -inf (upstream masks only outputs, so
a video's predictions shift slightly with how much it was padded).
"""
import math

import torch
import torch.nn.functional as F
from torch import nn


def downsample_mask(mask, stride):
    """Nearest-neighbour downsampling of a (B, 1, T) mask: position i keeps mask[i * stride]."""
    return mask[..., ::stride] if stride > 1 else mask


def masked_max_pool(x, mask, stride=2):
    """MaxPool1d(k=stride+1, s=stride, p=(stride+1)//2) over valid positions only. Returns (x, mask)."""
    kernel = stride + 1
    out_mask = downsample_mask(mask, stride)
    pooled = F.max_pool1d(x.masked_fill(~mask, float("-inf")), kernel, stride, kernel // 2)
    return pooled.masked_fill(~out_mask, 0.0), out_mask


class MaskedConv1D(nn.Module):
    """Conv1d 'same' padding on (x, mask); stride s keeps every s-th mask entry. Bias starts at zero."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, groups=1, bias=True):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"MaskedConv1D needs an odd kernel size, got {kernel_size}")
        self.stride = stride
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride, kernel_size // 2, groups=groups,
                              bias=bias)
        if bias:
            nn.init.zeros_(self.conv.bias)

    def forward(self, x, mask):
        out_mask = downsample_mask(mask, self.stride)
        return self.conv(x * mask) * out_mask, out_mask


class ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over the channels of a (B, C, T) tensor."""

    def forward(self, x):
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class Scale(nn.Module):
    """A learnable scalar (init 1): the per-level regression scale of FCOS/ActionFormer."""

    def __init__(self, init=1.0):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(float(init)))

    def forward(self, x):
        return x * self.scale


def sinusoid_encoding(length, channels):
    """Transformer sine/cosine position table, (1, channels, length)."""
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, channels, 2, dtype=torch.float32) * (-math.log(10000.0) / channels))
    table = torch.zeros(length, channels)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq[: channels // 2])
    return table.T[None]


class ConvEmbedding(nn.Module):
    """Input projection: n_layers x (MaskedConv1D -> channel LayerNorm -> ReLU), in_channels -> dim."""

    def __init__(self, in_channels, dim, n_layers=2, kernel_size=3, with_ln=True):
        super().__init__()
        self.convs = nn.ModuleList(
            MaskedConv1D(in_channels if i == 0 else dim, dim, kernel_size, bias=not with_ln) for i in range(n_layers))
        self.norms = nn.ModuleList(ChannelLayerNorm(dim) if with_ln else nn.Identity() for _ in range(n_layers))

    def forward(self, x, mask):
        for conv, norm in zip(self.convs, self.norms):
            x, mask = conv(x, mask)
            x = F.relu(norm(x)) * mask
        return x, mask


class AbsolutePositionEmbedding(nn.Module):
    """Fixed sinusoid table scaled by 1/sqrt(C), added at valid positions; linearly resized for longer inputs."""

    def __init__(self, dim, max_seq_len):
        super().__init__()
        self.max_seq_len = max_seq_len
        self.register_buffer("table", sinusoid_encoding(max_seq_len, dim) / dim ** 0.5, persistent=False)

    def forward(self, x, mask):
        length = x.shape[-1]
        if length > self.max_seq_len:
            if self.training:
                raise ValueError(f"training input of {length} steps exceeds max_seq_len={self.max_seq_len}")
            table = F.interpolate(self.table, size=length, mode="linear", align_corners=False)
        else:
            table = self.table[..., :length]
        return x + table * mask
