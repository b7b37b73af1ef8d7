"""PDVC and its Mamba-encoder variants: importing this registers the model and the caption heads."""
from .captioners import FrequentSentenceCaptioner, LightCaptioner, LSTMDSACaptioner
from .pdvc import PDVC

__all__ = ["PDVC", "LightCaptioner", "LSTMDSACaptioner", "FrequentSentenceCaptioner"]
