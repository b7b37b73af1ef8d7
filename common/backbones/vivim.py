"""ViViM: Vision Mamba over space-time patch tokens, as the suite builds it: its video classifier backbone
(video-mamba-suite action-recognition/models/vivim.py, `vivim_tiny` / `vivim_small`) and, with `output_dim`, the
visual tower of its video-text dual encoder (egocentric-understanding/avion/models/vimamba.py, `CLIP_ViViM_*`).
Two tasks use it: videomamba_st registers it into mmaction2's registry, egocentric_mamba into mmengine's.

    clip (B, C, T, H, W) -> tubelet embedding -> per tubelet-frame: M patch tokens with a class token inserted at
    position M // 2, + the frame position embedding (M + 1 entries, shared by all frames) + that frame's temporal
    embedding (zero at init) -> T' (M + 1) tokens, frame after frame -> depth x [r = r + DropPath(ViM(RMSNorm(r)))]
    -> RMSNorm -> mean of the T' class tokens (B, D) [-> @ image_projection (D, output_dim)]

ViM is common's bimamba v2 with the directions averaged (`divide_out=True`, the suite's `if_devide_out=True`); the
backward scan covers the whole space-time sequence. The suite's fused add-norm blocks (residual kept in fp32) are the
plain pre-norm residual written above; block i's mixer output is dropped with rate linspace(0, drop_path_rate,
depth)[i] (the suite shifts the same rates by one block and applies the last one after the final mixer).
Parameter names are the suite's (patch_embed.proj, cls_token, pos_embed, temporal_embedding, layers.i.mixer.*,
layers.i.norm.weight, norm_f.weight, image_projection), with the patch projection held as a Conv3d (its Conv2d
weight gains a time axis of size `tubelet_size`).

`pretrained`: a Vision Mamba ImageNet checkpoint (hustvl/Vim, e.g. vim_t_midclstok_76p1acc.pth) inflated to video the
suite's way: the image weights as they are, the temporal embedding left at zero, the classifier dropped. Two
generalisations the suite does not need at 224 px with tubelet 1: a tubelet > 1 spreads the 2-D patch kernel evenly
over its frames (I3D inflation) and another grid size interpolates the position embedding (bicubic, class entry kept).
"""
import argparse
import math

import torch
import torch.nn.functional as F
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from torch import nn

from common import build_mixer
from common.blocks import DropPath


class ViViMBlock(nn.Module):
    """r -> r + DropPath(ViM(RMSNorm(r))), r (B, L, D). Under autocast r stays fp32 (the suite's residual_in_fp32)."""

    def __init__(self, dim: int, drop_path: float, norm_eps: float, mixer_cfg: dict):
        super().__init__()
        self.mixer = build_mixer("vim", dim, divide_out=True, **mixer_cfg)
        self.norm = nn.RMSNorm(dim, eps=norm_eps)
        self.drop_path = DropPath(drop_path)

    def forward(self, residual):
        return residual + self.drop_path(self.mixer(self.norm(residual)))


class ViViM(BaseModule):
    """Args: num_frames / img_size / patch_size / tubelet_size define the token grid; embed_dims, depth and
    mixer_cfg (d_state, d_conv, expand, ...: common.build_mixer("vim") arguments) the model; Tiny = 192 / 24,
    Small = 384 / 24. output_dim: the dual encoder's joint dimension (an `image_projection` D x output_dim after the
    pooling, init D^-0.5 N(0, 1) as the suite's), None for a classifier backbone. pretrained: path of a Vim ImageNet
    checkpoint, loaded (and inflated) by init_weights()."""

    def __init__(self, num_frames=16, img_size=224, patch_size=16, tubelet_size=1, in_channels=3, embed_dims=192,
                 depth=24, mixer_cfg=None, drop_path_rate=0.1, norm_eps=1e-5, output_dim=None, pretrained=None,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if num_frames % tubelet_size or img_size % patch_size:
            raise ValueError(f"num_frames {num_frames} must divide by tubelet_size {tubelet_size} and img_size "
                             f"{img_size} by patch_size {patch_size}")
        self.pretrained = pretrained
        self.embed_dims, self.depth = embed_dims, depth
        self.grid = (num_frames // tubelet_size, img_size // patch_size, img_size // patch_size)
        num_patches = self.grid[1] * self.grid[2]
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv3d(in_channels, embed_dims, (tubelet_size, patch_size, patch_size),
                                          stride=(tubelet_size, patch_size, patch_size))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, embed_dims))
        self.temporal_embedding = nn.Parameter(torch.zeros(self.grid[0], 1, embed_dims))
        rates = torch.linspace(0, drop_path_rate, depth, device="cpu").tolist()
        self.layers = nn.ModuleList(ViViMBlock(embed_dims, rate, norm_eps, mixer_cfg or {}) for rate in rates)
        self.norm_f = nn.RMSNorm(embed_dims, eps=norm_eps)
        self._init_like_suite()
        self.image_projection = (None if output_dim is None else
                                 nn.Parameter(embed_dims ** -0.5 * torch.randn(embed_dims, output_dim)))

    @property
    def cls_positions(self):
        """Indices of the class tokens in the flattened token sequence: M // 2 of every frame's M + 1 tokens."""
        per_frame = self.pos_embed.shape[1]
        return torch.arange(self.grid[0]) * per_frame + (per_frame - 1) // 2

    def _init_like_suite(self):
        # patch embedding lecun-normal; pos / cls truncated normal 0.02; temporal embedding 0; linear biases 0 except
        # the dt biases (their softplus^-1 init); out_proj rescaled by 1/sqrt(depth) (GPT-2's prenorm residual rule)
        fan_in = self.patch_embed.proj.weight[0].numel()
        std = math.sqrt(1.0 / fan_in) / .87962566103423978
        nn.init.trunc_normal_(self.patch_embed.proj.weight, std=std, a=-2 * std, b=2 * std)
        nn.init.zeros_(self.patch_embed.proj.bias)
        nn.init.trunc_normal_(self.pos_embed, std=.02)
        nn.init.trunc_normal_(self.cls_token, std=.02)
        for module in self.layers.modules():
            if isinstance(module, nn.Linear) and module.bias is not None and not getattr(module.bias, "_no_reinit", 0):
                nn.init.zeros_(module.bias)
        for layer in self.layers:
            nn.init.kaiming_uniform_(layer.mixer.out_proj.weight, a=math.sqrt(5))
            with torch.no_grad():
                layer.mixer.out_proj.weight /= math.sqrt(self.depth)

    def init_weights(self):
        super().init_weights()
        if self.pretrained:
            load_vim_checkpoint(self, self.pretrained)

    def forward(self, x):
        """x (B, C, T, H, W) -> the mean of the frames' class tokens after the final norm (B, embed_dims), projected
        to (B, output_dim) when the model has an image_projection."""
        x = self.patch_embed.proj(x)                                      # (B, D, T', h, w)
        batch, dim, frames = x.shape[:3]
        if (frames, *x.shape[3:]) != self.grid:
            raise ValueError(f"clip gives a {(frames, *x.shape[3:])} token grid, the model was built for {self.grid}")
        x = x.flatten(3).permute(0, 2, 3, 1)                              # (B, T', M, D)
        middle = x.shape[2] // 2
        cls = self.cls_token.expand(batch, frames, 1, dim)
        x = torch.cat([x[:, :, :middle], cls, x[:, :, middle:]], dim=2) + self.pos_embed
        x = (x + self.temporal_embedding).flatten(1, 2)                   # (B, T' (M + 1), D)
        for layer in self.layers:
            x = layer(x)
        x = self.norm_f(x)[:, self.cls_positions].mean(1)
        return x if self.image_projection is None else x @ self.image_projection


def read_checkpoint(path: str) -> dict:
    """torch.load for upstream releases: tensors and containers, plus the argparse.Namespace of the training
    arguments DeiT-style checkpoints (Vim, the suite) carry under 'args'."""
    with torch.serialization.safe_globals([argparse.Namespace]):
        return torch.load(path, map_location="cpu", weights_only=True)


def vim_state_dict(checkpoint: dict, source: str) -> dict:
    """The model weights of a Vim checkpoint: its 'model' entry (DeiT's layout), else the dict itself."""
    state = checkpoint.get("model", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or "pos_embed" not in state or "patch_embed.proj.weight" not in state:
        raise ValueError(f"{source}: not a Vision Mamba checkpoint (expected 'model' -> a state_dict with "
                         f"patch_embed.proj.weight, pos_embed, cls_token, layers.*)")
    return state


def resize_pos_embed(pos_embed: torch.Tensor, grid: tuple) -> torch.Tensor:
    """(1, h0 w0 + 1, D) with the class entry in the middle -> (1, h w + 1, D): the patch entries interpolated
    bicubically on their square grid, the class entry re-inserted at the new middle."""
    num_patches = pos_embed.shape[1] - 1
    side = math.isqrt(num_patches)
    if side * side != num_patches:
        raise ValueError(f"position embedding of {num_patches} patches is not a square grid")
    middle = num_patches // 2
    cls, patches = pos_embed[:, middle:middle + 1], torch.cat([pos_embed[:, :middle], pos_embed[:, middle + 1:]], 1)
    patches = patches.reshape(1, side, side, -1).permute(0, 3, 1, 2)
    patches = F.interpolate(patches.float(), size=grid, mode="bicubic", align_corners=False)
    patches = patches.flatten(2).transpose(1, 2).to(pos_embed.dtype)
    new_middle = patches.shape[1] // 2
    return torch.cat([patches[:, :new_middle], cls, patches[:, new_middle:]], dim=1)


def inflate_vim_state_dict(state: dict, model: ViViM) -> dict:
    """Vim image weights -> the ViViM backbone's state_dict, all but the temporal embedding (zero, as in the suite)."""
    state = {k: v for k, v in state.items() if not k.startswith("head.")}
    weight = state["patch_embed.proj.weight"]
    tubelet = model.patch_embed.proj.kernel_size[0]
    if weight.dim() == 4:
        state["patch_embed.proj.weight"] = weight.unsqueeze(2).repeat(1, 1, tubelet, 1, 1) / tubelet
    if state["pos_embed"].shape != model.pos_embed.shape:
        state["pos_embed"] = resize_pos_embed(state["pos_embed"], model.grid[1:])
    return state


LEFT_FRESH = ("temporal_embedding", "image_projection")  # what Vim's image classifier has no counterpart for


def load_vim_checkpoint(model: ViViM, source) -> None:
    """Load a Vim ImageNet checkpoint (a path or what torch.load read) into a ViViM backbone, inflated to video.
    Every weight but the temporal embedding (and the image projection of a dual encoder's tower) must be there with
    a matching shape."""
    name = source if isinstance(source, str) else "Vim checkpoint"
    state = inflate_vim_state_dict(vim_state_dict(read_checkpoint(source) if isinstance(source, str) else source,
                                                  name), model)
    expected = model.state_dict()
    problems = [f"missing: {k}" for k in expected if k not in state and k not in LEFT_FRESH]
    problems += [f"unexpected: {k}" for k in state if k not in expected]
    problems += [f"shape of {k}: {tuple(v.shape)} in the checkpoint, {tuple(expected[k].shape)} in the model"
                 for k, v in state.items() if k in expected and v.shape != expected[k].shape]
    if problems:
        raise ValueError(f"{name} does not fit this ViViM:\n  " + "\n  ".join(problems))
    model.load_state_dict(state, strict=False)
    fresh = ", ".join(k for k in LEFT_FRESH if k in expected)
    MMLogger.get_current_instance().info(f"ViViM: loaded Vim weights from {name} (left fresh: {fresh})")
