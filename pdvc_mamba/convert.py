"""PDVC's and the suite's checkpoints (train.py saves {'epoch', 'model', 'optimizer'} as model-best.pth) in
this package's layout. Module names follow upstream, so conversion only drops what upstream's state_dict
holds twice or never uses:
- transformer.decoder.bbox_head.*: the box heads again (upstream hands them to the decoder as a module);
- caption_head.1.* ...: the one caption head shared by every decoder layer, repeated per layer; caption_head.0.*
  becomes caption_head.*;
- transformer.pos_trans*: built for ground-truth-proposal input, unused with learnt queries (kept for a config
  with transformer_input_type "gt_proposals", whose queries it builds);
- caption_head.0.core.deformable_att.{attention_weights, output_proj}: created, never used by the captioner.
"""
import re

DROPPED = re.compile(r"^(transformer\.decoder\.bbox_head\.|caption_head\.[1-9]\d*\."
                     r"|caption_head\.0\.core\.deformable_att\.(attention_weights|output_proj)\.)")
PROPOSAL_QUERIES = re.compile(r"^transformer\.pos_trans")


def convert_checkpoint(checkpoint, cfg=None):
    """What torch.load read from an upstream PDVC / PDVC-Mamba checkpoint -> our state_dict for `cfg`."""
    gt_proposals = cfg is not None and cfg.model.get("transformer_input_type", "queries") == "gt_proposals"
    state = checkpoint.get("model", checkpoint.get("state_dict", checkpoint))
    converted = {}
    for key, value in state.items():
        key = key.removeprefix("module.")  # the suite trains with DDP
        if not DROPPED.match(key) and (gt_proposals or not PROPOSAL_QUERIES.match(key)):
            converted[re.sub(r"^caption_head\.0\.", "caption_head.", key)] = value
    return converted
