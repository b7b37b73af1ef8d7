"""Causal Mamba (mamba_ssm's Mamba block) with an explicit streaming state."""
from dataclasses import dataclass

import torch
from torch import nn

from .registry import register_mixer
from .ssm import SelectiveSSMMixer


@dataclass
class MambaState:
    """Everything a causal Mamba needs to continue a sequence: the last d_conv - 1 conv inputs
    (B, d_inner, d_conv - 1) and the ssm state (B, d_inner, d_state), fp32."""
    conv: torch.Tensor
    ssm: torch.Tensor


@register_mixer("mamba")
class Mamba(SelectiveSSMMixer):
    def __init__(self, d_model, **kwargs):
        super().__init__(d_model, **kwargs)
        factory = self._factory
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=self._bias, **factory)
        self.add_branch()
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=self._bias, **factory)

    def forward(self, x, mask=None):
        """x (B, L, d_model), mask (B, L) bool -> (B, L, d_model). Causal: padding at the end never
        reaches valid positions; padded outputs are zero."""
        x, _, keep = self.masked_input(x, mask)
        xs, z = self.in_proj(x).transpose(1, 2).chunk(2, dim=1)
        out = self.out_proj(self.branch("", xs, z).transpose(1, 2))
        return out if keep is None else out.masked_fill(~keep, 0.0)

    def init_state(self, batch, device=None):
        device = device or self.in_proj.weight.device
        return MambaState(conv=torch.zeros(batch, self.d_inner, self.d_conv - 1, device=device),
                          ssm=torch.zeros(batch, self.d_inner, self.d_state, device=device))

    def stream(self, x, state=None):
        """Continues a sequence: x (B, L_chunk, d_model), any L_chunk >= 1, state from init_state()
        or the previous call. Returns (out (B, L_chunk, d_model), new state). Chunks of any size give
        the one-pass output."""
        state = state or self.init_state(x.shape[0], x.device)
        xs, z = self.in_proj(x).transpose(1, 2).chunk(2, dim=1)
        conv_inputs = torch.cat([state.conv.to(xs.dtype), xs], dim=-1)
        y, ssm = self.branch("", xs, z, conv_state=state.conv, ssm_state=state.ssm)
        new_state = MambaState(conv=conv_inputs[..., conv_inputs.shape[-1] - (self.d_conv - 1):], ssm=ssm)
        return self.out_proj(y.transpose(1, 2)), new_state
