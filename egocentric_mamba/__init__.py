"""egocentric_mamba: the suite's video-language half (its TimeMamba adapter and ViViM inside a CLIP-style video-text
dual encoder pre-trained on Ego4D narrations; EK100 multi-instance retrieval, EK100 action recognition, EgoSchema).

Importing the package registers its models into mmengine's root registries.
"""
import common  # noqa: F401  (before torch loads: the OpenMP wait policy, see common/__init__.py)

from . import models  # noqa: F401,E402  (registration)
