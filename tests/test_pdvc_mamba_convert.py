"""Upstream PDVC / PDVC-Mamba checkpoints convert and load strictly.

tests/fixtures/pdvc_upstream_layouts.json holds the exact key -> shape layout of the suite's PDVC model
(video-dense-captioning/pdvc, built on CPU from cfgs/anet_c3d_pdvc(l).yml with --encoder_type deformable,
mamba-dbm, mamba-vim). Checkpoints are written here in that layout and in train.py's file structure
({'epoch', 'model', 'optimizer'}), converted with tools/convert_checkpoint.py, and must load strictly
with every value where upstream keeps it.
"""
import json
import re
from pathlib import Path

import pytest
import torch

from common.engine import MODELS, load_config
from tools.convert_checkpoint import main as convert_main

LAYOUTS = json.loads((Path(__file__).parent / "fixtures" / "pdvc_upstream_layouts.json").read_text())
DUPLICATES = re.compile(r"^(transformer\.decoder\.bbox_head\.|caption_head\.1\.)")
UNUSED = re.compile(r"^(transformer\.pos_trans|caption_head\.0\.core\.deformable_att\.(attention_weights|output_proj))")


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_upstream_checkpoint_converts_and_loads_strictly(name, tmp_path, capsys):
    g = torch.Generator().manual_seed(0)
    upstream = {k: torch.randn(shape, generator=g) for k, shape in LAYOUTS[name].items()}
    for key in upstream:  # what upstream holds twice is the same tensor twice
        for copy, original in (("transformer.decoder.bbox_head.", "bbox_head."),
                               ("caption_head.1.", "caption_head.0.")):
            if key.startswith(copy):
                upstream[key] = upstream[original + key[len(copy):]]
    src, dst = tmp_path / "model-best.pth", tmp_path / "converted.pth"
    torch.save({"epoch": 12, "model": upstream, "optimizer": {}}, src)
    convert_main([f"pdvc_mamba/configs/{name}.py", str(src), str(dst)])

    model = MODELS.build(load_config(f"pdvc_mamba/configs/{name}.py").model)
    converted = torch.load(dst)["state_dict"]
    model.load_state_dict(converted, strict=True)
    kept = 0
    for key, value in upstream.items():
        if DUPLICATES.match(key) or UNUSED.match(key):
            continue
        ours = re.sub(r"^caption_head\.0\.", "caption_head.", key)
        assert torch.equal(converted[ours], value), key
        kept += 1
    assert kept == len(converted)
