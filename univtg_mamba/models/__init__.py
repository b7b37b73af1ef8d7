from .encoders import MambaInteractionEncoder, TransformerInteractionEncoder
from .univtg import UniVTG

__all__ = ["UniVTG", "TransformerInteractionEncoder", "MambaInteractionEncoder"]
