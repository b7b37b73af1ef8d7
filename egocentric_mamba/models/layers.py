"""Attention and MLP in the parameter layout of the suite's released checkpoints, computed with plain torch ops.

Every egocentric script runs with --use-flash-attn, so the visual towers hold flash-attn's MHA and Mlp:
    SelfAttention   Wqkv (3 D x D: the q, k and v projections stacked, each head's d_head rows contiguous within
                    them, as in flash-attn's MHA and nn.MultiheadAttention's in_proj), softmax(q k^T / sqrt(d_head)) v,
                    out_proj. scaled_dot_product_attention picks its kernel: no flash-attn needed on any device.
    Mlp             fc1 -> exact GELU -> fc2 (flash-attn's Mlp with the nn.GELU the builders pass).
Transformer is the `transformer.resblocks` container of the CLIP-style towers (state_dict names).
Linear layers start as timm's (weights truncated normal 0.02, biases 0); upstream only ever trains these towers from
CLIP / DeiT weights, so from-scratch initialisation is ours to choose.
"""
import torch.nn.functional as F
from torch import nn


def init_linear(layer: nn.Linear) -> nn.Linear:
    nn.init.trunc_normal_(layer.weight, std=0.02)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


class SelfAttention(nn.Module):
    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"width {dim} must be divisible by the number of heads {num_heads}")
        self.num_heads = num_heads
        self.Wqkv = init_linear(nn.Linear(dim, 3 * dim))
        self.out_proj = init_linear(nn.Linear(dim, dim))

    def forward(self, x):
        """x (B, L, D) -> (B, L, D): every token attends to every token of its sequence."""
        batch, length, dim = x.shape
        q, k, v = self.Wqkv(x).view(batch, length, 3, self.num_heads, dim // self.num_heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)                    # (B, H, L, d_head)
        return self.out_proj(out.transpose(1, 2).reshape(batch, length, dim))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = init_linear(nn.Linear(dim, hidden))
        self.fc2 = init_linear(nn.Linear(hidden, dim))

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Transformer(nn.Module):
    """A stack of residual blocks under the name `resblocks`; extra forward arguments reach every block."""

    def __init__(self, blocks):
        super().__init__()
        self.resblocks = nn.ModuleList(blocks)

    def forward(self, x, *args):
        for block in self.resblocks:
            x = block(x, *args)
        return x
