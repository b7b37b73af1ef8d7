"""TeSTra and its Mamba variants (importing registers them)."""
from .base import AnticipationModel
from .mamba_stream import MambaStreamAnticipator
from .testra import MambaDecoder, TeSTra

__all__ = ["AnticipationModel", "TeSTra", "MambaDecoder", "MambaStreamAnticipator"]
