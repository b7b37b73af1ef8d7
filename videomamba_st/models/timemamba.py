"""TimeMamba: mmaction2's TimeSformer (divided space-time) with its temporal attention replaced by a ViM scan over
each spatial position's frames, gated by tanh(alpha) with alpha = 0 at init: the suite's temporal adapter
(video-mamba-suite egocentric-understanding/avion/models/timemamba.py, attention_style "timesformer-div").

One block, tokens [cls ; patches in (patch, frame) order] (B, 1 + P T, D):
    temporal  x_p <- x_p + DropPath(tanh(alpha) * ViM(LN(x_p)))      x_p: one patch's T frames, cls untouched
    spatial   mmaction's DividedSpatialAttentionWithNorm (cls repeated per frame, attention within each frame,
              the frames' cls outputs averaged)
    ffn       mmaction's FFNWithNorm
ViM is common's bimamba v2 with the directions summed (the suite: expand 1, d_conv 4, no divide).

With alpha = 0 the temporal step is the identity, so the model starts as the image ViT applied frame by frame,
like TimeSformer with its zero-initialised temporal_fc. Everything but the temporal step is TimeSformer's, names
included (transformer_layers.layers.i.attentions.1 / ffns.0, patch_embed.projection, pos_embed, cls_token,
time_embed, norm), so `pretrained` ViT checkpoints load through TimeSformer.init_weights and TimeSformer
checkpoints convert (videomamba_st.convert). Two differences from the suite, both to stay like-for-like with
the TimeSformer baseline: TimeSformer's zero-initialised time_embed is kept (suite checkpoints convert with it at
zero, which computes the same), and the temporal and spatial residuals carry drop path like TimeSformer's. The
suite's CLIP-initialised model also normalises the tokens before the first block (`ln_pre=True`).
"""
import numpy as np
import torch
from einops import rearrange
from mmaction.models.backbones.timesformer import TimeSformer
from mmaction.registry import MODELS
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks.transformer import build_dropout
from mmengine.model import BaseModule
from torch import nn

from common import build_mixer


@MODELS.register_module()
class DividedTemporalMambaWithNorm(BaseModule):
    """Drop-in for mmaction's DividedTemporalAttentionWithNorm: query (B, 1 + P T, D), patch-major tokens."""

    def __init__(self, embed_dims, num_frames, mamba_cfg=None, dropout_layer=None, norm_cfg=dict(type="LN"),
                 init_cfg=None, **kwargs):
        super().__init__(init_cfg)
        self.embed_dims, self.num_frames = embed_dims, num_frames
        self.norm = build_norm_layer(norm_cfg, embed_dims)[1]
        self.mamba = build_mixer("vim", embed_dims, **(mamba_cfg or dict(d_state=16, d_conv=4, expand=1)))
        self.alpha = nn.Parameter(torch.zeros(()))
        self.dropout_layer = build_dropout(dropout_layer) if dropout_layer else nn.Identity()

    def forward(self, query, key=None, value=None, residual=None, **kwargs):
        cls, patches = query[:, :1], query[:, 1:]
        batch, tokens, dim = patches.shape
        per_patch = patches.reshape(batch * tokens // self.num_frames, self.num_frames, dim)
        update = torch.tanh(self.alpha) * self.mamba(self.norm(per_patch))
        return torch.cat([cls, patches + self.dropout_layer(update).reshape(batch, tokens, dim)], dim=1)


@MODELS.register_module()
class TimeMamba(TimeSformer):
    """TimeSformer's arguments (attention_type must stay 'divided_space_time'), plus
    drop_path_rate: the blocks' stochastic depth grows linearly to it (TimeSformer fixes 0.1);
    mamba_cfg: common.build_mixer("vim") arguments of the temporal scan;
    ln_pre: a LayerNorm (eps 1e-5) over the tokens before the first block, as in the suite's CLIP-initialised model."""

    def __init__(self, num_frames, img_size, patch_size, embed_dims=768, num_heads=12, num_transformer_layers=12,
                 drop_path_rate=0.1, mamba_cfg=dict(d_state=16, d_conv=4, expand=1), ln_pre=False,
                 attention_type="divided_space_time", **kwargs):
        if attention_type != "divided_space_time":
            raise ValueError(f"TimeMamba replaces divided space-time attention, not {attention_type!r}")
        norm = dict(type="LN", eps=1e-6)
        layers = [dict(
            type="BaseTransformerLayer",
            attn_cfgs=[
                dict(type="DividedTemporalMambaWithNorm", embed_dims=embed_dims, num_frames=num_frames,
                     mamba_cfg=mamba_cfg, dropout_layer=dict(type="DropPath", drop_prob=rate), norm_cfg=norm),
                dict(type="DividedSpatialAttentionWithNorm", embed_dims=embed_dims, num_heads=num_heads,
                     num_frames=num_frames, dropout_layer=dict(type="DropPath", drop_prob=rate), norm_cfg=norm)],
            ffn_cfgs=dict(type="FFNWithNorm", embed_dims=embed_dims, feedforward_channels=embed_dims * 4, num_fcs=2,
                          act_cfg=dict(type="GELU"), dropout_layer=dict(type="DropPath", drop_prob=rate),
                          norm_cfg=norm),
            operation_order=("self_attn", "self_attn", "ffn"))
            for rate in np.linspace(0, drop_path_rate, num_transformer_layers)]
        super().__init__(num_frames, img_size, patch_size, embed_dims=embed_dims, num_heads=num_heads,
                         num_transformer_layers=num_transformer_layers, attention_type=attention_type,
                         transformer_layers=dict(type="TransformerLayerSequence", transformerlayers=layers,
                                                 num_layers=num_transformer_layers), **kwargs)
        self.ln_pre = nn.LayerNorm(embed_dims) if ln_pre else None

    def forward(self, x):
        """x (B, C, T, H, W) -> (B, embed_dims), the class token: TimeSformer.forward with the optional ln_pre."""
        batch = x.shape[0]
        x = self.patch_embed(x)                                           # (B T, P, D)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        x = self.drop_after_pos(x)
        cls = x[:batch, :1]  # every frame's class token is cls_token + pos_embed[0]: take any batch rows
        x = rearrange(x[:, 1:], "(b t) p d -> (b p) t d", b=batch) + self.time_embed
        x = rearrange(self.drop_after_time(x), "(b p) t d -> b (p t) d", b=batch)
        x = torch.cat([cls, x], dim=1)
        if self.ln_pre is not None:
            x = self.ln_pre(x)
        return self.norm(self.transformer_layers(x, None, None))[:, 0]
