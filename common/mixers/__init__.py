"""Sequence mixers with one interface, forward(x, mask=None), built by `build_mixer(kind, d_model)`."""
from . import attention, dbm, mamba, vim  # noqa: F401  (registers the kinds)
from .attention import MultiHeadSelfAttention
from .dbm import DecomposedBiMamba
from .mamba import Mamba, MambaState
from .padding import concat_valid_first, reverse_within_length, take_segment, valid_lengths
from .registry import MIXERS, build_mixer, register_mixer
from .vim import BiMambaV2

__all__ = ["build_mixer", "register_mixer", "MIXERS", "Mamba", "MambaState", "BiMambaV2",
           "DecomposedBiMamba", "MultiHeadSelfAttention", "concat_valid_first", "reverse_within_length",
           "take_segment", "valid_lengths"]
