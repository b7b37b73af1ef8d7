"""Multi-head self-attention with the mixer interface: the Transformer baseline the Mamba mixers
are compared against. window_size=None attends globally; an odd int w lets each query see the
w // 2 positions on each side (ActionFormer's local window, w = 19 on THUMOS)."""
import torch
import torch.nn.functional as F
from torch import nn

from .padding import valid_lengths
from .registry import register_mixer


@register_mixer("attn")
class MultiHeadSelfAttention(nn.Module):
    def __init__(self, d_model, n_head=8, window_size=None, qkv_bias=True, attn_drop=0.0, proj_drop=0.0):
        super().__init__()
        if d_model % n_head:
            raise ValueError(f"d_model {d_model} must be divisible by n_head {n_head}")
        if window_size is not None and (window_size < 1 or window_size % 2 == 0):
            raise ValueError(f"window_size must be None or an odd int >= 1, got {window_size}")
        self.n_head, self.window_size, self.attn_drop = n_head, window_size, attn_drop
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=qkv_bias)
        self.proj = nn.Linear(d_model, d_model)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x, mask=None):
        """x (B, L, d_model), mask (B, L) bool -> (B, L, d_model); whatever padded positions hold (NaN
        included) never reaches a valid output, padded outputs are zero."""
        batch, length, d_model = x.shape
        valid_lengths(mask, x)
        keys = torch.ones(batch, length, dtype=torch.bool, device=x.device) if mask is None else mask.bool()
        if mask is not None:
            x = x.masked_fill(~keys.unsqueeze(-1), 0.0)
        q, k, v = self.qkv(x).view(batch, length, 3, self.n_head, d_model // self.n_head).permute(2, 0, 3, 1, 4)
        dropout = self.attn_drop if self.training else 0.0
        if self.window_size is None:
            # no mask when there is no padding: lets torch pick its memory-efficient kernels
            attn_mask = None if mask is None else keys[:, None, None, :]
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout)
        else:
            out = self._local_attention(q, k, v, keys, dropout)
        out = self.proj_drop(self.proj(out.transpose(1, 2).reshape(batch, length, d_model)))
        return torch.where(keys.unsqueeze(-1), out, torch.zeros((), dtype=out.dtype, device=out.device))

    def _local_attention(self, q, k, v, keys, dropout):
        """q, k, v (B, H, L, dh), keys (B, L) -> (B, H, L, dh); O(L w) memory via sliding views."""
        half = self.window_size // 2
        k_win = F.pad(k, (0, 0, half, half)).unfold(2, self.window_size, 1)   # (B, H, L, dh, w)
        v_win = F.pad(v, (0, 0, half, half)).unfold(2, self.window_size, 1)
        key_ok = F.pad(keys, (half, half), value=False).unfold(1, self.window_size, 1)  # (B, L, w)
        scores = torch.einsum("bhld,bhldw->bhlw", q, k_win) * q.shape[-1] ** -0.5
        scores = scores.masked_fill(~key_ok[:, None], float("-inf"))
        attn = F.dropout(torch.softmax(scores, dim=-1).nan_to_num(0.0), dropout, self.training)
        return torch.einsum("bhlw,bhldw->bhld", attn, v_win)
