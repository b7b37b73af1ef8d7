"""The backbones this task adds to mmaction2's registry (ViT joint and TimeSformer are mmaction2's own): ViViM
(common.backbones, shared with egocentric_mamba) and the TimeMamba adapter inside mmaction2's TimeSformer."""
from mmaction.registry import MODELS

from common.backbones.vivim import ViViM
from .timemamba import DividedTemporalMambaWithNorm, TimeMamba

MODELS.register_module(module=ViViM)

__all__ = ["ViViM", "TimeMamba", "DividedTemporalMambaWithNorm"]
