"""Shared Mamba toolkit: the selective scan (ops), sequence mixers, blocks, FLOP counting, engine."""
from .mixers import build_mixer
from .ops import causal_conv1d, selective_scan

__all__ = ["selective_scan", "causal_conv1d", "build_mixer"]
