"""The suite's own ASFormer runs (asformer_suite_*.py) and its encoder-only ASFormer (asformer_suite_enc_*.py).

tests/fixtures/asformer_suite_layouts.json is the key -> shape layout (in state_dict order) of the suite's
`MyTransformer` (video-mamba-suite temporal-action-segmentation/model.py) built on CPU as its main.py
builds it without --mamba: MyTransformer(3, 8, 2, 2, 256, 2048, num_classes, 0.3, encoder_only=...), for
GTEA (11 classes) with and without --encoder_only and 50Salads (19) with it.
"""
import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from asmamba.models import ASFormer
from asmamba.models.asformer import AttModule, Decoder, Encoder
from common.engine import MODELS, load_config
from tools.convert_checkpoint import main as convert_main

LAYOUTS = json.loads((Path(__file__).parent / "fixtures" / "asformer_suite_layouts.json").read_text())
CONFIGS = {  # config -> (classes, lr, sample rate, encoder_only), as the suite's main.py sets them
    "asformer_suite_gtea": (11, 5e-4, 1, False),
    "asformer_suite_50salads": (19, 5e-4, 2, False),
    "asformer_suite_breakfast": (48, 1e-4, 1, False),
    "asformer_suite_enc_gtea": (11, 5e-4, 1, True),
    "asformer_suite_enc_50salads": (19, 5e-4, 2, True),
}


def config(name):
    return load_config(f"asmamba/configs/{name}.py")


def test_encoder_only_replaces_the_decoders_by_encoder_stacks():
    model = ASFormer(num_classes=7, input_dim=12, num_f_maps=16, num_layers=4, channel_masking_rate=0.3,
                     encoder_only=True)
    assert len(model.decoders) == 3 and not any(isinstance(m, Decoder) for m in model.modules())
    stacks = [model.encoder, *model.decoders]
    assert all(isinstance(s, Encoder) for s in stacks)
    for s, stack in enumerate(stacks):
        assert [type(layer) for layer in stack.layers] == [AttModule] * 4
        # self-attention only: values from the stage's own feature, never the previous stage's
        assert all(layer.att_layer.stage == "encoder" for layer in stack.layers)
        assert [layer.alpha for layer in stack.layers] == pytest.approx([math.exp(-3 * (s - 1)) if s else 1.0] * 4)
        # every stack masks channels of its input, the decoder stacks that of the class probabilities
        assert isinstance(stack.dropout, nn.Dropout2d) and stack.dropout.p == 0.3
        assert stack.conv_1x1.in_channels == (12 if s == 0 else 7)
    enc_dec = ASFormer(num_classes=7, input_dim=12, num_f_maps=16, num_layers=4)
    assert [(k, v.shape) for k, v in model.state_dict().items()] == \
        [(k, v.shape) for k, v in enc_dec.state_dict().items()]


def test_encoder_only_stages_see_only_the_previous_probabilities():
    torch.manual_seed(0)
    model = ASFormer(num_classes=5, input_dim=12, num_f_maps=16, num_layers=4, encoder_only=True).eval()
    x = torch.randn(1, 12, 30)
    mask = torch.ones(1, 30, dtype=torch.bool)
    with torch.no_grad():
        logits = model(x)
        for s, stack in enumerate(model.decoders):
            out, _ = stack(torch.softmax(logits[s], dim=1), mask)
            torch.testing.assert_close(logits[s + 1], out)


def test_encoder_only_batched_equals_alone_and_trains():
    torch.manual_seed(0)
    model = ASFormer(num_classes=5, input_dim=12, num_f_maps=16, num_layers=4, encoder_only=True).eval()
    lengths = [23, 9]
    x = torch.randn(2, 12, 23)
    mask = torch.arange(23) < torch.tensor(lengths)[:, None]
    with torch.no_grad():
        batched = model(x * mask[:, None], dict(mask=mask))
        for i, n in enumerate(lengths):
            torch.testing.assert_close(batched[:, i:i + 1, :, :n], model(x[i:i + 1, :, :n]), rtol=1e-4, atol=1e-5)
    labels = torch.randint(0, 5, (2, 23)).masked_fill(~mask, -100)
    losses = model.train()(x, dict(mask=mask, labels=labels, videos=["a", "b"]), mode="loss")
    sum(losses.values()).backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("name", LAYOUTS)
def test_state_dict_layout_is_the_suite_s(name):
    model = MODELS.build(config(name).model)
    assert {k: list(v.shape) for k, v in model.state_dict().items()} == LAYOUTS[name]
    assert list(model.state_dict()) == list(LAYOUTS[name])


@pytest.mark.parametrize("name", LAYOUTS)
def test_a_suite_checkpoint_converts_and_loads_strictly(name, tmp_path):
    g = torch.Generator().manual_seed(0)
    upstream = {k: torch.randn(shape, generator=g) for k, shape in LAYOUTS[name].items()}
    src, dst = tmp_path / "epoch-120.model", tmp_path / "converted.pth"
    torch.save(upstream, src)  # the suite's main.py: torch.save(model.state_dict(), ...)
    convert_main([f"asmamba/configs/{name}.py", str(src), str(dst)])
    converted = torch.load(dst, weights_only=True)["state_dict"]
    model = MODELS.build(config(name).model)
    model.load_state_dict(converted, strict=True)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in upstream.items())


@pytest.mark.parametrize("name", CONFIGS)
def test_suite_config_settings_and_forward_at_real_shapes(name):
    classes, lr, sample_rate, encoder_only = CONFIGS[name]
    cfg = config(name)
    m = cfg.model
    assert (m.num_classes, m.input_dim, m.num_f_maps, m.num_layers, m.num_decoders) == (classes, 2048, 256, 8, 3)
    assert m.channel_masking_rate == 0.3 and m.get("encoder_only", False) == encoder_only
    assert not m.get("encoder_mixer") and m.get("drop_path", 0.0) == 0.0  # drop path acts only with --mamba
    assert cfg.optim_wrapper.optimizer.lr == lr and cfg.train_cfg.max_epochs == 120
    assert cfg.train_dataloader.batch_size == 1 and cfg.randomness.seed == 19980125
    for loader in ("train", "val", "test"):
        assert cfg[f"{loader}_dataloader"].dataset.sample_rate == sample_rate

    model = MODELS.build(m).eval()
    torch.manual_seed(0)
    with torch.no_grad():
        logits = model(torch.randn(1, 2048, 50))
    assert logits.shape == (4, 1, classes, 50) and torch.isfinite(logits).all()


@pytest.mark.parametrize("dataset", ["gtea", "50salads", "breakfast"])
def test_the_suite_s_asmamba_is_its_asformer_run_with_the_mamba_encoder(dataset):
    asformer, asmamba = config(f"asformer_suite_{dataset}").to_dict(), config(f"asmamba_vim_{dataset}").to_dict()
    mamba_model = asmamba.pop("model")
    assert mamba_model.pop("encoder_mixer") == dict(kind="vim", d_state=16, d_conv=4, expand=2)
    assert mamba_model.pop("drop_path") == 0.3
    assert mamba_model == asformer.pop("model") and asmamba == asformer
