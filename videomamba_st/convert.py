"""Upstream checkpoints -> the state_dict of the Recognizer3D a config builds (TaskSpec.convert_checkpoint).

Recognised by their keys (after unwrapping 'model' / 'state_dict' and dropping DataParallel 'module.' prefixes):
- the suite's ViViM (action-recognition, run_class_finetuning.py: {'model': ...}): patch_embed, cls_token,
  pos_embed, temporal_embedding, layers.*, norm_f, head -> backbone.* (the patch kernel gains its time axis) and
  cls_head.fc_cls;
- a Vision Mamba ImageNet checkpoint (no temporal_embedding): inflated as ViViM's `pretrained` does, the
  temporal embedding and the classifier taken from the freshly built model;
- the suite's TimeMamba (egocentric-understanding / AVION: {'state_dict': {'visual.*', 'fc_cls.*'}} after EK100
  fine-tuning, or a CLIP-style pre-training checkpoint whose text tower and projection are left out): blocks.i
  norm1 / attn / norm3 / time_mamba / alpha_timeattn / norm2 / mlp -> layers.i attentions.1 / attentions.0 /
  ffns.0, flash-attention's Wqkv as nn.MultiheadAttention's in_proj; the suite has no time_embed and, with ln_pre,
  no patch bias: both become zeros, which computes the same;
- mmaction2's TimeSformer (divided space-time) for a TimeMamba config: its temporal attention is dropped and the
  adapter taken from the freshly built model, alpha = 0, so the converted model computes what the TimeSformer
  computed without its temporal attention.
Anything else is refused with the keys that did not fit.
"""
import re

import torch

from common.engine import MODELS
from common.backbones.vivim import inflate_vim_state_dict


def _unwrap(checkpoint) -> dict:
    for key in ("model", "state_dict"):
        if isinstance(checkpoint, dict) and isinstance(checkpoint.get(key), dict):
            checkpoint = checkpoint[key]
    if not isinstance(checkpoint, dict) or not all(torch.is_tensor(v) for v in checkpoint.values()):
        raise ValueError("expected a state_dict (names -> tensors), optionally under 'model' or 'state_dict'")
    return {k.removeprefix("module."): v for k, v in checkpoint.items()}


def _vivim(state: dict, fresh: dict, model) -> dict:
    out = dict(fresh)
    if "temporal_embedding" not in state:  # Vision Mamba ImageNet weights
        backbone = inflate_vim_state_dict(state, model.backbone)
    else:
        backbone = {k: v for k, v in state.items() if not k.startswith("head.")}
        if backbone["patch_embed.proj.weight"].dim() == 4:
            backbone["patch_embed.proj.weight"] = backbone["patch_embed.proj.weight"].unsqueeze(2)
        out["cls_head.fc_cls.weight"], out["cls_head.fc_cls.bias"] = state["head.weight"], state["head.bias"]
    out.update({"backbone." + k: v for k, v in backbone.items()})
    return out


_TIMEMAMBA_BLOCK = {
    "norm1": "attentions.1.norm", "attn.in_proj_weight": "attentions.1.attn.in_proj_weight",
    "attn.in_proj_bias": "attentions.1.attn.in_proj_bias", "attn.Wqkv.weight": "attentions.1.attn.in_proj_weight",
    "attn.Wqkv.bias": "attentions.1.attn.in_proj_bias", "attn.out_proj": "attentions.1.attn.out_proj",
    "norm3": "attentions.0.norm", "time_mamba": "attentions.0.mamba", "alpha_timeattn": "attentions.0.alpha",
    "norm2": "ffns.0.norm", "mlp.fc1": "ffns.0.layers.0.0", "mlp.fc2": "ffns.0.layers.1",
}
_TIMEMAMBA_TOP = {"cls_token": "cls_token", "pos_embed": "pos_embed", "patch_embed.proj": "patch_embed.projection",
                  "ln_pre": "ln_pre", "norm": "norm"}


def _rename(key: str, table: dict):
    for old, new in table.items():
        if key == old or key.startswith(old + "."):
            return new + key[len(old):]
    return None


def _suite_timemamba(state: dict, fresh: dict) -> dict:
    out, unknown = dict(fresh), []
    out["backbone.time_embed"] = torch.zeros_like(fresh["backbone.time_embed"])
    out["backbone.patch_embed.projection.bias"] = torch.zeros_like(fresh["backbone.patch_embed.projection.bias"])
    for key, value in state.items():
        if key.startswith("fc_cls."):
            out["cls_head." + key] = value
            continue
        if not key.startswith("visual.") or key == "visual.image_projection":
            continue  # the text tower, the logit scale and the CLIP projection: not part of the video classifier
        name = key[len("visual."):]
        block = re.match(r"blocks\.(\d+)\.(.*)", name)
        new = (f"transformer_layers.layers.{block.group(1)}.{_rename(block.group(2), _TIMEMAMBA_BLOCK)}"
               if block and _rename(block.group(2), _TIMEMAMBA_BLOCK) else _rename(name, _TIMEMAMBA_TOP))
        if new is None:
            unknown.append(key)
        else:
            out["backbone." + new] = value
    if unknown:
        raise ValueError(f"suite TimeMamba keys with no place in TimeMamba: {unknown[:8]}")
    if "visual.ln_pre.weight" in state and "backbone.ln_pre.weight" not in fresh:
        raise ValueError("the checkpoint has ln_pre (CLIP-initialised TimeMamba): set model.backbone.ln_pre=True")
    return out


def _timesformer_to_timemamba(state: dict, fresh: dict) -> dict:
    temporal_attention = re.compile(r"backbone\.transformer_layers\.layers\.\d+\.attentions\.0\.(attn|temporal_fc)\.")
    out = dict(fresh)
    out.update({k: v for k, v in state.items() if not temporal_attention.match(k)})
    return out


def convert_checkpoint(checkpoint, cfg) -> dict:
    """What torch.load read from an upstream release -> the state_dict of the model `cfg` builds (see above)."""
    state = _unwrap(checkpoint)
    model = MODELS.build(cfg.model)
    fresh = model.state_dict()
    kind = cfg.model.backbone.type
    if kind == "ViViM" and "patch_embed.proj.weight" in state and any(k.startswith("layers.") for k in state):
        out = _vivim(state, fresh, model)
    elif kind == "TimeMamba" and any(k.startswith("visual.blocks.") for k in state):
        out = _suite_timemamba(state, fresh)
    elif kind == "TimeMamba" and any(".attentions.0.temporal_fc." in k for k in state):
        out = _timesformer_to_timemamba(state, fresh)
    else:
        raise ValueError(f"no conversion from a checkpoint with keys like {sorted(state)[:4]} to a {kind} model "
                         "(known: the suite's ViViM, Vim ImageNet, the suite's TimeMamba, mmaction2's TimeSformer)")
    extra = sorted(set(out) - set(fresh))
    if extra:
        raise ValueError(f"converted keys the {kind} model does not have: {extra[:8]}")
    return out
