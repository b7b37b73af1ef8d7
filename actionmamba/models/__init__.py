"""ActionFormer and ActionMamba: importing this registers the backbones, necks and the localiser."""
from .backbones import ConvTransformerBackbone, MambaBackbone
from .localizer import ActionLocalizer
from .necks import FPNNeck, IdentityNeck

__all__ = ["ActionLocalizer", "ConvTransformerBackbone", "FPNNeck", "IdentityNeck", "MambaBackbone"]
