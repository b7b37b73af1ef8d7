"""DBM, the suite's decomposed bidirectional Mamba: separate input projections (and gates) per
direction, ONE set of SSM parameters shared by both directions (run as a 2B batch), outputs
concatenated along channels before out_proj (2 d_inner -> d_model). Expand 1 by default, as the suite
builds it. The backward direction reverses each sequence within its valid length (see vim.py)."""
import torch
from torch import nn

from .padding import reverse_within_length
from .registry import register_mixer
from .ssm import SelectiveSSMMixer


@register_mixer("dbm")
class DecomposedBiMamba(SelectiveSSMMixer):
    def __init__(self, d_model, expand=1, **kwargs):
        super().__init__(d_model, expand=expand, **kwargs)
        self.in_proj = nn.Linear(d_model, 4 * self.d_inner, bias=self._bias, **self._factory)
        self.add_branch()
        self.out_proj = nn.Linear(2 * self.d_inner, d_model, bias=self._bias, **self._factory)

    def forward(self, x, mask=None):
        """x (B, L, d_model), mask (B, L) bool -> (B, L, d_model), zeros at padded positions."""
        x, lengths, keep = self.masked_input(x, mask)
        xz = self.in_proj(x)                                  # (B, L, 4 d_inner): (x, z) forward, (x, z) backward
        if self.fused_cpu(x):
            xs, z = xz.unflatten(-1, (2, 2 * self.d_inner)).chunk(2, dim=-1)   # (B, L, 2, d_inner) views
            y = self.branches_cpu(xs, z, lengths, ("",), (False, True))[0].flatten(2)
        else:
            xz_f, xz_b = xz.chunk(2, dim=-1)
            xz_b = reverse_within_length(xz_b, lengths)
            xs, z = torch.cat([xz_f, xz_b], dim=0).transpose(1, 2).chunk(2, dim=1)
            y_f, y_b = self.branch("", xs, z).chunk(2, dim=0)
            y = torch.cat([y_f, reverse_within_length(y_b, lengths, dim=2)], dim=1).transpose(1, 2)
        out = self.out_proj(y)                                                # y (B, L, 2 d_inner)
        return out if keep is None else out.masked_fill(~keep, 0.0)
