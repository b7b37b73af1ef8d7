"""The suite's CLIP-style video-text dual encoder (egocentric-understanding/avion/models/model_clip.py `CLIP`, built by
every `CLIP_*` builder): a visual tower and the text tower, each ending in its projection to the joint space
(`image_projection`, `text_projection`, 256-d), both outputs L2-normalised, and a frozen logit scale.

forward(inputs, data_samples, mode):
    inputs        clips (B, 3, T, H, W), float, already normalised (the suite's CLIP mean / std)
    data_samples  one dict per clip: `tokens` int64 (77,) (its caption) or (K, 77) (K candidate texts, EgoSchema's
                  options), every clip of a batch alike; the other entries (ids) are copied into predictions
    "tensor"      (video_emb (B, 256), text_emb (B, 256) or (B, K, 256)), L2-normalised
    "loss"        the configured loss over the global batch (ClipInfoNCELoss for Ego4D pre-training,
                  MaxMarginRankingLoss for EK100 MIR fine-tuning); one caption per clip
    "predict"     one dict per clip: video_emb (256,), text_emb (256,) or (K, 256), on the CPU, and the sample's
                  other entries
State dict: visual.*, textual.*, logit_scale, as upstream's (the released files add DDP's `module.`).
"""
import math

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel

from common.engine import MODELS


def build_in_root(cfg: dict, **overrides):
    """MODELS.build from mmengine's root registry whatever the current default scope: mmaction2's registry (the
    default scope once a videomamba_st run has been built in this process) has its own TimeMamba,
    VisionTransformer and ViViM."""
    return MODELS.build(dict(cfg, _scope_="mmengine", **overrides))


def sample_extras(sample: dict) -> dict:
    """What a prediction copies from its data sample: everything but the model's inputs."""
    return {k: v for k, v in sample.items() if k != "tokens"}


@MODELS.register_module()
class VideoTextDualEncoder(BaseModel):
    """Args: visual: the visual tower's config (SpaceTimeTransformer, TimeMamba, VisionTransformer or ViViM, with
    output_dim = the text tower's); textual: the text tower's (TextTransformer, CLIP's by default); loss: the loss's
    config (ClipInfoNCELoss by default); temperature: the frozen logit scale is ln(1 / temperature), a buffer (the
    suite's --freeze-temperature, in every script: 1 / 0.07 = 14.29)."""

    def __init__(self, visual: dict, textual: dict | None = None, loss: dict | None = None, temperature=0.07,
                 data_preprocessor=None, init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.visual = build_in_root(visual)
        self.textual = build_in_root(textual or dict(type="TextTransformer"))
        if self.visual.image_projection is None:
            raise ValueError("the visual tower of a dual encoder needs an output_dim (its image_projection)")
        video_dim, text_dim = self.visual.image_projection.shape[1], self.textual.text_projection.shape[1]
        if video_dim != text_dim:
            raise ValueError(f"the towers project to different joint spaces: video {video_dim}, text {text_dim}")
        self.register_buffer("logit_scale", torch.tensor(math.log(1 / temperature)))
        self.loss_fn = build_in_root(loss or dict(type="ClipInfoNCELoss"))

    def encode_video(self, clips):
        """clips (B, 3, T, H, W) -> (B, D), L2-normalised."""
        if not torch.is_tensor(clips) or clips.dim() != 5 or not clips.is_floating_point():
            raise ValueError("inputs must be a float tensor of clips (B, 3, T, H, W), got "
                             f"{type(clips).__name__} {tuple(getattr(clips, 'shape', ()))}")
        return F.normalize(self.visual(clips), dim=-1)

    def encode_text(self, tokens):
        """tokens (..., 77) -> (..., D), L2-normalised."""
        return F.normalize(self.textual(tokens.flatten(0, -2)), dim=-1).unflatten(0, tokens.shape[:-1])

    def forward(self, inputs, data_samples=None, mode="tensor"):
        if mode not in ("tensor", "loss", "predict"):
            raise ValueError(f"unknown mode {mode!r} (expected 'tensor', 'loss' or 'predict')")
        tokens = stack_tokens(data_samples, len(inputs))
        video, text = self.encode_video(inputs), self.encode_text(tokens.to(inputs.device))
        if mode == "tensor":
            return video, text
        if mode == "loss":
            if tokens.dim() != 2:
                raise ValueError(f"training pairs one caption (77,) with each clip, got tokens "
                                 f"{tuple(tokens.shape[1:])}")
            return self.loss_fn(video, text, self.logit_scale.exp())
        video, text = video.detach().cpu(), text.detach().cpu()
        return [dict(sample_extras(sample), video_emb=video[i], text_emb=text[i])
                for i, sample in enumerate(data_samples)]


def stack_tokens(data_samples, batch_size: int) -> torch.Tensor:
    """The batch's `tokens`, (B, 77) or (B, K, 77), with errors saying what does not fit."""
    if data_samples is None or len(data_samples) != batch_size:
        raise ValueError(f"expected one data sample (a dict with 'tokens') per clip: {batch_size} clips, "
                         f"{'no' if data_samples is None else len(data_samples)} samples")
    shapes = {tuple(torch.as_tensor(s["tokens"]).shape) if "tokens" in s else None for s in data_samples}
    if None in shapes or len(shapes) != 1:
        raise ValueError(f"every data sample of a batch needs 'tokens' of one shape, got {sorted(map(str, shapes))}")
    return torch.stack([torch.as_tensor(s["tokens"]) for s in data_samples])
