"""ASFormer (Yi et al., BMVC 2021) and its ASMamba variants (encoder attention -> a `common` mixer).

    features (B, input_dim, T)
      -> Encoder: channel masking, 1x1 conv, num_layers AttModules (dilation 2^i), 1x1 conv -> logits
      -> num_decoders x Decoder: softmax(prev logits) -> 1x1 conv, AttModules whose values come from
         the previous stage's feature (cross-attention), alpha = exp(-3 s) -> logits
    forward(mode="tensor") returns the stacked stage logits (1 + num_decoders, B, num_classes, T).

Module and parameter names follow upstream's `MyTransformer`, so its checkpoints (`epoch-120.model`,
a plain state_dict) load into the baseline with `load_state_dict`. Batches of any size: every op
respects the (B, T) mask, and padded frames never reach a valid one.

Variant switch: `encoder_mixer=dict(kind="vim" | "dbm" | "mamba", **mixer_kwargs)` turns every encoder
layer into the suite's `AttModule_mamba` (`MambaAttModule`): the suite's MaskMambaBlock (pre-norm,
layer scale, stochastic depth `drop_path`) around `common.build_mixer(kind, ...)` in the attention slot,
no conv_1x1; decoders keep cross-attention. Upstream ASMamba checkpoints convert with
tools/convert_checkpoint.py (it drops the never-called conv_1x1 weights).

`encoder_only=True` is the suite's `MyTransformer(encoder_only=True)` (its main.py `--encoder_only`):
each decoder becomes another Encoder on softmax(prev logits), self-attention only (no previous-stage
feature), its own channel masking on those probabilities, alpha = exp(-3 s). Same keys and shapes as
the decoders it replaces. `encoder_mixer` still acts on the first encoder only.
"""
import math
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import nn

from common.blocks import MaskMambaBlock
from common.engine import MODELS

from .losses import segmentation_loss
from .ops import masked_instance_norm, sliding_window_attention


class ConvFeedForward(nn.Module):
    """Dilated 3-tap conv + ReLU. (B, C, T) -> (B, C, T). Wrapped in `.layer` for upstream's key names."""

    def __init__(self, dilation: int, channels: int):
        super().__init__()
        self.layer = nn.Sequential(nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation), nn.ReLU())

    def forward(self, x):
        return self.layer(x)


class AttLayer(nn.Module):
    """Single-head sliding-window attention; values from `x` (encoder) or the previous stage `f` (decoder).

    x, f: (B, C, T), mask: (B, T) -> (B, C, T), zero on padded frames.
    """

    def __init__(self, channels: int, r1: int, r2: int, block: int, stage: str):
        super().__init__()
        assert stage in ("encoder", "decoder")
        self.query_conv = nn.Conv1d(channels, channels // r1, 1)
        self.key_conv = nn.Conv1d(channels, channels // r1, 1)
        self.value_conv = nn.Conv1d(channels, channels // r2, 1)
        self.conv_out = nn.Conv1d(channels // r2, channels, 1)
        self.block, self.stage = block, stage

    def forward(self, x, f, mask):
        value = self.value_conv(f if self.stage == "decoder" else x)
        out = sliding_window_attention(self.query_conv(x), self.key_conv(x), value, mask, self.block)
        return self.conv_out(F.relu(out)) * mask[:, None]

    def extra_repr(self):
        return f"block={self.block}, stage={self.stage}"


class AttModule(nn.Module):
    """ASFormer's layer: out = FFN(x); out = alpha * att(IN(out)) + out; (x + Dropout(conv1x1(out))) * mask."""

    def __init__(self, dilation: int, channels: int, r1: int, r2: int, stage: str, alpha: float):
        super().__init__()
        self.feed_forward = ConvFeedForward(dilation, channels)
        self.att_layer = AttLayer(channels, r1, r2, dilation, stage)
        self.conv_1x1 = nn.Conv1d(channels, channels, 1)
        self.dropout = nn.Dropout()
        self.alpha = alpha

    def forward(self, x, f, mask):
        out = self.feed_forward(x)
        out = self.alpha * self.att_layer(masked_instance_norm(out, mask), f, mask) + out
        return (x + self.dropout(self.conv_1x1(out))) * mask[:, None]


class MambaAttModule(nn.Module):
    """The suite's ASMamba encoder layer (`AttModule_mamba`):

        out = FFN(x); out = alpha * MaskMambaBlock(IN(out)) + out; (x + Dropout(out)) * mask

    MaskMambaBlock (common.blocks) is pre-norm with its own residual and layer scale. Unlike AttModule
    there is no conv_1x1: upstream defines one but never calls it (the converter drops its weights).
    """

    def __init__(self, dilation: int, channels: int, alpha: float, mixer: Dict, drop_path: float):
        super().__init__()
        mixer = dict(mixer)
        self.feed_forward = ConvFeedForward(dilation, channels)
        self.att_layer = MaskMambaBlock(channels, mixer.pop("kind"), mixer, drop_path)
        self.dropout = nn.Dropout()
        self.alpha = alpha

    def forward(self, x, f, mask):
        out = self.feed_forward(x)
        out = self.alpha * self.att_layer(masked_instance_norm(out, mask), mask[:, None])[0] + out
        return (x + self.dropout(out)) * mask[:, None]


class Encoder(nn.Module):
    def __init__(self, num_layers, r1, r2, num_f_maps, input_dim, num_classes, channel_masking_rate,
                 mixer=None, drop_path=0.0, alpha=1.0):
        super().__init__()
        self.conv_1x1 = nn.Conv1d(input_dim, num_f_maps, 1)
        self.layers = nn.ModuleList(
            AttModule(2**i, num_f_maps, r1, r2, "encoder", alpha) if mixer is None
            else MambaAttModule(2**i, num_f_maps, alpha, mixer, drop_path) for i in range(num_layers))
        self.conv_out = nn.Conv1d(num_f_maps, num_classes, 1)
        self.dropout = nn.Dropout2d(p=channel_masking_rate)  # on (B, C, 1, T): drops whole channels

    def forward(self, x, mask):
        """x: (B, input_dim, T) -> logits (B, num_classes, T), feature (B, num_f_maps, T)."""
        m = mask[:, None]
        x = self.dropout(x.unsqueeze(2)).squeeze(2)
        feature = self.conv_1x1(x) * m  # masked so that padding stays zero for the dilated convs
        for layer in self.layers:
            feature = layer(feature, None, mask)
        return self.conv_out(feature) * m, feature


class Decoder(nn.Module):
    def __init__(self, num_layers, r1, r2, num_f_maps, num_classes, alpha):
        super().__init__()
        self.conv_1x1 = nn.Conv1d(num_classes, num_f_maps, 1)
        self.layers = nn.ModuleList(
            AttModule(2**i, num_f_maps, r1, r2, "decoder", alpha) for i in range(num_layers))
        self.conv_out = nn.Conv1d(num_f_maps, num_classes, 1)

    def forward(self, x, f, mask):
        """x: (B, num_classes, T) probabilities, f: (B, num_f_maps, T) previous stage feature."""
        m = mask[:, None]
        feature = self.conv_1x1(x) * m
        for layer in self.layers:
            feature = layer(feature, f, mask)
        return self.conv_out(feature) * m, feature


@MODELS.register_module()
class ASFormer(BaseModel):
    """Encoder + decoders, upstream defaults; `encoder_mixer` selects an ASMamba variant, `encoder_only`
    the suite's encoder-only ASFormer (decoders -> encoder stacks).

    forward(inputs (B, input_dim, T), data_samples, mode): data_samples is the collate's dict
    (`mask`, `labels`, `videos`); in "tensor" mode it may be None (all frames valid).
    """

    def __init__(self, num_classes: int, input_dim: int = 2048, num_f_maps: int = 64, num_layers: int = 10,
                 num_decoders: int = 3, r1: int = 2, r2: int = 2, channel_masking_rate: float = 0.3,
                 encoder_mixer: Optional[Dict] = None, drop_path: float = 0.0, encoder_only: bool = False,
                 smooth_weight: float = 0.15, smooth_clamp: float = 16.0, data_preprocessor=None, init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.encoder = Encoder(num_layers, r1, r2, num_f_maps, input_dim, num_classes, channel_masking_rate,
                               encoder_mixer, drop_path)
        self.decoders = nn.ModuleList(
            Encoder(num_layers, r1, r2, num_f_maps, num_classes, num_classes, channel_masking_rate,
                    alpha=math.exp(-3 * s)) if encoder_only
            else Decoder(num_layers, r1, r2, num_f_maps, num_classes, math.exp(-3 * s)) for s in range(num_decoders))
        self.encoder_only = encoder_only
        self.smooth_weight, self.smooth_clamp = smooth_weight, smooth_clamp
        self.num_classes, self.input_dim = num_classes, input_dim

    def stages(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x: (B, input_dim, T), mask: (B, T) bool -> logits of every stage (S, B, num_classes, T)."""
        m = mask[:, None]
        out, feature = self.encoder(x, mask)
        outputs = [out]
        for decoder in self.decoders:
            probs = F.softmax(out, dim=1) * m
            out, feature = decoder(probs, mask) if self.encoder_only else decoder(probs, feature * m, mask)
            outputs.append(out)
        return torch.stack(outputs)

    def forward(self, inputs: torch.Tensor, data_samples: Optional[Dict] = None, mode: str = "tensor"):
        if data_samples is None:
            if mode != "tensor":
                raise ValueError(f"mode {mode!r} needs data_samples (labels, mask, videos)")
            mask = inputs.new_ones(inputs.shape[0], inputs.shape[-1], dtype=torch.bool)
        else:
            mask = data_samples["mask"]
        logits = self.stages(inputs, mask)
        if mode == "tensor":
            return logits
        if mode == "loss":
            return segmentation_loss(logits, data_samples["labels"], mask, self.smooth_weight, self.smooth_clamp)
        if mode == "predict":
            pred, lengths = logits[-1].argmax(1).cpu().numpy(), mask.sum(1).tolist()
            return [dict(video=v, pred=p[:n]) for v, p, n in zip(data_samples["videos"], pred, lengths)]
        raise ValueError(f"unknown mode {mode!r}; expected 'tensor', 'loss' or 'predict'")
