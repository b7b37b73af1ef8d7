"""Upstream checkpoints -> our state_dicts (tools/convert_checkpoint.py, TaskSpec.convert_checkpoint).

TeSTra (zhaoyue-zephyrus/TeSTra, `epoch-N.pth` = {"epoch", "model_state_dict", "optimizer_state_dict"}) and the
suite's Mamba TeSTra use the module names we use, except: the suite's decoder sits at the top level
(`mamba_modules.*`, `norm_f.*`; ours under `mamba_decoder.`), the sinusoidal table `pos_encoding.pe` is a
buffer there and recomputed here, and nn.DataParallel runs save a `module.` prefix.
"""


def convert_checkpoint(checkpoint, cfg=None):
    state = checkpoint.get("model_state_dict", checkpoint.get("state_dict", checkpoint))
    out = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        if key == "pos_encoding.pe":
            continue
        if key.startswith(("mamba_modules.", "norm_f.")):
            key = "mamba_decoder." + key
        out[key] = value
    return out
