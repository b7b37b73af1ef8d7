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
        x, lengths, keep = self.masked_input(x, mask)
        xs, z = self.in_proj(x).chunk(2, dim=-1)                               # (B, L, d_inner) views
        if self.fused_cpu(x):
            y = self.branches_cpu(xs.unsqueeze(2), z.unsqueeze(2), lengths)[0].squeeze(2)
        else:
            y = self.branch("", xs.transpose(1, 2), z.transpose(1, 2)).transpose(1, 2)
        out = self.out_proj(y)
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
        xs, z = self.in_proj(x).chunk(2, dim=-1)                               # (B, L, d_inner) views
        conv_inputs = torch.cat([state.conv.to(xs.dtype), xs.transpose(1, 2)], dim=-1)
        if self.fused_cpu(x):
            y, ssm = self.branches_cpu(xs.unsqueeze(2), z.unsqueeze(2), None,
                                       conv_state=state.conv.to(x.dtype).unsqueeze(1),
                                       ssm_state=state.ssm.to(x.dtype).unsqueeze(1))
            y, ssm = y.squeeze(2), ssm.squeeze(1).to(torch.float64 if x.dtype == torch.float64 else torch.float32)
        else:
            y, ssm = self.branch("", xs.transpose(1, 2), z.transpose(1, 2), conv_state=state.conv,
                                 ssm_state=state.ssm)
            y = y.transpose(1, 2)
        new_state = MambaState(conv=conv_inputs[..., conv_inputs.shape[-1] - (self.d_conv - 1):], ssm=ssm)
        return self.out_proj(y), new_state
