"""The suite's egocentric releases -> the state_dict of the model a config builds (TaskSpec.convert_checkpoint).

The released files (HF cg1177/video-mamba-suite) are {epoch, state_dict, optimizer, scaler, best_acc1, args}, the
state_dict with DDP's `module.` prefix and args the argparse.Namespace of the run:
- eight Ego4D dual encoders (main_lavila_pretrain.py: visual.*, textual.*, logit_scale): TimeSformer-B vanilla /
  frozen and TimeMamba-B vanilla / frozen at 4 frames, ViT-T / ViT-S and ViViM-T / ViViM-S at 16 frames;
- four EK100 fine-tuned models at 16 frames: MIR (dual encoders, main_lavila_finetune_mir.py) and action recognition
  (main_lavila_finetune_cls.py: VideoClassifier, visual.* without image_projection and fc_cls.*), for TimeSformer-B
  and TimeMamba-B vanilla.
Our models keep upstream's names, so converting is: drop `module.`, give ViViM's Conv2d patch kernel its time axis
(our ViViM holds a Conv3d), and two explicit steps, each announced:
- temporal-embedding inflation: a checkpoint trained with another frame count than the config's (4-frame
  pre-training -> 16-frame fine-tuning) has its temporal embedding resampled by linear interpolation along time
  (align_corners False: upstream's inflate_positional_embeds); TimeMamba has none;
- a dual encoder into a classifier config (upstream's fine-tuning start): the visual tower without its
  image_projection is kept, the text tower and logit scale are dropped, fc_cls is the config's fresh one.
What the file holds must be what the config builds: a classifier into a dual-encoder config, another visual tower,
or (where args.model records it) another attention style is an error saying what the file holds.
"""
import torch
import torch.nn.functional as F

from common.engine import MODELS, model_state_dict

# upstream builder (args.model) -> our visual tower and its attention style
UPSTREAM_MODELS = {
    "CLIP_TimeSformerT16": ("SpaceTimeTransformer", "timesformer-div"),
    "CLIP_TimeSformerB16": ("SpaceTimeTransformer", "timesformer-div"),
    "CLIP_TimeSformerL14": ("SpaceTimeTransformer", "timesformer-div"),
    "CLIP_FrozenInTime_TimeSformerB16": ("SpaceTimeTransformer", "frozen-in-time"),
    "CLIP_TimeMamba_like_timesformer": ("TimeMamba", "timesformer-div"),
    "CLIP_TimeMamba_like_frozen": ("TimeMamba", "frozen-in-time"),
    "CLIP_TimeMamba_like_frozen_joint": ("TimeMamba", "frozen-joint"),
    **{f"CLIP_VIT{size}": ("VisionTransformer", None) for size in ("T16", "S16", "B16", "B32", "L14", "L14_336PX")},
    **{f"CLIP_ViViM_{size}": ("ViViM", None) for size in ("tiny", "small", "tiny_hs4")},
}
# a key every visual tower of that kind has
TOWER_KEYS = {
    "SpaceTimeTransformer": "visual.blocks.0.timeattn.Wqkv.weight",
    "TimeMamba": "visual.blocks.0.time_mamba.in_proj.weight",
    "VisionTransformer": "visual.transformer.resblocks.0.attn.Wqkv.weight",
    "ViViM": "visual.layers.0.mixer.in_proj.weight",
}
TEMPORAL_EMBEDDINGS = {  # tower -> (key, time axis)
    "SpaceTimeTransformer": ("visual.temporal_embed", 1),     # (1, T, D)
    "VisionTransformer": ("visual.temporal_embedding", 0),    # (T, D)
    "ViViM": ("visual.temporal_embedding", 0),                # (T, 1, D)
}


def inflate_temporal_embedding(embedding: torch.Tensor, frames: int, time_axis: int) -> torch.Tensor:
    """Resample a temporal embedding to `frames` entries along `time_axis` by linear interpolation, align_corners
    False: upstream's inflate_positional_embeds ('bilinear' on the (T, D) table, which is linear along T). Upstream
    keeps the first `frames` entries of a longer one; interpolating either way keeps each entry at its place in time."""
    moved = embedding.movedim(time_axis, -1)
    flat = moved.reshape(1, -1, moved.shape[-1]).float()
    resampled = F.interpolate(flat, size=frames, mode="linear", align_corners=False).to(embedding.dtype)
    return resampled.reshape(*moved.shape[:-1], frames).movedim(-1, time_axis)


def describe(state: dict, args) -> dict:
    """What a checkpoint holds: kind (VideoTextDualEncoder / VideoClassifier), visual tower, attention style (from
    args.model, else None), upstream model name, frames, in words (`what`). args: the run's Namespace (or dict)."""
    args = vars(args) if hasattr(args, "__dict__") else dict(args or {})
    model_name = args.get("model")
    towers = [tower for tower, key in TOWER_KEYS.items() if key in state]
    tower = towers[0] if len(towers) == 1 else None
    kind = ("VideoClassifier" if "fc_cls.weight" in state else
            "VideoTextDualEncoder" if any(k.startswith("textual.") for k in state) else None)
    style = UPSTREAM_MODELS.get(model_name, (None, None))[1]
    frames = args.get("clip_length")
    if tower in TEMPORAL_EMBEDDINGS and TEMPORAL_EMBEDDINGS[tower][0] in state:
        key, axis = TEMPORAL_EMBEDDINGS[tower]
        frames = state[key].shape[axis]
    if kind is None or tower is None:
        prefixes = sorted({k.split(".")[0] for k in state})
        what = f"none of the suite's egocentric models (top-level names {prefixes[:8]}, e.g. {sorted(state)[:3]})"
    else:
        what = (f"a {kind} with a {tower} visual tower" + (f" ({style})" if style else "")
                + (f", {frames} frames" if frames else "")
                + (f", {state['fc_cls.weight'].shape[0]} classes" if kind == "VideoClassifier" else "")
                + (f" (upstream {model_name})" if model_name else ""))
    return dict(kind=kind, tower=tower, style=style, frames=frames, model=model_name, what=what)


def convert_checkpoint(checkpoint, cfg) -> dict:
    """What torch.load read from an upstream release -> the state_dict of the model `cfg` builds (see above)."""
    args = checkpoint.get("args") if isinstance(checkpoint, dict) else None
    state = model_state_dict(checkpoint) if isinstance(checkpoint, dict) else None
    if not state or not all(torch.is_tensor(v) for v in state.values()):
        raise ValueError("expected a state_dict (names -> tensors), optionally under 'state_dict' or 'model'")
    held = describe(state, args)
    model = MODELS.build(cfg.model)
    kind, tower = type(model).__name__, type(getattr(model, "visual", None)).__name__
    style = getattr(model.visual, "attention_style", None) if hasattr(model, "visual") else None
    wanted = f"a {kind} with a {tower} visual tower" + (f" ({style})" if style else "")
    fits = held["kind"] == kind or (held["kind"], kind) == ("VideoTextDualEncoder", "VideoClassifier")
    if held["tower"] is None or held["tower"] != tower or not fits:
        raise ValueError(f"holds {held['what']}; the config builds {wanted}")
    if style and held["style"] and held["style"] != style:
        raise ValueError(f"holds {held['what']}; the config builds {wanted}: set the tower's attention_style to "
                         f"{held['style']!r}")
    if style and not held["style"]:
        print(f"the checkpoint does not record its attention style (no args.model): the config's {style!r} is "
              "taken to be the one it was trained with")

    out = dict(state)
    if tower == "ViViM" and out["visual.patch_embed.proj.weight"].dim() == 4:
        out["visual.patch_embed.proj.weight"] = out["visual.patch_embed.proj.weight"].unsqueeze(2)
    fresh = model.state_dict()
    if kind == "VideoClassifier" and held["kind"] == "VideoTextDualEncoder":
        dropped = [k for k in out if k.startswith("textual.") or k in ("logit_scale", "visual.image_projection")]
        out = {k: v for k, v in out.items() if k not in dropped}
        out.update({k: v for k, v in fresh.items() if k.startswith("fc_cls.")})
        print(f"dual encoder -> classifier: kept the visual tower, dropped {len(dropped)} entries (text tower, "
              "logit scale, image_projection), fc_cls from the config (fresh)")
    if tower in TEMPORAL_EMBEDDINGS:
        key, axis = TEMPORAL_EMBEDDINGS[tower]
        if key in out and key in fresh and out[key].shape[axis] != fresh[key].shape[axis]:
            frames = fresh[key].shape[axis]
            print(f"inflating {key} from {out[key].shape[axis]} to {frames} frames (linear interpolation in time)")
            out[key] = inflate_temporal_embedding(out[key], frames, axis)
    return out
