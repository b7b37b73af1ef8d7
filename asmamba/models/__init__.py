from .asformer import ASFormer

__all__ = ["ASFormer"]
