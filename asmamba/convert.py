"""Upstream ASFormer / the suite's ASMamba checkpoints (`epoch-120.model`, a bare state_dict) -> ours.

ASFormer's keys are ours already. The suite's Mamba encoder layer (`AttModule_mamba`) builds a
conv_1x1 that its forward never calls; its weights are in every ASMamba checkpoint and are dropped
here, since our MambaAttModule has no such module.
"""
import re

from common.engine import model_state_dict

UNUSED_MAMBA_LAYER_CONV = re.compile(r"^encoder\.layers\.\d+\.conv_1x1\.")


def convert_checkpoint(checkpoint: dict, cfg) -> dict:
    state = model_state_dict(checkpoint)
    if cfg.model.get("encoder_mixer"):
        unused = [k for k in state if UNUSED_MAMBA_LAYER_CONV.match(k)]
        for key in unused:
            del state[key]
        print(f"dropped {len(unused)} weights of the Mamba encoder layers' never-called conv_1x1")
    return state
