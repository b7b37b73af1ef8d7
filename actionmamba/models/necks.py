"""Necks between the backbone pyramid and the heads: identity (one LayerNorm per level) or a 1-D FPN."""
import torch.nn.functional as F
from torch import nn

from common.engine import MODELS
from .blocks import ChannelLayerNorm, MaskedConv1D


@MODELS.register_module()
class IdentityNeck(nn.Module):
    """ActionFormer's FPNIdentity: each level only gets a channel LayerNorm."""

    def __init__(self, in_channels, out_channels, n_levels, with_ln=True):
        super().__init__()
        if in_channels != out_channels:
            raise ValueError(f"identity neck keeps the width: in_channels {in_channels} != out_channels {out_channels}")
        self.norms = nn.ModuleList(ChannelLayerNorm(out_channels) if with_ln else nn.Identity()
                                   for _ in range(n_levels))

    def forward(self, levels):
        return [(norm(x), mask) for norm, (x, mask) in zip(self.norms, levels)]


@MODELS.register_module()
class FPNNeck(nn.Module):
    """1-D feature pyramid: 1x1 laterals, top-down nearest upsampling, depthwise 3-tap conv + LayerNorm."""

    def __init__(self, in_channels, out_channels, n_levels, with_ln=True):
        super().__init__()
        self.laterals = nn.ModuleList(MaskedConv1D(in_channels, out_channels, 1, bias=not with_ln)
                                      for _ in range(n_levels))
        self.convs = nn.ModuleList(MaskedConv1D(out_channels, out_channels, 3, groups=out_channels, bias=not with_ln)
                                   for _ in range(n_levels))
        self.norms = nn.ModuleList(ChannelLayerNorm(out_channels) if with_ln else nn.Identity()
                                   for _ in range(n_levels))

    def forward(self, levels):
        laterals = [lateral(x, mask)[0] for lateral, (x, mask) in zip(self.laterals, levels)]
        for i in range(len(laterals) - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + F.interpolate(laterals[i], scale_factor=2, mode="nearest")
        return [(norm(conv(x, mask)[0]), mask)
                for conv, norm, x, (_, mask) in zip(self.convs, self.norms, laterals, levels)]
