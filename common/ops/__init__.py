"""Numerics only (no nn.Modules): the selective scan and the causal depthwise conv."""
from .causal_conv import causal_conv1d
from .selective_scan import BACKENDS, ENV_VAR, resolve_backend, selective_scan

__all__ = ["selective_scan", "causal_conv1d", "resolve_backend", "BACKENDS", "ENV_VAR"]
