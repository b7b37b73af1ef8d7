"""Masks and in-length reversal: what lets bidirectional scans ignore padding."""
import torch


def valid_lengths(mask: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor | None:
    """mask (B, L) bool, True = valid and all valid tokens first -> lengths (B,). None stays None.
    A mask with holes is refused: reversing "within the valid length" would be ill-defined."""
    if mask is None:
        return None
    if mask.shape != x.shape[:2]:
        raise ValueError(f"mask has shape {tuple(mask.shape)}, expected {tuple(x.shape[:2])} (B, L)")
    mask = mask.bool()
    lengths = mask.sum(1)
    positions = torch.arange(mask.shape[1], device=mask.device)
    if not torch.equal(mask, positions < lengths[:, None]):
        raise ValueError("mask must mark a prefix of each sequence as valid (padding only at the end)")
    return lengths


def reverse_within_length(x: torch.Tensor, lengths: torch.Tensor | None, dim: int = 1) -> torch.Tensor:
    """Reverses each sequence's first lengths[b] steps along `dim`, leaving its padding in place.
    Applied twice it is the identity. lengths None = every sequence is full length."""
    if lengths is None:
        return x.flip(dim)
    length = x.shape[dim]
    positions = torch.arange(length, device=x.device)
    index = torch.where(positions < lengths[:, None], lengths[:, None] - 1 - positions, positions)
    shape = [1] * x.dim()
    shape[0], shape[dim] = x.shape[0], length
    return x.gather(dim, index.view(shape).expand_as(x))
