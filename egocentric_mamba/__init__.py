"""Egocentric video-text: the suite's CLIP-style dual encoder (Ego4D, EK100 MIR / recognition, EgoSchema)."""
