"""Small pieces the task models share: stochastic depth and per-channel layer scale."""
import torch
from torch import nn


def drop_path(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Stochastic depth: zero whole samples with probability p, rescale the rest by 1 / (1 - p)."""
    if p == 0.0 or not training:
        return x
    keep = 1.0 - p
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    return x * x.new_empty(shape).bernoulli_(keep) / keep


class DropPath(nn.Module):
    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = p

    def forward(self, x):
        return drop_path(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class AffineDropPath(nn.Module):
    """Per-channel layer scale (init `init_scale`) followed by stochastic depth, as in ActionFormer.

    `channel_dim` says where the channels sit: 1 for (B, C, T) tensors, -1 for (B, T, C).
    The parameter is named `scale` with shape (1, C, 1) / (1, 1, C) so ActionFormer checkpoints load.
    """

    def __init__(self, num_dim: int, p: float = 0.0, init_scale: float = 1e-4, channel_dim: int = 1):
        super().__init__()
        shape = (1, num_dim, 1) if channel_dim == 1 else (1, 1, num_dim)
        self.scale = nn.Parameter(init_scale * torch.ones(shape))
        self.p = p

    def forward(self, x):
        return drop_path(self.scale * x, self.p, self.training)
