"""Upstream checkpoints convert and load strictly, for every landed task.

tests/fixtures/upstream_layouts.json holds the exact key -> shape layout of upstream's models (the
suite's ASFormer / ASMamba `MyTransformer` / `MaTransformer` and its ActionFormer / ActionMamba
`PtTransformer`), read off those models built on CPU at the toy configs' sizes. Checkpoints are written
here in that layout and in upstream's file structure, converted with tools/convert_checkpoint.py, and
must load strictly with every value where upstream keeps it.
"""
import json
import re
from pathlib import Path

import pytest
import torch

from actionmamba.convert import upstream_key
from common.engine import MODELS, load_config
from tools.convert_checkpoint import main as convert_main

LAYOUTS = json.loads((Path(__file__).parent / "fixtures" / "upstream_layouts.json").read_text())
CASES = {  # layout -> our toy config
    "actionformer_toy": "actionmamba/configs/toy/actionformer.py",
    "actionmamba_dbm_toy": "actionmamba/configs/toy/dbm.py",
    "actionmamba_vim_toy": "actionmamba/configs/toy/vim.py",
    "asformer_toy": "asmamba/configs/toy/asformer_toy.py",
    "asmamba_vim_toy": "asmamba/configs/toy/asmamba_vim_toy.py",
    "asmamba_dbm_toy": "asmamba/configs/toy/asmamba_dbm_toy.py",
}


def random_state(layout, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(shape, generator=g) for k, shape in layout.items()}


def write_upstream_checkpoint(name, state, path):
    if name.startswith("action"):  # train.py of ActionFormer: DataParallel keys, an EMA copy
        module = {"module." + k: v for k, v in state.items()}
        torch.save({"epoch": 35, "state_dict": {k: torch.zeros_like(v) for k, v in module.items()},
                    "state_dict_ema": module, "optimizer": {}, "scheduler": {}}, path)
    else:  # ASFormer's main.py: torch.save(model.state_dict(), "epoch-120.model")
        torch.save(state, path)


@pytest.mark.parametrize("name", CASES)
def test_upstream_checkpoint_converts_and_loads_strictly(name, tmp_path, capsys):
    upstream = random_state(LAYOUTS[name])
    src, dst = tmp_path / "upstream.pth", tmp_path / "converted.pth"
    write_upstream_checkpoint(name, upstream, src)
    convert_main([CASES[name], str(src), str(dst)])

    model = MODELS.build(load_config(CASES[name]).model)
    converted = torch.load(dst)["state_dict"]
    model.load_state_dict(converted, strict=True)

    dropped = re.compile(r"^encoder\.layers\.\d+\.conv_1x1\.") if name.startswith("asmamba") else None
    for key, value in upstream.items():
        if dropped and dropped.match(key):
            assert key not in converted  # upstream builds it, never calls it
            continue
        ours = upstream_key(key) if name.startswith("action") else key
        assert torch.equal(converted[ours].reshape(value.shape), value), key
    if name.startswith("action"):
        assert "taking state_dict_ema" in capsys.readouterr().out


def test_the_non_ema_copy_is_taken_on_request(tmp_path):
    upstream = random_state(LAYOUTS["actionmamba_dbm_toy"])
    src, dst = tmp_path / "upstream.pth", tmp_path / "converted.pth"
    write_upstream_checkpoint("actionmamba_dbm_toy", upstream, src)
    convert_main([CASES["actionmamba_dbm_toy"], str(src), str(dst), "--entry", "state_dict"])
    converted = torch.load(dst)["state_dict"]
    assert converted["backbone.stem.0.mamba.in_proj.weight"].abs().sum() == 0


def test_a_checkpoint_of_another_variant_lists_its_mismatches(tmp_path):
    src = tmp_path / "upstream.pth"
    write_upstream_checkpoint("actionmamba_vim_toy", random_state(LAYOUTS["actionmamba_vim_toy"]), src)
    with pytest.raises(SystemExit) as exc:
        convert_main([CASES["actionmamba_dbm_toy"], str(src), str(tmp_path / "out.pth")])
    message = str(exc.value)
    assert "does not fit the model of actionmamba/configs/toy/dbm.py" in message
    assert "unexpected: backbone.stem.0.mamba.A_b_log" in message
    assert "shape of backbone.stem.0.mamba.in_proj.weight: (256, 64) in the checkpoint, (256, 64)" not in message
    assert not (tmp_path / "out.pth").exists()


def test_options_saved_as_an_argparse_namespace_need_no_trust(tmp_path):
    import argparse
    upstream = random_state(LAYOUTS["asformer_toy"])
    src, dst = tmp_path / "upstream.pth", tmp_path / "converted.pth"
    torch.save({"model": upstream, "opt": argparse.Namespace(lr=1e-4, epochs=120)}, src)
    convert_main([CASES["asformer_toy"], str(src), str(dst)])
    assert torch.equal(torch.load(dst)["state_dict"]["encoder.conv_out.bias"], upstream["encoder.conv_out.bias"])


def test_a_refusal_of_the_task_s_converter_names_the_file(tmp_path):
    src = tmp_path / "not_univtg.pth"
    torch.save({"model": [1, 2, 3]}, src)  # UniVTG's converter refuses a 'model' that is no state_dict
    with pytest.raises(SystemExit) as exc:
        convert_main(["univtg_mamba/configs/toy/univtg.py", str(src), str(tmp_path / "out.pth")])
    assert str(exc.value).startswith(f"error: {src}: expected a state_dict")
    assert not (tmp_path / "out.pth").exists()
