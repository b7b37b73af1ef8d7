"""The backbones this task adds to mmaction2's registry (ViT joint and TimeSformer are mmaction2's own)."""
from .timemamba import DividedTemporalMambaWithNorm, TimeMamba
from .vivim import ViViM, load_vim_checkpoint, read_checkpoint

__all__ = ["ViViM", "TimeMamba", "DividedTemporalMambaWithNorm", "load_vim_checkpoint", "read_checkpoint"]
