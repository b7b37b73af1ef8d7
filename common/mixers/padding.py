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


def concat_valid_first(xs, masks):
    """Concatenates padded sequences along time so that every sample's valid tokens come first.

    xs: tensors (B, L_k, ...), masks: (B, L_k) bool, True = valid (anywhere, not only a prefix).
    Returns (x (B, sum L_k, ...), mask (B, sum L_k) marking a valid prefix, index (B, sum L_k)): input
    token t of the plain concatenation sits at x[b, index[b, t]]; valid tokens keep their order, segment
    after segment, and padding follows them. What lets a mixer that wants a valid prefix (the Mamba family)
    scan e.g. [text ; video] with both padded; `take_segment` reads a segment back.
    """
    x = torch.cat(list(xs), dim=1)
    valid = torch.cat([m.bool() for m in masks], dim=1)
    lengths = valid.sum(1, keepdim=True)
    index = torch.where(valid, valid.cumsum(1) - 1, lengths + (~valid).cumsum(1) - 1)
    shape = index.shape + (1,) * (x.dim() - 2)
    packed = torch.empty_like(x).scatter_(1, index.view(shape).expand_as(x), x)
    positions = torch.arange(x.shape[1], device=x.device)
    return packed, positions < lengths, index


def take_segment(packed, index, start, length):
    """Tokens start..start+length of the plain concatenation, read back from concat_valid_first's output."""
    idx = index[:, start:start + length]
    idx = idx.view(idx.shape + (1,) * (packed.dim() - 2)).expand(-1, -1, *packed.shape[2:])
    return packed.gather(1, idx)
