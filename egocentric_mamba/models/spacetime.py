"""The suite's divided space-time towers: its tanh-gated TimeSformer-B/16 (`SpaceTimeTransformer`,
egocentric-understanding/avion/models/timesformer.py) and TimeMamba-B/16 (`TimeMamba`, .../timemamba.py), the
time attention replaced by a ViM scan. This TimeSformer is the suite's own (Frozen-in-Time's, gated "for consistency"
with TimeMamba, paper §4.3), not mmaction2's (whose temporal_fc starts at zero, without a gate).

    clip (B, 3, T, H, W) -> per frame: Conv2d patches (no bias) + pos_embed[1:] (shared by the frames)
    [+ temporal_embed[t], TimeSformer only] -> tokens [cls + pos_embed[0] ; patches in (patch, frame) order]
    -> ln_pre (eps 1e-5) -> depth x block -> norm (eps 1e-6) on the class token [-> @ image_projection]

Block, x = [cls ; p] (B, 1 + N T, D), norms eps 1e-6:
    time     p' = p + tanh(alpha_timeattn) * temporal(norm3(p)): attention (`timeattn`) or ViM (`time_mamba`)
             over each patch position's T frames; style frozen-joint (TimeMamba only): one ViM scan over all
             N T patch tokens in (patch, frame) order. alpha starts at 0, so the time step starts as the identity.
    space    per frame t: [cls ; p'_t] -> attn(norm1(.)); the T class-token outputs averaged -> [c ; s]
    residual timesformer-div ("vanilla"):              x = [cls ; p'] + [c ; s]
             frozen-in-time / frozen-joint ("frozen"): x = x + [c ; s]  (time only feeds the spatial attention)
    mlp      x = x + mlp(norm2(x)), D -> 4 D -> D, exact GELU

Parameter names are upstream's with flash attention (what every script runs): patch_embed.proj, cls_token,
pos_embed, temporal_embed, ln_pre, blocks.i.{norm1, attn.Wqkv, attn.out_proj, timeattn.* | time_mamba.*,
alpha_timeattn, norm2, mlp.fc1, mlp.fc2, norm3}, norm, image_projection. Upstream's path without flash attention
calls nn.MultiheadAttention on batch-first tensors without batch_first (it attends across the wrong axis): only the
flash path is the model, and it is what this computes.

Drop path (`drop_path_rate`, linear over the blocks, on the time, space and MLP updates) is 0 by default, which is
what upstream runs: its --drop-path-rate never reaches these towers. A clip must have the frame count and image size
the tower was built for (upstream silently resizes the temporal and position embeddings by nearest interpolation);
a checkpoint trained with another frame count is inflated explicitly (egocentric_mamba.convert).
"""
import torch
from torch import nn

from common import build_mixer
from common.blocks import DropPath
from common.engine import MODELS
from .layers import Mlp, SelfAttention

STYLES = ("timesformer-div", "frozen-in-time", "frozen-joint")


class SpaceTimeBlock(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio, attention_style, time_mamba=None, drop_path=0.0, norm_eps=1e-6):
        super().__init__()
        self.attention_style = attention_style
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = SelfAttention(dim, num_heads)
        if time_mamba is None:
            self.timeattn = SelfAttention(dim, num_heads)
        else:
            self.time_mamba = build_mixer("vim", dim, **time_mamba)
        self.alpha_timeattn = nn.Parameter(torch.zeros(()))
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.norm3 = nn.LayerNorm(dim, eps=norm_eps)

    def temporal(self, x):
        return self.timeattn(x) if hasattr(self, "timeattn") else self.time_mamba(x)

    def forward(self, x, frames: int):
        """x (B, 1 + N T, D), class token first, patches in (patch, frame) order -> same shape."""
        cls, patches = x[:, :1], x[:, 1:]
        batch, tokens, dim = patches.shape
        if self.attention_style == "frozen-joint":
            update = self.temporal(self.norm3(patches))
        else:
            per_patch = patches.reshape(batch * tokens // frames, frames, dim)
            update = self.temporal(self.norm3(per_patch)).reshape(batch, tokens, dim)
        time_residual = patches + self.drop_path(torch.tanh(self.alpha_timeattn) * update)

        per_frame = time_residual.view(batch, -1, frames, dim).transpose(1, 2).reshape(batch * frames, -1, dim)
        space = self.attn(self.norm1(torch.cat([cls.repeat_interleave(frames, 0), per_frame], dim=1)))
        space_cls = space[:, :1].reshape(batch, frames, dim).mean(1, keepdim=True)
        space_patches = space[:, 1:].reshape(batch, frames, -1, dim).transpose(1, 2).reshape(batch, tokens, dim)
        update = self.drop_path(torch.cat([space_cls, space_patches], dim=1))
        if self.attention_style == "timesformer-div":
            x = torch.cat([cls, time_residual], dim=1) + update
        else:
            x = x + update
        return x + self.drop_path(self.mlp(self.norm2(x)))


@MODELS.register_module()
class SpaceTimeTransformer(nn.Module):
    """The suite's TimeSformer (`SpaceTimeTransformer(..., is_tanh_gating=True, ln_pre=True)`), B/16 by default.

    Args: img_size, patch_size, embed_dims, depth, num_heads, mlp_ratio, num_frames: the token grid and the model;
    attention_style: "timesformer-div" (vanilla) or "frozen-in-time" (frozen); output_dim: the joint embedding
    dimension of a dual encoder (the `image_projection`, init embed_dims^-0.5 N(0, 1)), None for a classifier's
    tower (its output is then the embed_dims-wide class token); drop_path_rate (0: upstream's); time_mamba: the
    ViM arguments that make it a TimeMamba (set by that class), None for time attention."""

    styles = STYLES[:2]

    def __init__(self, img_size=224, patch_size=16, embed_dims=768, depth=12, num_heads=12, mlp_ratio=4.0,
                 num_frames=4, attention_style="timesformer-div", output_dim=256, drop_path_rate=0.0,
                 time_mamba=None):
        super().__init__()
        if attention_style not in self.styles:
            raise ValueError(f"attention_style must be one of {self.styles}, got {attention_style!r}")
        if img_size % patch_size:
            raise ValueError(f"img_size {img_size} must be divisible by patch_size {patch_size}")
        self.embed_dims, self.num_frames, self.attention_style = embed_dims, num_frames, attention_style
        self.img_size, self.grid = img_size, img_size // patch_size
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, embed_dims, patch_size, stride=patch_size, bias=False)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.grid ** 2 + 1, embed_dims))
        # TimeMamba has none: its scan knows the frame order
        self.temporal_embed = nn.Parameter(torch.zeros(1, num_frames, embed_dims)) if time_mamba is None else None
        self.ln_pre = nn.LayerNorm(embed_dims)
        rates = torch.linspace(0, drop_path_rate, depth, device="cpu").tolist()
        self.blocks = nn.ModuleList(SpaceTimeBlock(embed_dims, num_heads, mlp_ratio, attention_style, time_mamba, rate)
                                    for rate in rates)
        self.norm = nn.LayerNorm(embed_dims, eps=1e-6)
        self.image_projection = (None if output_dim is None else
                                 nn.Parameter(embed_dims ** -0.5 * torch.randn(embed_dims, output_dim)))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)

    def forward(self, x):
        """x (B, 3, T, H, W) -> (B, output_dim), or (B, embed_dims) without image_projection."""
        batch, channels, frames, height, width = x.shape
        if (channels, height, width) != (3, self.img_size, self.img_size):
            raise ValueError(f"expected clips (B, 3, T, {self.img_size}, {self.img_size}), got {tuple(x.shape)}")
        if self.temporal_embed is not None and frames != self.num_frames:
            raise ValueError(f"this tower has a temporal embedding for {self.num_frames} frames, the clip has "
                             f"{frames} (convert a checkpoint for another frame count: egocentric_mamba.convert)")
        patches = self.patch_embed.proj(x.transpose(1, 2).flatten(0, 1)).flatten(2).transpose(1, 2)  # (B T, N, D)
        patches = (patches + self.pos_embed[:, 1:]).unflatten(0, (batch, frames)).transpose(1, 2)   # (B, N, T, D)
        if self.temporal_embed is not None:
            patches = patches + self.temporal_embed[:, None]
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(batch, -1, -1)
        x = self.ln_pre(torch.cat([cls, patches.flatten(1, 2)], dim=1))
        for block in self.blocks:
            x = block(x, frames)
        x = self.norm(x[:, 0])
        return x if self.image_projection is None else x @ self.image_projection


@MODELS.register_module()
class TimeMamba(SpaceTimeTransformer):
    """The suite's TimeMamba: SpaceTimeTransformer's arguments, the time attention replaced by
    `time_mamba = Mamba(D, d_conv=4, expand=1, bimamba_type="v2")` (common's ViM, directions summed: d_state 16,
    dt_rank ceil(D / 16) = 48 at B/16), no temporal embedding; attention_style also "frozen-joint" (space-time ViM,
    Fig. 4e of the paper). mixer_cfg: common.build_mixer("vim") arguments. Takes clips of any length."""

    styles = STYLES

    def __init__(self, mixer_cfg=dict(d_state=16, d_conv=4, expand=1), **kwargs):
        super().__init__(time_mamba=dict(mixer_cfg), **kwargs)
