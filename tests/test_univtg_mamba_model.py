"""UniVTG and its ViM / DBM variants: upstream's checkpoint layout, the suite's block arithmetic, padding,
the query-blind reference, losses and inference on hand-made cases."""
import json
import os

import pytest
import torch

from common.engine import MODELS, load_config
from common.flops import count_flops
from univtg_mamba import TASK
from univtg_mamba.convert import convert_checkpoint
from univtg_mamba.models.encoders import MambaInteractionEncoder
from univtg_mamba.models.losses import boundary_losses, foreground_loss
from univtg_mamba.models.univtg import sine_position_embedding

CONFIGS = "univtg_mamba/configs"
# key -> shape of the suite's UniVTG / UniVTG-Mamba (vim, dbm) state_dicts with the QVHighlights settings,
# written by running the suite's model/univtg.py and model/univtg_mamba.py build_model on CPU
UPSTREAM_KEYS = os.path.join(os.path.dirname(__file__), "fixtures", "univtg_mamba_upstream_keys.json")


def toy_model(name, **overrides):
    cfg = load_config(f"{CONFIGS}/toy/{name}.py")
    cfg.model.update(overrides)
    return MODELS.build(cfg.model).eval()


def inputs(batch=2, text_len=(5, 3), video_len=(12, 9), text_dim=16, video_dim=50, seed=0):
    g = torch.Generator().manual_seed(seed)
    lt, lv = max(text_len), max(video_len)
    return dict(text=torch.randn(batch, lt, text_dim, generator=g),
                video=torch.randn(batch, lv, video_dim, generator=g),
                text_mask=torch.arange(lt) < torch.tensor(text_len)[:, None],
                video_mask=torch.arange(lv) < torch.tensor(video_len)[:, None])


@pytest.mark.parametrize("name, config", [("univtg", "qvhighlights_univtg"), ("vim", "qvhighlights_vim"),
                                          ("dbm", "qvhighlights_dbm")])
def test_upstream_checkpoint_converts_and_fits_strictly(name, config):
    with open(UPSTREAM_KEYS) as f:
        upstream = json.load(f)[name]
    checkpoint = {"model": {"module." + k: torch.zeros(shape, device="meta") for k, shape in upstream.items()},
                  "epoch": 3}
    converted = convert_checkpoint(checkpoint, None)
    with torch.device("meta"):
        model = MODELS.build(load_config(f"{CONFIGS}/{config}.py").model)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in converted.items()} == expected
    unused = {k for k in upstream if k.startswith("txt_position_embed.") or k == "bottleneck"}
    assert len(unused) == (3 if name == "univtg" else 4) and len(converted) == len(upstream) - len(unused)


def test_converter_refuses_text_position_embeddings():
    class Opt:
        use_txt_pos = True
    with pytest.raises(ValueError, match="use_txt_pos"):
        convert_checkpoint({"model": {}, "opt": Opt()})


def upstream_mamba_stack(encoder, text, video, text_pos, video_pos):
    """The suite's loop, written out: Block(add -> LN -> mixer) with fused add-norm, residual None at first."""
    hidden, residual = torch.cat([text, video], 1), None
    pos = torch.cat([text_pos, video_pos], 1)
    for layer in encoder.layers:
        residual = hidden if residual is None else residual + hidden
        hidden = layer.mixer(layer.norm(residual) + pos)
    return encoder.norm_f(residual + hidden)[:, text.shape[1]:]


@pytest.mark.parametrize("mixer, cfg", [("vim", {}), ("dbm", {"expand": 2})])
def test_mamba_encoder_is_the_suites_block_stack_over_text_then_video(mixer, cfg):
    torch.manual_seed(0)
    encoder = MambaInteractionEncoder(16, depth=3, mixer=mixer, mixer_cfg=cfg).eval()
    text, video, tp, vp = torch.randn(2, 4, 16), torch.randn(2, 7, 16), torch.zeros(2, 4, 16), torch.randn(2, 7, 16)
    ones = torch.ones(2, 4, dtype=torch.bool), torch.ones(2, 7, dtype=torch.bool)
    out = encoder(video, ones[1], vp, text, ones[0], tp)
    assert torch.allclose(out, upstream_mamba_stack(encoder, text, video, tp, vp), atol=1e-5)
    # the text is read: the video memory changes with it
    assert (encoder(video, ones[1], vp, text.flip(0), ones[0], tp) - out).abs().max() > 1e-3


@pytest.mark.parametrize("name", ["univtg", "vim", "dbm", "query_blind"])
def test_a_padded_query_gives_the_outputs_it_gives_alone(name):
    model = toy_model(name)
    batch = inputs()
    with torch.no_grad():
        together = model(batch)
        for b, (lt, lv) in enumerate([(5, 12), (3, 9)]):
            alone = model(dict(text=batch["text"][b:b + 1, :lt], text_mask=batch["text_mask"][b:b + 1, :lt],
                               video=batch["video"][b:b + 1, :lv], video_mask=batch["video_mask"][b:b + 1, :lv]))
            for x, y in zip(together, alone):
                assert torch.allclose(x[b, :lv], y[0], atol=1e-5)


def test_query_blind_model_never_reads_the_query():
    model, batch = toy_model("query_blind"), inputs()
    other = dict(batch, text=torch.randn_like(batch["text"]), text_mask=torch.ones_like(batch["text_mask"]))
    with torch.no_grad():
        for x, y in zip(model(batch), model(other)):
            assert torch.equal(x, y)
        assert not torch.equal(toy_model("univtg")(batch)[0], toy_model("univtg")(other)[0])


def test_sine_positions_are_normalised_by_the_valid_length():
    mask = torch.tensor([[True, True, True, True], [True, True, False, False]])
    pos = sine_position_embedding(mask, 4)
    angles = torch.tensor([[1, 2, 3, 4], [1, 2, 2, 2]]) / (torch.tensor([[4.0], [2.0]]) + 1e-6) * 2 * torch.pi
    assert torch.allclose(pos[..., 0], angles.sin(), atol=1e-6) and torch.allclose(pos[..., 1], angles.cos(), atol=1e-6)
    assert torch.allclose(pos[..., 2], (angles / 100).sin(), atol=1e-6)  # 10000 ** (2 * (2 // 2) / 4)


def test_boundary_and_foreground_losses_by_hand():
    timestamp = torch.tensor([[0.25, 0.5, 0.75]])
    offsets = torch.tensor([[[-0.25, 0.25], [-0.25, 0.0], [0.0, 0.0]]])  # spans [0, .5], [.25, .5], [.75, .75]
    target = torch.tensor([[[0.0, 0.5], [0.0, 0.5], [0.0, 0.0]]])
    window = torch.tensor([[1.0, 1.0, 0.0]])
    loss_b, loss_g = boundary_losses(timestamp[..., None] + offsets, target, window)
    assert loss_b.item() == pytest.approx(0.5 * 0.25 ** 2 / 2)  # one smooth-L1 term, over 2 in-window clips
    assert loss_g.item() == pytest.approx((0 + 0.5) / 2)  # IoU 1 and 1/2, enclosing = union
    prob, mask = torch.tensor([[0.5, 0.8, 0.2]]), torch.tensor([[True, True, True]])
    expected = -(torch.log(torch.tensor(0.5)) + torch.log(torch.tensor(0.8)) + 0.1 * torch.log(torch.tensor(0.8))) / 3
    assert foreground_loss(prob, window, mask, 0.1).item() == pytest.approx(expected.item(), rel=1e-6)


def test_predict_ranks_every_clip_window_in_seconds_and_applies_nms():
    model = toy_model("univtg", test_cfg=dict(nms_thd=-1))
    batch = inputs()
    samples = [dict(qid=i, query="q", vid="v", duration=2.0 * n, clip_len=2.0) for i, n in enumerate((12, 9))]
    with torch.no_grad():
        prob, offsets, saliency = model(batch)
        out = model(batch, samples, mode="predict")
    windows = out[1]["pred_relevant_windows"]
    assert len(windows) == 9 and [w[2] for w in windows] == sorted((w[2] for w in windows), reverse=True)
    t = int(prob[1, :9].argmax())
    anchor = (t + 1) / 9  # (t + clip_len / 2) / L; seconds = normalised x duration, clamped to the video
    start, end = ((anchor + offsets[1, t]) * 18).clamp(0, 18).tolist()
    assert windows[0][:2] == [pytest.approx(start, abs=1e-4), pytest.approx(end, abs=1e-4)]
    assert out[1]["pred_saliency_scores"] == (saliency[1, :9].half().float() + prob[1, :9]).tolist()
    model.test_cfg["nms_thd"] = 0.7
    with torch.no_grad():
        assert len(model(batch, samples, mode="predict")[0]["pred_relevant_windows"]) <= 10


def test_flops_inputs_run_through_each_compared_model():
    for config in TASK.compare_configs:
        cfg = load_config(config)
        model = MODELS.build(cfg.model).eval()
        assert count_flops(model, TASK.flops_inputs(cfg)) > 0


def test_suites_optimiser_groups_skip_decay_on_biases_and_ssm_parameters():
    from mmengine.optim import build_optim_wrapper
    cfg = load_config(f"{CONFIGS}/toy/vim.py")
    model = MODELS.build(cfg.model)
    groups = build_optim_wrapper(model, cfg.optim_wrapper).optimizer.param_groups
    names = {id(p): n for n, p in model.named_parameters()}
    no_decay = {names[id(p)].rsplit(".", 1)[-1] for p in groups[1]["params"]}
    assert groups[1]["weight_decay"] == 0 and groups[0]["weight_decay"] == 1e-4
    assert no_decay == {"bias", "A_log", "D", "A_b_log", "D_b"}


@pytest.mark.cuda
@pytest.mark.parametrize("name", ["univtg", "vim", "dbm"])
def test_cuda_matches_cpu(name):
    model, batch = toy_model(name), inputs()
    with torch.no_grad():
        cpu = model(batch)
        gpu = model.cuda()({k: v.cuda() for k, v in batch.items()})
    # the CUDA scan (mamba-ssm's kernel, or the torch path without it) is not bit-exact with the CPU one;
    # padded clips are left out (their saliency is log(1e-45), a denormal a GPU may flush to zero)
    valid = batch["video_mask"]
    for x, y in zip(gpu, cpu):
        torch.testing.assert_close(x.cpu()[valid], y[valid], rtol=6e-4, atol=2e-3)
