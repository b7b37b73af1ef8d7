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
from pdvc_mamba.convert import convert_checkpoint
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


@pytest.mark.parametrize("name", ["anet_c3d_pdvc_gt", "anet_c3d_pdvc_gt_dbm", "anet_c3d_pdvc_gt_vim"])
def test_upstream_gt_proposal_checkpoint_converts_and_keeps_pos_trans(name, tmp_path):
    """The suite's *_pdvc_gt models: the learnt-query layout without the decoder's copy of the box heads
    (with_box_refine off, so upstream shares one class / count / box head across layers); pos_trans is used."""
    family = name.replace("_gt", "")
    g = torch.Generator().manual_seed(1)
    upstream = {k: torch.randn(shape, generator=g) for k, shape in LAYOUTS[family].items()
                if not k.startswith("transformer.decoder.bbox_head.")}
    for key in upstream:
        for copy, original in (("caption_head.1.", "caption_head.0."), ("class_head.1.", "class_head.0."),
                               ("count_head.1.", "count_head.0."), ("bbox_head.1.", "bbox_head.0.")):
            if key.startswith(copy):
                upstream[key] = upstream[original + key[len(copy):]]
    src, dst = tmp_path / "model-best.pth", tmp_path / "converted.pth"
    torch.save({"epoch": 20, "model": upstream}, src)
    convert_main([f"pdvc_mamba/configs/{name}.py", str(src), str(dst)])
    converted = torch.load(dst)["state_dict"]
    MODELS.build(load_config(f"pdvc_mamba/configs/{name}.py").model).load_state_dict(converted, strict=True)
    for key in ("transformer.pos_trans.weight", "transformer.pos_trans_norm.bias"):
        assert torch.equal(converted[key], upstream[key])


CONFIGS = sorted(Path("pdvc_mamba/configs").glob("*.py"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_every_config_has_the_layout_of_its_upstream_variant(path):
    """A config's state-dict keys are those its variant's upstream layout converts to (ground-truth proposals
    add pos_trans, nothing else); a data set changes shapes only, and the ANet C3D configs match in shape too."""
    variant = path.stem.split("_", 2)[2]  # pdvc, pdvcl, pdvc_dbm, pdvc_gt_vim, ...
    cfg = load_config(str(path))
    layout = LAYOUTS["anet_c3d_" + variant.replace("_gt", "")]
    upstream = {k: torch.empty(shape, device="meta") for k, shape in layout.items()}
    expected = {k: tuple(v.shape) for k, v in convert_checkpoint({"model": upstream}, cfg).items()}
    ours = {k: tuple(v.shape) for k, v in MODELS.build(cfg.model).state_dict().items()}
    assert sorted(ours) == sorted(expected)
    assert any("pos_trans" in k for k in ours) == ("_gt" in variant)
    if path.stem.startswith("anet_c3d_"):
        assert ours == expected
