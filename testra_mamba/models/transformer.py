"""LSTR / TeSTra's Transformer pieces, batch first, with upstream's parameter names (so its checkpoints map
one to one): post-norm encoder and decoder layers, stacks with a final LayerNorm, sinusoidal positions.

Attention is softmax(q k^T / sqrt(d_head) + bias) v with dropout on the weights; `bias` (broadcast to
B, heads, L_q, L_k) carries the masks (-inf) and, for TeSTra's long-memory compression, the ESA kernel's
log-decay (see esa.py).
"""
import copy
import math

import torch
import torch.nn.functional as F
from torch import nn


def causal_bias(length, device=None):
    """(L, L): 0 on and below the diagonal, -inf above (upstream's generate_square_subsequent_mask)."""
    return torch.full((length, length), float("-inf"), device=device).triu(1)


class MultiheadAttention(nn.Module):
    """Upstream's layout: in_proj_weight (3D, D) and in_proj_bias for q, k, v, then out_proj."""

    def __init__(self, d_model, num_heads, dropout=0.0):
        super().__init__()
        if d_model % num_heads:
            raise ValueError(f"d_model {d_model} must be divisible by num_heads {num_heads}")
        self.d_model, self.num_heads, self.dropout = d_model, num_heads, dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d_model))
        self.out_proj = nn.Linear(d_model, d_model)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def project(self, x, which):
        """x (B, L, D) -> (B, heads, L, d_head) for which = 0 (query), 1 (key), 2 (value)."""
        d = self.d_model
        out = F.linear(x, self.in_proj_weight[which * d:(which + 1) * d], self.in_proj_bias[which * d:(which + 1) * d])
        return out.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)

    def merge(self, heads):
        """(B, heads, L, d_head) -> out_proj of the concatenated heads (B, L, D)."""
        return self.out_proj(heads.transpose(1, 2).flatten(2))

    def forward(self, query, key, value, bias=None):
        out = F.scaled_dot_product_attention(self.project(query, 0), self.project(key, 1), self.project(value, 2),
                                             attn_mask=bias, dropout_p=self.dropout if self.training else 0.0)
        return self.merge(out)


def feed_forward(layer, x, norm, dropout):
    """norm(x + dropout(linear2(dropout(relu(linear1(x)))))): a layer's FFN sub-block."""
    return norm(x + dropout(layer.linear2(layer.dropout(F.relu(layer.linear1(x))))))


class EncoderLayer(nn.Module):
    """x = norm1(x + SA(x)); x = norm2(x + FFN(x)) (upstream's TransformerEncoderLayer, ReLU)."""

    def __init__(self, d_model, num_heads, dim_feedforward, dropout):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, num_heads, dropout)
        self.linear1, self.linear2 = nn.Linear(d_model, dim_feedforward), nn.Linear(dim_feedforward, d_model)
        self.dropout, self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout), nn.Dropout(dropout)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)

    def forward(self, x, bias=None):
        x = self.norm1(x + self.dropout1(self.self_attn(x, x, x, bias)))
        return feed_forward(self, x, self.norm2, self.dropout2)


class DecoderLayer(nn.Module):
    """Upstream's TransformerDecoderLayer: self-attention, cross-attention, FFN, each add + LayerNorm.
    Split in two so streaming can supply the cross-attention's result itself."""

    def __init__(self, d_model, num_heads, dim_feedforward, dropout):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, num_heads, dropout)
        self.multihead_attn = MultiheadAttention(d_model, num_heads, dropout)
        self.linear1, self.linear2 = nn.Linear(d_model, dim_feedforward), nn.Linear(dim_feedforward, d_model)
        self.dropout = nn.Dropout(dropout)
        self.dropout1, self.dropout2, self.dropout3 = nn.Dropout(dropout), nn.Dropout(dropout), nn.Dropout(dropout)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d_model), nn.LayerNorm(d_model), nn.LayerNorm(d_model)

    def self_block(self, tgt, bias=None):
        return self.norm1(tgt + self.dropout1(self.self_attn(tgt, tgt, tgt, bias)))

    def output_block(self, tgt, attended):
        """The rest of the layer, given the cross-attention output `attended` (B, L, D)."""
        return feed_forward(self, self.norm2(tgt + self.dropout2(attended)), self.norm3, self.dropout3)

    def forward(self, tgt, memory, tgt_bias=None, memory_bias=None):
        tgt = self.self_block(tgt, tgt_bias)
        return self.output_block(tgt, self.multihead_attn(tgt, memory, memory, memory_bias))


class TransformerStack(nn.Module):
    """`num_layers` copies of a layer and a final LayerNorm (upstream's TransformerEncoder / Decoder)."""

    def __init__(self, layer, num_layers, d_model):
        super().__init__()
        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(num_layers))
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x, *args, **kwargs):
        for layer in self.layers:
            x = layer(x, *args, **kwargs)
        return self.norm(x)


class PositionalEncoding(nn.Module):
    """x + pe[offset : offset + L], then dropout; pe interleaves sin (even dims) and cos (odd dims)."""

    def __init__(self, d_model, dropout=0.1, max_len=5000):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        position = torch.arange(max_len, dtype=torch.float).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe, persistent=False)

    def forward(self, x, offset=0):
        return self.dropout(x + self.pe[offset:offset + x.shape[1]])
