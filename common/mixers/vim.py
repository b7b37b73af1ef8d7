"""ViM block (Vision Mamba's "bimamba v2"): two directions with their own SSM parameters, shared
in_proj/out_proj, summed (or averaged with divide_out=True) before out_proj.

Deviation from Vim, on purpose: both branches get mamba_ssm's dt initialisation. Vim gives it only
to the forward branch (dt_proj_b's bias ends at 0, a 0.693 step size), see the reference notes.
Padding: the backward branch reverses each sequence within its own valid length, so padded tokens
never enter a valid token's backward scan (upstream flips the padded sequence and leaks them).
"""
from torch import nn

from .padding import reverse_within_length
from .registry import register_mixer
from .ssm import SelectiveSSMMixer


@register_mixer("vim")
class BiMambaV2(SelectiveSSMMixer):
    def __init__(self, d_model, divide_out=False, **kwargs):
        super().__init__(d_model, **kwargs)
        self.divide_out = divide_out
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=self._bias, **self._factory)
        self.add_branch()
        self.add_branch("_b")
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=self._bias, **self._factory)

    def forward(self, x, mask=None):
        """x (B, L, d_model), mask (B, L) bool -> (B, L, d_model), zeros at padded positions."""
        x, lengths, keep = self.masked_input(x, mask)
        xz = self.in_proj(x)                                                  # (B, L, 2 d_inner)
        if self.fused_cpu(x):  # both directions read the same x and z
            xs, z = xz.unsqueeze(2).chunk(2, dim=-1)
            y = self.branches_cpu(xs, z, lengths, ("", "_b"), (False, True), sum_directions=True)[0].squeeze(2)
        else:
            xz_b = reverse_within_length(xz, lengths)
            y = self.branch("", *xz.transpose(1, 2).chunk(2, dim=1))
            y_b = self.branch("_b", *xz_b.transpose(1, 2).chunk(2, dim=1))
            y = (y + reverse_within_length(y_b, lengths, dim=2)).transpose(1, 2)
        if self.divide_out:
            y = y / 2
        out = self.out_proj(y)
        return out if keep is None else out.masked_fill(~keep, 0.0)
