"""Released ActionFormer / ActionMamba checkpoints -> this package's ActionLocalizer state_dict.

Upstream (happyharrycn/actionformer_release and the suite's fork) saves
{"epoch", "state_dict", "state_dict_ema", "optimizer", "scheduler"} from an nn.DataParallel model, and
evaluates with `state_dict_ema`: that is the copy taken here. Module names differ in a few places,
and its LayerNorm over channels stores (1, C, 1) weights where ours (nn.LayerNorm) stores (C,).
"""
import re

import torch

from common.engine import MODELS

# (upstream pattern, ours), applied in order to every key.
RENAMES = [
    (r"^backbone\.embd\.(\d+)\.", r"backbone.embed.convs.\1."),
    (r"^backbone\.embd_norm\.(\d+)\.", r"backbone.embed.norms.\1."),
    (r"\.attn\.(query|key|value)_(conv|norm)\.", lambda m: f".attn.{m[1][0]}_{m[2]}."),
    (r"^neck\.fpn_norms\.", "neck.norms."),
    (r"^neck\.l_convs\.", "neck.laterals."),
    (r"^neck\.fpn_convs\.", "neck.convs."),
    (r"^(cls|reg)_head\.head\.", r"\1_head.trunk.convs."),
    (r"^(cls|reg)_head\.norm\.", r"\1_head.trunk.norms."),
    (r"^cls_head\.cls_head\.", "cls_head.cls."),
    (r"^reg_head\.offset_head\.", "reg_head.offsets."),
    (r"^reg_head\.scale\.", "reg_head.scales."),
]


def upstream_key(key: str) -> str:
    for pattern, replacement in RENAMES:
        key = re.sub(pattern, replacement, key)
    return key


def convert_checkpoint(checkpoint: dict, cfg) -> dict:
    """`checkpoint`: what torch.load read from an upstream release (or a bare state_dict)."""
    if "state_dict_ema" in checkpoint:
        print("taking state_dict_ema: the EMA weights upstream evaluates with")
        weights = checkpoint["state_dict_ema"]
    else:
        weights = checkpoint.get("state_dict", checkpoint)
    expected = MODELS.build(cfg.model).state_dict()
    state = {}
    for key, value in weights.items():
        ours = upstream_key(key.removeprefix("module."))
        if ours in expected and value.dim() == 3 and value.shape[0] == value.shape[2] == 1 \
                and expected[ours].dim() == 1:
            value = value.reshape(-1)  # upstream's channel LayerNorm keeps (1, C, 1)
        state[ours] = value
    # Upstream keeps the loss normaliser as a plain float, outside the state_dict; it only matters
    # when training continues, where it starts from the config's init_loss_norm as upstream does.
    state.setdefault("loss_normalizer", torch.tensor(float(cfg.model.init_loss_norm)))
    return state
