"""One factory for every sequence mixer: `build_mixer(kind, d_model, **kwargs)`."""
from torch import nn

MIXERS: dict[str, type] = {}


def register_mixer(kind: str):
    def add(cls):
        if kind in MIXERS:
            raise KeyError(f"mixer kind {kind!r} is already registered by {MIXERS[kind].__name__}")
        MIXERS[kind] = cls
        return cls
    return add


def build_mixer(kind: str, d_model: int, **kwargs) -> nn.Module:
    """A mixer with `forward(x, mask=None)`: x (B, L, d_model), mask (B, L) bool, True = valid
    (valid tokens first); returns (B, L, d_model) with zeros at padded positions."""
    if kind not in MIXERS:
        raise KeyError(f"unknown mixer kind {kind!r}; known: {sorted(MIXERS)}")
    return MIXERS[kind](d_model, **kwargs)
