"""asmamba.models: ASFormer against upstream's architecture, its numerics, batching, and the variants."""
import math

import pytest
import torch
import torch.nn.functional as F

from asmamba.hooks import TrainLossPlateauLR
from asmamba.models import ASFormer
from asmamba.models.asformer import AttLayer, MambaAttModule
from asmamba.models.losses import segmentation_loss
from asmamba.models.ops import masked_instance_norm, sliding_window_attention
from common import build_mixer
from tools.convert_checkpoint import main as convert_main

MIXERS = [None, dict(kind="vim"), dict(kind="dbm", expand=1), dict(kind="mamba")]


def upstream_shapes(num_classes, input_dim=2048, f=64, layers=10, decoders=3, r1=2, r2=2):
    """Key -> shape of a state_dict of upstream ASFormer's MyTransformer, written from its architecture."""
    def conv(name, c_in, c_out, k=1):
        return {f"{name}.weight": (c_out, c_in, k), f"{name}.bias": (c_out,)}

    def stage(prefix, c_in):
        shapes = conv(f"{prefix}.conv_1x1", c_in, f)
        for i in range(layers):
            layer = f"{prefix}.layers.{i}"
            shapes.update(conv(f"{layer}.feed_forward.layer.0", f, f, 3))
            shapes.update(conv(f"{layer}.att_layer.query_conv", f, f // r1))
            shapes.update(conv(f"{layer}.att_layer.key_conv", f, f // r1))
            shapes.update(conv(f"{layer}.att_layer.value_conv", f, f // r2))
            shapes.update(conv(f"{layer}.att_layer.conv_out", f // r2, f))
            shapes.update(conv(f"{layer}.conv_1x1", f, f))
        shapes.update(conv(f"{prefix}.conv_out", f, num_classes))
        return shapes

    shapes = stage("encoder", input_dim)
    for s in range(decoders):
        shapes.update(stage(f"decoders.{s}", num_classes))
    return shapes


def test_parameter_count_matches_upstream_architecture():
    # per AttModule 12352 + 3 * 2080 + 2112 + 4160 = 24864; encoder 131136 + 10 * 24864 + 715;
    # decoder 768 + 10 * 24864 + 715; total for GTEA (11 classes) 1,130,860 (the paper's ~1.13M)
    model = ASFormer(num_classes=11)
    assert sum(p.numel() for p in model.parameters()) == 1_130_860
    assert sum(math.prod(s) for s in upstream_shapes(11).values()) == 1_130_860


def test_upstream_state_dict_loads_directly_and_through_the_converter(tmp_path):
    torch.manual_seed(0)
    upstream = {k: torch.randn(s) for k, s in upstream_shapes(11).items()}
    model = ASFormer(num_classes=11)
    model.load_state_dict(upstream, strict=True)

    src, dst = tmp_path / "epoch-120.model", tmp_path / "converted.pth"
    torch.save({"module." + k: v for k, v in upstream.items()}, src)  # as saved from DataParallel
    convert_main(["asmamba/configs/asformer_gtea.py", str(src), str(dst)])
    converted = torch.load(dst, weights_only=True)["state_dict"]
    assert converted.keys() == upstream.keys()
    assert all(torch.equal(converted[k], upstream[k]) for k in upstream)

    bad = dict(upstream)
    bad["encoder.conv_out.weight"] = torch.zeros(19, 64, 1)  # a 50Salads head
    del bad["encoder.conv_out.bias"]
    torch.save(bad, src)
    with pytest.raises(SystemExit, match=r"missing: encoder\.conv_out\.bias(.|\n)*shape of encoder\.conv_out\.weight"):
        convert_main(["asmamba/configs/asformer_gtea.py", str(src), str(dst)])


def reference_sliding_attention(q, k, v, block):
    """Batch-1 transcription of upstream's sliding attention, loop over blocks (all frames valid)."""
    c, T = q.shape[1:]
    half, nb = block // 2, -(-T // block)
    pad = nb * block - T
    q = F.pad(q, (0, pad))
    valid = F.pad(torch.ones(1, 1, T), (half, pad + half))
    k, v = F.pad(k, (half, pad + half)), F.pad(v, (half, pad + half))
    window = torch.zeros(block, block + 2 * half)
    for i in range(block):
        window[:, i:i + block] = 1
    out = torch.zeros(1, v.shape[1], nb * block)
    for b in range(nb):
        keys = slice(b * block, b * block + block + 2 * half)
        mask = window * valid[0, :, keys]
        att = torch.softmax(q[0, :, b * block:(b + 1) * block].T @ k[0, :, keys] / math.sqrt(c)
                            + torch.log(mask + 1e-6), dim=-1) * mask
        out[0, :, b * block:(b + 1) * block] = v[0, :, keys] @ att.T
    return out[..., :T]


@pytest.mark.parametrize("block", [1, 2, 4, 8, 32])
def test_sliding_attention_matches_upstream_loop(block):
    torch.manual_seed(block)
    q, k, v = torch.randn(1, 8, 13), torch.randn(1, 8, 13), torch.randn(1, 6, 13)
    ours = sliding_window_attention(q, k, v, torch.ones(1, 13, dtype=torch.bool), block)
    torch.testing.assert_close(ours, reference_sliding_attention(q, k, v, block), rtol=1e-5, atol=1e-6)


def test_masked_instance_norm_equals_instance_norm_on_valid_frames():
    x = torch.randn(2, 5, 9)
    full = torch.ones(2, 9, dtype=torch.bool)
    torch.testing.assert_close(masked_instance_norm(x, full), F.instance_norm(x), rtol=1e-5, atol=1e-5)
    mask = torch.arange(9) < torch.tensor([[9], [6]])
    torch.testing.assert_close(masked_instance_norm(x, mask)[1, :, :6], F.instance_norm(x[1:, :, :6])[0],
                               rtol=1e-5, atol=1e-5)


def small(mixer=None, **kw):
    torch.manual_seed(0)
    return ASFormer(num_classes=5, input_dim=12, num_f_maps=16, num_layers=4, encoder_mixer=mixer, **kw)


@pytest.mark.parametrize("mixer", MIXERS, ids=lambda m: m["kind"] if m else "attention")
def test_eval_output_does_not_depend_on_batch_partners(mixer):
    model = small(mixer).eval()
    lengths = [23, 9, 16]
    x = torch.randn(3, 12, 23)
    mask = torch.arange(23) < torch.tensor(lengths)[:, None]
    with torch.no_grad():
        batched = model(x * mask[:, None], dict(mask=mask))
        assert batched.shape == (4, 3, 5, 23)
        for i, n in enumerate(lengths):
            alone = model(x[i:i + 1, :, :n])
            torch.testing.assert_close(batched[:, i:i + 1, :, :n], alone, rtol=1e-4, atol=1e-5)
            assert torch.all(batched[:, i, :, n:] == 0)


@pytest.mark.parametrize("mixer", MIXERS, ids=lambda m: m["kind"] if m else "attention")
def test_loss_and_predict_modes(mixer):
    model = small(mixer)
    mask = torch.arange(10) < torch.tensor([[10], [7]])
    labels = torch.randint(0, 5, (2, 10)).masked_fill(~mask, -100)
    samples = dict(mask=mask, labels=labels, videos=["a", "b"])
    losses = model(torch.randn(2, 12, 10), samples, mode="loss")
    assert set(losses) == {"loss_ce", "loss_smooth"}
    sum(losses.values()).backward()
    assert all(p.grad is not None for p in model.parameters())
    preds = model.eval()(torch.randn(2, 12, 10), samples, mode="predict")
    assert [p["video"] for p in preds] == ["a", "b"] and [len(p["pred"]) for p in preds] == [10, 7]


def test_loss_matches_upstream_formula_at_batch_one():
    torch.manual_seed(0)
    logits = torch.randn(4, 1, 5, 12, requires_grad=True)
    labels = torch.randint(0, 5, (1, 12))
    losses = segmentation_loss(logits, labels, torch.ones(1, 12, dtype=torch.bool))
    expected = 0
    for p in logits:
        expected = expected + F.cross_entropy(p.transpose(2, 1).reshape(-1, 5), labels.view(-1))
        diff = (F.log_softmax(p[:, :, 1:], dim=1) - F.log_softmax(p.detach()[:, :, :-1], dim=1)) ** 2
        expected = expected + 0.15 * torch.clamp(diff, 0, 16).mean()
    torch.testing.assert_close(losses["loss_ce"] + losses["loss_smooth"], expected)


@pytest.mark.parametrize("mixer", MIXERS, ids=lambda m: m["kind"] if m else "attention")
def test_a_one_frame_video_trains(mixer):
    """GTEA trains one video per batch: a 1-frame video has no step to smooth, so the smoothing term is 0
    (upstream's mean over no entries is NaN, which stopped training as "loss = nan") and the loss is the
    cross-entropy, with finite gradients through every stage."""
    model = small(mixer, drop_path=0.3 if mixer else 0.0)
    labels = torch.tensor([[3]])
    losses = model(torch.randn(1, 12, 1), dict(mask=torch.ones(1, 1, dtype=torch.bool), labels=labels,
                                                videos=["one_frame"]), mode="loss")
    assert losses["loss_smooth"].item() == 0 and torch.isfinite(losses["loss_ce"])
    sum(losses.values()).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@pytest.mark.parametrize("mixer", MIXERS[1:], ids=lambda m: m["kind"])
def test_variant_replaces_encoder_attention_only(mixer):
    baseline, variant = small(), small(mixer, drop_path=0.3)
    for layer in variant.encoder.layers:
        assert isinstance(layer, MambaAttModule) and layer.att_layer.drop_path.p == 0.3
        assert not hasattr(layer, "conv_1x1")  # the suite's Mamba layer has none
    assert all(isinstance(layer.att_layer, AttLayer) for d in variant.decoders for layer in d.layers)

    def count(m):
        return sum(p.numel() for p in m.parameters())

    attention = sum(count(layer.att_layer) + count(layer.conv_1x1) for layer in baseline.encoder.layers)
    mixer_params = count(build_mixer(mixer["kind"], 16, **{k: v for k, v in mixer.items() if k != "kind"}))
    block_params = mixer_params + 2 * 16 + 16  # + LayerNorm (weight, bias) + layer scale
    assert count(variant) == count(baseline) - attention + 4 * block_params


def test_decoder_alphas_and_dilations():
    model = ASFormer(num_classes=11)
    assert [layer.alpha for layer in model.encoder.layers] == [1.0] * 10
    assert [d.layers[0].alpha for d in model.decoders] == pytest.approx([1, math.exp(-3), math.exp(-6)])
    assert [layer.feed_forward.layer[0].dilation[0] for layer in model.encoder.layers] == [2**i for i in range(10)]
    assert [layer.att_layer.block for layer in model.decoders[2].layers] == [2**i for i in range(10)]


def test_train_loss_plateau_halves_lr_after_patience():
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=5e-4)
    scheduler = TrainLossPlateauLR(opt, factor=0.5, patience=3)
    for loss in [10, 9, 9, 9, 9]:  # best 9, then 3 epochs without improvement: patience not exceeded
        scheduler.step(dict(loss=loss))
    assert opt.param_groups[0]["lr"] == 5e-4
    scheduler.step(dict(loss=9))  # 4th bad epoch
    assert opt.param_groups[0]["lr"] == 2.5e-4


@pytest.mark.cuda
@pytest.mark.parametrize("mixer", MIXERS, ids=lambda m: m["kind"] if m else "attention")
def test_cuda_matches_cpu(mixer):
    model = small(mixer).eval()
    x = torch.randn(2, 12, 40)
    mask = torch.arange(40) < torch.tensor([[40], [27]])
    with torch.no_grad():
        cpu = model(x, dict(mask=mask))
        gpu = model.cuda()(x.cuda(), dict(mask=mask.cuda())).cpu()
    # the CUDA scan is not bit-exact with a sequential loop (mamba_ssm's own fp32 tolerance)
    torch.testing.assert_close(gpu, cpu, rtol=6e-4, atol=2e-3)
