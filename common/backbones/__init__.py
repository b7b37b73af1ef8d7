"""Whole backbones that more than one task builds (each task registers them into its own registry)."""
from .vivim import ViViM, load_vim_checkpoint

__all__ = ["ViViM", "load_vim_checkpoint"]
