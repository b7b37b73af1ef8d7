"""Upstream checkpoints (UniVTG's model_best.ckpt, the suite's UniVTG-Mamba) -> our UniVTG's state_dict.

Upstream saves {"model": state_dict, "optimizer", "lr_scheduler", "epoch", "opt": argparse.Namespace}.
Key mapping (everything else keeps its name):
    transformer.encoder.layers.N.*          -> encoder.layers.N.*          (the UniVTG Transformer)
    layers.N.{mixer,norm}.*, norm_f.*       -> encoder.layers.N.*, encoder.norm_f.*   (ViM / DBM)
    input_{txt,vid}_proj.N.LayerNorm.*      -> input_{txt,vid}_proj.N.norm.*
    input_{txt,vid}_proj.N.net.1.*          -> input_{txt,vid}_proj.N.linear.*
Dropped, since upstream builds but never reads them: txt_position_embed.* (text positions are off, use_txt_pos
False; a checkpoint whose `opt` says otherwise is refused) and the Mamba model's `bottleneck`.
"""
import re

RENAMES = (
    (re.compile(r"^transformer\.encoder\.layers\."), "encoder.layers."),
    (re.compile(r"^layers\."), "encoder.layers."),
    (re.compile(r"^norm_f\."), "encoder.norm_f."),
    (re.compile(r"^(input_(?:txt|vid)_proj\.\d+)\.LayerNorm\."), r"\1.norm."),
    (re.compile(r"^(input_(?:txt|vid)_proj\.\d+)\.net\.1\."), r"\1.linear."),
)
UNUSED = re.compile(r"^(txt_position_embed\.|bottleneck$)")


def convert_checkpoint(checkpoint, cfg=None):
    """What torch.load read from an upstream checkpoint -> a state_dict for the UniVTG model of `cfg`."""
    opt = checkpoint.get("opt") if isinstance(checkpoint, dict) else None
    if getattr(opt, "use_txt_pos", False):
        raise ValueError("the checkpoint was trained with use_txt_pos (text position embeddings), "
                         "which upstream's released recipes never use and this model does not build")
    state = checkpoint.get("model", checkpoint) if isinstance(checkpoint, dict) else checkpoint
    if not isinstance(state, dict):
        raise ValueError(f"expected a state_dict or a dict holding one under 'model', found {type(state).__name__}")
    converted = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        if UNUSED.match(key):
            continue
        for pattern, replacement in RENAMES:
            key = pattern.sub(replacement, key)
        converted[key] = value
    return converted
