"""Feature pyramids over time: ActionFormer's ConvTransformer and the suite's Mamba backbone.

Both share the layout arch = (embedding convs, stem blocks, branch blocks): the stem keeps the input
resolution, each branch block halves it, and the stem output plus every branch output form the pyramid
(arch[2] + 1 levels, strides 1, 2, 4, ...). Tensors are (B, C, T) with mask (B, 1, T) bool.
"""
import torch
import torch.nn.functional as F
from torch import nn

from common.blocks import AffineDropPath, MaskMambaBlock
from common.engine import MODELS
from .blocks import AbsolutePositionEmbedding, ChannelLayerNorm, ConvEmbedding, MaskedConv1D, masked_max_pool


def local_attention(q, k, v, kv_mask, window_size, dropout_p=0.0, training=False):
    """Scaled dot-product attention where query t sees keys t - w//2 .. t + w//2 (all keys if w is None).

    q, k, v: (B, H, T, D); kv_mask (B, T) bool. Padded keys get zero weight; a query with no valid key in
    its window gets a zero output. Returns (B, H, T, D).
    """
    scale = q.shape[-1] ** -0.5
    neg = torch.finfo(q.dtype).min
    if window_size is None:
        scores = torch.einsum("bhtd,bhsd->bhts", q * scale, k)
        valid = kv_mask[:, None, None, :]
        probs = scores.masked_fill(~valid, neg).softmax(-1) * valid
        return F.dropout(probs, dropout_p, training) @ v
    r = window_size // 2
    # (B, H, T, D, W) views of each query's key/value window; out-of-range and padded keys are invalid
    k_win = F.pad(k, (0, 0, r, r)).unfold(2, window_size, 1)
    v_win = F.pad(v, (0, 0, r, r)).unfold(2, window_size, 1)
    valid = F.pad(kv_mask, (r, r)).unfold(1, window_size, 1)[:, None]  # (B, 1, T, W)
    scores = torch.einsum("bhtd,bhtdw->bhtw", q * scale, k_win)
    probs = scores.masked_fill(~valid, neg).softmax(-1) * valid
    return torch.einsum("bhtw,bhtdw->bhtd", F.dropout(probs, dropout_p, training), v_win)


class MaskedMHCA(nn.Module):
    """ActionFormer's multi-head convolutional self-attention (global or local window).

    Query, key and value each pass a depthwise MaskedConv1D (k3, stride 2 when the block downsamples)
    and a channel LayerNorm before their 1x1 projection, so a downsampling block attends at half length.
    """

    def __init__(self, dim, n_head, stride=1, window_size=None, attn_pdrop=0.0, proj_pdrop=0.0):
        super().__init__()
        if dim % n_head:
            raise ValueError(f"embedding dim {dim} is not divisible by n_head {n_head}")
        if window_size is not None and window_size % 2 != 1:
            raise ValueError(f"local attention window must be odd, got {window_size}")
        self.n_head, self.window_size = n_head, window_size
        kernel = stride + 1 if stride > 1 else 3
        self.q_conv, self.k_conv, self.v_conv = (
            MaskedConv1D(dim, dim, kernel, stride=stride, groups=dim, bias=False) for _ in range(3))
        self.q_norm, self.k_norm, self.v_norm = (ChannelLayerNorm(dim) for _ in range(3))
        self.query, self.key, self.value, self.proj = (nn.Conv1d(dim, dim, 1) for _ in range(4))
        for conv in (self.query, self.key, self.value, self.proj):
            nn.init.zeros_(conv.bias)
        self.attn_pdrop, self.proj_drop = attn_pdrop, nn.Dropout(proj_pdrop)

    def forward(self, x, mask):
        q, out_mask = self.q_conv(x, mask)
        k, _ = self.k_conv(x, mask)
        v, _ = self.v_conv(x, mask)
        q, k, v = self.query(self.q_norm(q)), self.key(self.k_norm(k)), self.value(self.v_norm(v))
        B, C, T = q.shape
        q, k, v = (t.view(B, self.n_head, C // self.n_head, T).transpose(2, 3) for t in (q, k, v))
        out = local_attention(q, k, v, out_mask[:, 0], self.window_size, self.attn_pdrop, self.training)
        out = out.transpose(2, 3).reshape(B, C, T)
        return self.proj_drop(self.proj(out)) * out_mask, out_mask


class TransformerBlock(nn.Module):
    """Pre-LN block: x = skip(x) + DropPath(MHCA(LN(x))); x = x + DropPath(MLP(LN(x))).

    skip is masked max-pooling when the block downsamples. DropPath is ActionFormer's AffineDropPath
    (per-channel scale from 1e-4 plus stochastic depth) when drop_path > 0, else the identity.
    """

    def __init__(self, dim, n_head, stride=1, window_size=None, mlp_ratio=4, attn_pdrop=0.0, proj_pdrop=0.0,
                 drop_path=0.0):
        super().__init__()
        self.stride = stride
        self.ln1, self.ln2 = ChannelLayerNorm(dim), ChannelLayerNorm(dim)
        self.attn = MaskedMHCA(dim, n_head, stride, window_size, attn_pdrop, proj_pdrop)
        self.mlp = nn.Sequential(nn.Conv1d(dim, mlp_ratio * dim, 1), nn.GELU(), nn.Dropout(proj_pdrop),
                                 nn.Conv1d(mlp_ratio * dim, dim, 1), nn.Dropout(proj_pdrop))
        for layer in (self.mlp[0], self.mlp[3]):
            nn.init.zeros_(layer.bias)
        self.drop_path_attn, self.drop_path_mlp = (
            AffineDropPath(dim, drop_path) if drop_path > 0 else nn.Identity() for _ in range(2))

    def forward(self, x, mask):
        out, out_mask = self.attn(self.ln1(x), mask)
        skip = masked_max_pool(x, mask, self.stride)[0] if self.stride > 1 else x * mask
        out = skip + self.drop_path_attn(out)
        out = out + self.drop_path_mlp(self.mlp(self.ln2(out)) * out_mask)
        return out, out_mask


class DownsamplingMambaBlock(MaskMambaBlock):
    """The suite's MaskMambaBlock (common.blocks), followed by masked max-pooling when stride is 2."""

    def __init__(self, dim, mixer="dbm", mixer_cfg=None, stride=1, drop_path=0.3):
        super().__init__(dim, mixer, mixer_cfg, drop_path)
        self.stride = stride

    def forward(self, x, mask):
        x, mask = super().forward(x, mask)
        return masked_max_pool(x, mask, self.stride) if self.stride > 1 else (x, mask)


class PyramidBackbone(nn.Module):
    """Embedding -> optional absolute PE -> stem blocks -> branch blocks (each a pyramid level)."""

    def __init__(self, in_channels, embed_dim, arch, max_seq_len, make_block, embed_kernel_size=3,
                 embed_with_ln=True, use_abs_pe=False):
        super().__init__()
        if len(arch) != 3:
            raise ValueError(f"arch must be (embedding convs, stem blocks, branch blocks), got {arch}")
        self.embed_dim = embed_dim
        self.strides = tuple(2 ** i for i in range(arch[2] + 1))
        self.embed = ConvEmbedding(in_channels, embed_dim, arch[0], embed_kernel_size, embed_with_ln)
        self.pos_embed = AbsolutePositionEmbedding(embed_dim, max_seq_len) if use_abs_pe else None
        self.stem = nn.ModuleList(make_block(0, 1) for _ in range(arch[1]))
        self.branch = nn.ModuleList(make_block(i + 1, 2) for i in range(arch[2]))

    def forward(self, x, mask):
        """x (B, C_in, T), mask (B, 1, T) -> tuple of per-level (x, mask), level l at stride 2**l."""
        x, mask = self.embed(x, mask)
        if self.pos_embed is not None:
            x = self.pos_embed(x, mask)
        for block in self.stem:
            x, mask = block(x, mask)
        levels = [(x, mask)]
        for block in self.branch:
            x, mask = block(x, mask)
            levels.append((x, mask))
        return levels


def _per_level(value, n_levels, name):
    values = list(value) if isinstance(value, (list, tuple)) else [value] * n_levels
    if len(values) != n_levels:
        raise ValueError(f"{name} needs one entry per pyramid level ({n_levels}), got {value}")
    return values


@MODELS.register_module()
class ConvTransformerBackbone(PyramidBackbone):
    """ActionFormer's backbone. `block`: n_head, window_size (int, one per level, or -1/None = global),
    mlp_ratio, attn_pdrop, proj_pdrop, drop_path."""

    def __init__(self, in_channels, embed_dim=512, arch=(2, 2, 5), max_seq_len=2304, block=None, **kw):
        block = dict(block or {})
        windows = _per_level(block.pop("window_size", 19), arch[2] + 1, "window_size")
        windows = [None if w is None or w <= 0 else w for w in windows]
        n_head = block.pop("n_head", 4)

        def make_block(level, stride):
            return TransformerBlock(embed_dim, n_head, stride, windows[level], **block)

        super().__init__(in_channels, embed_dim, arch, max_seq_len, make_block, **kw)


@MODELS.register_module()
class MambaBackbone(PyramidBackbone):
    """ActionMamba's backbone. `block`: mixer ("dbm", "vim", "mamba"), mixer_cfg (build_mixer kwargs,
    default d_conv=4), drop_path (0.3 in the suite)."""

    def __init__(self, in_channels, embed_dim=512, arch=(2, 2, 5), max_seq_len=2304, block=None, **kw):
        block = dict(block or {})
        block["mixer_cfg"] = dict(dict(d_conv=4), **block.get("mixer_cfg", {}))

        def make_block(level, stride):
            return DownsamplingMambaBlock(embed_dim, stride=stride, **block)

        super().__init__(in_channels, embed_dim, arch, max_seq_len, make_block, **kw)
