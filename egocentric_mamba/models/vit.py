"""The suite's joint space-time ViT (egocentric-understanding/avion/models/transformer.py `VisionTransformer`, built
by `CLIP_VITT16` / `CLIP_VITS16` / `CLIP_VITB16`: widths 192 / 384 / 768, heads 3 / 6 / 12, 12 layers, patch 16),
ViViM's attention counterpart.

    clip (B, 3, T, H, W) -> patches flattened as (channel, row, column) -> conv1 (a Linear, no bias: upstream's
    --use-fast-conv1, which every script passes; its weight is the Conv2d kernel flattened)
    -> [class_embedding ; patches frame after frame] + [pos[0] ; pos[1:] tiled over the frames + temporal_embedding[t]]
    -> ln_pre -> layers x pre-norm block [x + attn(ln_1(x)); x + mlp(ln_2(x))] over all 1 + N T tokens
    -> ln_post on the class token [-> @ image_projection]

Norm eps 1e-6; attention and MLP in flash-attn's layout (transformer.resblocks.i.{ln_1, attn.Wqkv, attn.out_proj, ln_2,
mlp.fc1, mlp.fc2}), as the released checkpoints hold them. A clip must have the frame count and size the tower was
built for. From scratch, LayerNorm weights start at 1 (upstream's init_parameters draws every block weight named
'weight', LayerNorm gains included, from N(0, 0.02); it only ever trains from DeiT weights, which overwrite them).
"""
import torch
from torch import nn

from common.blocks import DropPath
from common.engine import MODELS
from .layers import Mlp, SelfAttention, Transformer


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width, heads, mlp_ratio, drop_path=0.0, norm_eps=1e-6):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width, eps=norm_eps)
        self.attn = SelfAttention(width, heads)
        self.ln_2 = nn.LayerNorm(width, eps=norm_eps)
        self.mlp = Mlp(width, int(width * mlp_ratio))
        self.drop_path = DropPath(drop_path)

    def forward(self, x):
        x = x + self.drop_path(self.attn(self.ln_1(x)))
        return x + self.drop_path(self.mlp(self.ln_2(x)))


@MODELS.register_module()
class VisionTransformer(nn.Module):
    """Args: img_size, patch_size, width, layers, heads, mlp_ratio, num_frames (ViT-B/16 by default; ViT-T: width 192,
    heads 3; ViT-S: 384, 6); output_dim: the joint dimension (`image_projection`, init N(0, width^-1)), None for a
    classifier's tower; drop_path_rate: the same rate in every block, as upstream's."""

    def __init__(self, img_size=224, patch_size=16, width=768, layers=12, heads=12, mlp_ratio=4.0, num_frames=16,
                 output_dim=256, drop_path_rate=0.0):
        super().__init__()
        if img_size % patch_size:
            raise ValueError(f"img_size {img_size} must be divisible by patch_size {patch_size}")
        self.embed_dims, self.num_frames, self.img_size, self.patch_size = width, num_frames, img_size, patch_size
        self.patches_per_frame = (img_size // patch_size) ** 2
        self.conv1 = nn.Linear(3 * patch_size ** 2, width, bias=False)
        self.class_embedding = nn.Parameter(0.02 * torch.randn(width))
        self.positional_embedding = nn.Parameter(0.02 * torch.randn(self.patches_per_frame + 1, width))
        self.temporal_embedding = nn.Parameter(torch.zeros(num_frames, width)) if num_frames > 1 else None
        self.ln_pre = nn.LayerNorm(width, eps=1e-6)
        self.transformer = Transformer([ResidualAttentionBlock(width, heads, mlp_ratio, drop_path_rate)
                                        for _ in range(layers)])
        self.ln_post = nn.LayerNorm(width, eps=1e-6)
        self.image_projection = (None if output_dim is None else
                                 nn.Parameter(width ** -0.5 * torch.randn(width, output_dim)))

    def forward(self, x):
        """x (B, 3, T, H, W) -> (B, output_dim), or (B, width) without image_projection."""
        if tuple(x.shape[1:]) != (3, self.num_frames, self.img_size, self.img_size):
            raise ValueError(f"expected clips (B, 3, {self.num_frames}, {self.img_size}, {self.img_size}), "
                             f"got {tuple(x.shape)}")
        batch, p, side = len(x), self.patch_size, self.img_size // self.patch_size
        patches = x.view(batch, 3, self.num_frames, side, p, side, p).permute(0, 2, 3, 5, 1, 4, 6)  # b t h w c ph pw
        x = self.conv1(patches.reshape(batch, -1, 3 * p * p))
        position = self.positional_embedding[1:].repeat(self.num_frames, 1)
        if self.temporal_embedding is not None:
            position = position + self.temporal_embedding.repeat_interleave(self.patches_per_frame, 0)
        cls = (self.class_embedding + self.positional_embedding[0]).expand(len(x), 1, -1)
        x = self.ln_pre(torch.cat([cls, x + position], dim=1))
        x = self.ln_post(self.transformer(x)[:, 0])
        return x if self.image_projection is None else x @ self.image_projection
