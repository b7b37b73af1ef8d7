"""Pieces the task models share: stochastic depth, per-channel layer scale, the suite's Mamba block,
mamba_ssm's RMSNorm and add-norm residual block."""
import torch
from torch import nn

from .mixers import build_mixer


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


class MaskMambaBlock(nn.Module):
    """The suite's Mamba block (ActionMamba's backbone, ASMamba's encoder, ...), as upstream computes it:

        y = x + AffineDropPath(mask * mixer(LayerNorm(x)))

    Pre-norm over channels (learned affine, eps 1e-5: upstream's nn.LayerNorm default), per-channel layer
    scale from 1e-4 plus stochastic depth when drop_path > 0 (a plain residual otherwise), no MLP.
    x (B, C, T), mask (B, 1, T) bool -> (y (B, C, T), mask); padded positions of y are zero. The mixer sees
    the (B, T) mask, so padding never enters its scans (upstream scans over it).
    Parameter names are upstream's (`mamba.*`, `norm.*`, `drop_path.scale`): suite checkpoints load strictly.
    """

    def __init__(self, dim: int, mixer: str = "vim", mixer_cfg: dict | None = None, drop_path: float = 0.3,
                 norm_eps: float = 1e-5):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=norm_eps)
        self.mamba = build_mixer(mixer, dim, **(mixer_cfg or {}))
        self.drop_path = AffineDropPath(dim, drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, mask: torch.Tensor):
        x = x.masked_fill(~mask, 0.0)
        y = self.mamba(self.norm(x.transpose(1, 2)), mask[:, 0]).transpose(1, 2)
        return x + self.drop_path(y), mask


class RMSNorm(nn.Module):
    """mamba_ssm's RMSNorm: x / sqrt(mean(x^2) + eps) * weight over the last dim, computed in fp32,
    no bias (parameter `weight`, so mamba_ssm checkpoints load)."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        out = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight.float()
        return out.to(x.dtype)

    def extra_repr(self):
        return f"{self.weight.shape[0]}, eps={self.eps}"


class AddNormBlock(nn.Module):
    """mamba_ssm's `Block` (the residual stream of its MixerModel, Vim, ViViM, the suite's anticipation
    Mamba), with the fused add + norm written out:

        residual = x + residual        (x alone for the first block; fp32 when residual_in_fp32)
        hidden = mixer(norm(residual))

    forward returns (hidden, residual): the caller passes both to the next block and ends the stack
    with norm_f(hidden + residual). x (B, L, D), mask (B, L) bool as the mixers take it.
    `stream` continues a causal mixer (Mamba.stream) from its state: same outputs chunk by chunk.
    Parameter names are upstream's (`mixer.*`, `norm.weight`), so mamba_ssm Block weights load strictly.
    """

    def __init__(self, dim: int, mixer: str = "mamba", mixer_cfg: dict | None = None, norm: str = "rms",
                 norm_eps: float = 1e-5, residual_in_fp32: bool = True):
        super().__init__()
        if norm not in ("rms", "layer"):
            raise ValueError(f"norm must be 'rms' or 'layer', got {norm!r}")
        self.norm = RMSNorm(dim, norm_eps) if norm == "rms" else nn.LayerNorm(dim, eps=norm_eps)
        self.mixer = build_mixer(mixer, dim, **(mixer_cfg or {}))
        self.residual_in_fp32 = residual_in_fp32

    def _add(self, x, residual):
        residual = x if residual is None else x + residual
        return residual.float() if self.residual_in_fp32 else residual

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None, mask: torch.Tensor | None = None):
        residual = self._add(x, residual)
        return self.mixer(self.norm(residual.to(x.dtype)), mask), residual

    def stream(self, x: torch.Tensor, state, residual: torch.Tensor | None = None):
        """Continues the sequence: returns (hidden, residual, new mixer state)."""
        residual = self._add(x, residual)
        hidden, state = self.mixer.stream(self.norm(residual.to(x.dtype)), state)
        return hidden, residual, state
