"""Multi-scale deformable attention over 1-D feature levels, in plain PyTorch (any device, autograd).

PDVC runs Deformable DETR's 2-D op on maps of height 1. Level l holds T_l steps; a sampling location
u in [0, 1] reads position x = u * T_l - 0.5 (align_corners=False convention) by linear interpolation
between steps floor(x) and floor(x) + 1. Padding decides what lies beyond the edges:
- "zeros": PDVC's CUDA kernel (ms_deform_attn_im2col_bilinear): out-of-range neighbours read 0, so
  x <= -1 or x >= T_l reads nothing. Used by the encoder and decoder, as PDVC trains them on GPU.
- "border": F.grid_sample(padding_mode="border"), x clamped to [0, T_l - 1]. PDVC's captioner
  (MSDeformAttnCap) always samples this way, on every device; the encoder / decoder take it only on CPU,
  where PDVC falls back to grid_sample.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

PADDINGS = ("zeros", "border")


def _corners(locations, shapes, padding):
    """The two neighbouring steps of every sampling location as flat token indices into the concatenated
    levels, and their interpolation weights (0 for a neighbour outside its level): both (N, Q, M, L, P, 2)."""
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    lengths = torch.tensor(shapes, device=locations.device)
    starts = (lengths.cumsum(0) - lengths)[:, None, None]
    last = (lengths - 1)[:, None]
    x = locations * lengths[:, None].to(locations.dtype) - 0.5
    if padding == "border":
        x = torch.minimum(x.clamp(min=0), last.to(x.dtype))
    left = x.floor()
    frac = x - left
    index = torch.stack([left, left + 1], -1).long()
    weight = torch.stack([1 - frac, frac], -1) * ((index >= 0) & (index <= last[..., None]))
    return torch.minimum(index.clamp(min=0), last[..., None]) + starts, weight


def sample_levels(value, shapes, locations, padding="zeros"):
    """Linear interpolation of each level at the given locations.

    value (N, S, M, D): the levels' tokens concatenated (S = sum(shapes)), M heads of D channels.
    shapes: the levels' lengths T_l (ints). locations (N, Q, M, L, P) in [0, 1] (may fall outside).
    Returns (N, Q, M, L, P, D).
    """
    n, _, m, _, _ = locations.shape
    d = value.shape[-1]
    index, weight = _corners(locations, shapes, padding)
    table = value.permute(0, 2, 1, 3).reshape(-1, d)  # rows (video, head, token)
    base = (torch.arange(n * m, device=value.device) * value.shape[1]).view(n, 1, m, 1, 1, 1)
    rows = table.index_select(0, (index + base).flatten()).view(*index.shape, d)
    return (rows * weight[..., None]).sum(-2)


def deformable_attention(value, shapes, locations, weights, padding="zeros"):
    """sum over levels and points of weights * sampled values: (N, Q, M * D).

    value (N, S, M, D), locations and weights (N, Q, M, L, P). Computed as a dense (N, M, Q, S) matrix of
    attention x interpolation weights times the values: no (Q, L, P, D) tensor of samples."""
    n, q, m, _, _ = locations.shape
    index, weight = _corners(locations, shapes, padding)
    index = index.permute(0, 2, 1, 3, 4, 5).reshape(n, m, q, -1)
    contrib = (weight * weights[..., None]).permute(0, 2, 1, 3, 4, 5).reshape(n, m, q, -1)
    mixing = value.new_zeros(n, m, q, value.shape[1]).scatter_add(3, index, contrib)
    return (mixing @ value.permute(0, 2, 1, 3)).permute(0, 2, 1, 3).flatten(2)


def sampling_locations(reference_points, offsets, shapes, n_points):
    """PDVC's sampling locations, (N, Q, M, L, P).

    reference_points (N, Q, L, 1): a point per level, offsets in units of the level's steps;
    (N, Q, L, 2): a (centre, length) box, offsets in units of length / (2 n_points).
    offsets (N, Q, M, L, P)."""
    centre = reference_points[:, :, None, :, None, 0]
    if reference_points.shape[-1] == 1:
        return centre + offsets / offsets.new_tensor(shapes)[None, None, None, :, None]
    if reference_points.shape[-1] == 2:
        return centre + offsets / n_points * reference_points[:, :, None, :, None, 1] * 0.5
    raise ValueError(f"reference points end in 1 (point) or 2 (box) values, got {reference_points.shape[-1]}")


def init_offset_bias(n_heads, n_levels, n_points, centred=False):
    """Deformable DETR's offset init on a line: head h points left or right (the sign of cos(2 pi h / M)),
    the i-th point i + 1 steps away; `centred` (the captioner) subtracts the mean over points."""
    thetas = torch.arange(n_heads, dtype=torch.float32) * (2 * math.pi / n_heads)
    grid = torch.stack([thetas.cos(), thetas.sin()], -1)
    direction = (grid / grid.abs().max(-1, keepdim=True)[0])[:, 0]
    bias = direction.view(n_heads, 1, 1) * torch.arange(1, n_points + 1, dtype=torch.float32).view(1, 1, -1)
    bias = bias.repeat(1, n_levels, 1)
    if centred:
        bias = bias - bias.mean(2, keepdim=True)
    return bias.flatten()


class MSDeformAttn(nn.Module):
    """Multi-scale deformable attention (Deformable DETR, 1-D as PDVC uses it); parameter names as upstream."""

    def __init__(self, d_model=256, n_levels=4, n_heads=8, n_points=4, padding="zeros"):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.d_model, self.n_levels, self.n_heads, self.n_points = d_model, n_levels, n_heads, n_points
        self.padding = padding
        self.sampling_offsets = nn.Linear(d_model, n_heads * n_levels * n_points)
        self.attention_weights = nn.Linear(d_model, n_heads * n_levels * n_points)
        self.value_proj = nn.Linear(d_model, d_model)
        self.output_proj = nn.Linear(d_model, d_model)
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.zeros_(self.sampling_offsets.weight)
        with torch.no_grad():
            self.sampling_offsets.bias.copy_(init_offset_bias(self.n_heads, self.n_levels, self.n_points))
        nn.init.zeros_(self.attention_weights.weight)
        nn.init.zeros_(self.attention_weights.bias)
        for proj in (self.value_proj, self.output_proj):
            nn.init.xavier_uniform_(proj.weight)
            nn.init.zeros_(proj.bias)

    def forward(self, query, reference_points, memory, shapes, padding_mask=None):
        """query (N, Q, d), reference_points (N, Q, L, 1 or 2), memory (N, S, d) with S = sum(shapes),
        padding_mask (N, S) True at padded tokens -> (N, Q, d)."""
        n, q, _ = query.shape
        value = self.value_proj(memory)
        if padding_mask is not None:
            value = value.masked_fill(padding_mask[..., None], 0.0)
        value = value.view(n, -1, self.n_heads, self.d_model // self.n_heads)
        offsets = self.sampling_offsets(query).view(n, q, self.n_heads, self.n_levels, self.n_points)
        weights = self.attention_weights(query).view(n, q, self.n_heads, self.n_levels * self.n_points)
        weights = F.softmax(weights, -1).view(n, q, self.n_heads, self.n_levels, self.n_points)
        locations = sampling_locations(reference_points, offsets, shapes, self.n_points)
        return self.output_proj(deformable_attention(value, shapes, locations, weights, self.padding))
