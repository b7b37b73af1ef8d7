"""egocentric_mamba's models against small hand-derived references: the text tower's causal mask and end-of-text
pooling, the towers' token orders, the tanh gate at 0 making the time step the identity, the styles, the losses (and
their global batch under a 2-process gloo DDP run), the frozen logit scale, the predictions, mixup / cutmix.
Equality with the suite's own model code at the released sizes was measured outside the test suite (README)."""
import math
import os
import socket

import pytest
import torch
import torch.nn.functional as F

import egocentric_mamba  # noqa: F401  (registration)
from common.engine import MODELS
from egocentric_mamba.models import BatchMixup, ClipInfoNCELoss, MaxMarginRankingLoss
from egocentric_mamba.models.layers import Mlp

pytestmark = pytest.mark.usefixtures("one_thread")

SIZE = dict(img_size=32, patch_size=8, num_frames=4, output_dim=16)                    # 16 patches per frame
TOWERS = {
    "timesformer": dict(type="SpaceTimeTransformer", embed_dims=32, depth=2, num_heads=2, **SIZE),
    "timesformer_frozen": dict(type="SpaceTimeTransformer", embed_dims=32, depth=2, num_heads=2,
                               attention_style="frozen-in-time", **SIZE),
    "timemamba": dict(type="TimeMamba", embed_dims=32, depth=2, num_heads=2, **SIZE),
    "timemamba_frozen": dict(type="TimeMamba", embed_dims=32, depth=2, num_heads=2, attention_style="frozen-in-time",
                             **SIZE),
    "timemamba_spacetime": dict(type="TimeMamba", embed_dims=32, depth=2, num_heads=2, attention_style="frozen-joint",
                                **SIZE),
    "vit": dict(type="VisionTransformer", width=32, layers=2, heads=2, **SIZE),
    "vivim": dict(type="ViViM", embed_dims=32, depth=2, drop_path_rate=0.0, **SIZE),
}
TEXT = dict(type="TextTransformer", vocab_size=64, context_length=8, width=32, heads=2, layers=2, output_dim=16)
EOT = 63  # the largest id, as 49407 is in CLIP's vocabulary


def build(cfg, seed=0):
    torch.manual_seed(seed)
    return MODELS.build(cfg).eval()


def dual_encoder(tower="timemamba", **options):
    return build(dict(type="VideoTextDualEncoder", visual=TOWERS[tower], textual=TEXT, **options))


def captions(*lengths):
    """Token rows [SOT, words..., EOT, 0...] of the given word counts."""
    tokens = torch.zeros(len(lengths), 8, dtype=torch.long)
    for row, n in enumerate(lengths):
        tokens[row, 0] = 62
        tokens[row, 1:n + 1] = torch.arange(1, n + 1) * (row + 3) % 60 + 1
        tokens[row, n + 1] = EOT
    return tokens


def perturbed(model, seed=1, alpha=0.7):
    """Random norms and biases too; the time gates at `alpha`."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.full_like(p, alpha) if name.endswith("alpha_timeattn")
                    else p + 0.1 * torch.randn(p.shape, generator=g))
    return model


# ------------------------------------------------------------------------------------------------ text tower


def test_text_is_pooled_at_the_end_of_text_token_through_ln_final_and_text_projection():
    text = perturbed(build(TEXT))
    tokens = captions(2, 5)                                                    # EOT at positions 3 and 6
    captured = {}
    text.ln_final.register_forward_hook(lambda m, args, out: captured.update(x=out))
    out = text(tokens)
    torch.testing.assert_close(out, torch.stack([captured["x"][0, 3], captured["x"][1, 6]]) @ text.text_projection)


def test_causal_mask_a_token_never_sees_the_tokens_after_it():
    text = perturbed(build(TEXT))
    assert torch.equal(text.attn_mask, torch.tensor([[0.0 if j <= i else -math.inf for j in range(8)]
                                                     for i in range(8)]))
    tokens = captions(3)                                                        # EOT at 4, padding after it
    changed = tokens.clone()
    changed[0, 6] = 17                                                           # after the EOT: invisible
    with torch.no_grad():
        torch.testing.assert_close(text(changed), text(tokens), rtol=0, atol=0)
        changed[0, 2] = 17                                                       # before it: seen
        assert (text(changed) - text(tokens)).abs().max() > 1e-3


def test_text_mlps_use_exact_gelu():
    text = build(TEXT)
    assert text.transformer.resblocks[0].mlp.gelu.approximate == "none"
    mlp = Mlp(4, 4)
    with torch.no_grad():
        for layer in (mlp.fc1, mlp.fc2):
            layer.weight.copy_(torch.eye(4))
    x = torch.linspace(-3, 3, 12).view(3, 4)
    torch.testing.assert_close(mlp(x), 0.5 * x * (1 + torch.erf(x / math.sqrt(2))))
    assert (mlp(x) - x * torch.sigmoid(1.702 * x)).abs().max() > 1e-2  # not QuickGELU


def test_text_tower_refuses_tokens_it_cannot_read():
    text = build(TEXT)
    with pytest.raises(ValueError, match=r"int64 tensor \(N, 8\)"):
        text(captions(2).int())
    with pytest.raises(ValueError, match=r"int64 tensor \(N, 8\)"):
        text(torch.zeros(1, 77, dtype=torch.long))
    with pytest.raises(ValueError, match=r"token ids must lie in \[0, 64\), got \[0, 64\]"):
        text(torch.tensor([[62, 64, 0, 0, 0, 0, 0, 0]]))


# ------------------------------------------------------------------------------------------------ token orders


def block_input(tower, clips):
    captured = {}
    first = tower.blocks[0] if hasattr(tower, "blocks") else tower.transformer.resblocks[0]
    first.register_forward_pre_hook(lambda m, args: captured.update(x=args[0]))
    tower(clips)
    return captured["x"]


def test_space_time_tokens_are_patch_major_frame_minor_with_per_frame_embeddings():
    tower = perturbed(build(TOWERS["timesformer"]))
    clips = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        x = block_input(tower, clips)                                         # (B, 1 + 16 * 4, D)
        cls = tower.cls_token[0, 0] + tower.pos_embed[0, 0]
        patch, frame = 5, 2
        embedded = F.conv2d(clips[:, :, frame], tower.patch_embed.proj.weight, stride=8).flatten(2)[:, :, patch]
        token = embedded + tower.pos_embed[0, 1 + patch] + tower.temporal_embed[0, frame]
        ln = tower.ln_pre
        torch.testing.assert_close(x[:, 0], F.layer_norm(cls, (32,), ln.weight, ln.bias).expand(2, -1))
        torch.testing.assert_close(x[:, 1 + patch * 4 + frame], F.layer_norm(token, (32,), ln.weight, ln.bias))


def test_vit_tokens_are_frame_major_and_its_linear_patch_embedding_is_the_flattened_conv():
    tower = perturbed(build(TOWERS["vit"]))
    clips = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        x = block_input(tower, clips)
        patch, frame = 5, 2
        kernel = tower.conv1.weight.view(32, 3, 8, 8)                          # (c, row, column) flattened
        embedded = F.conv2d(clips[:, :, frame], kernel, stride=8).flatten(2)[:, :, patch]
        token = embedded + tower.positional_embedding[1 + patch] + tower.temporal_embedding[frame]
        ln = tower.ln_pre
        torch.testing.assert_close(x[:, 1 + frame * 16 + patch], F.layer_norm(token, (32,), ln.weight, ln.bias,
                                                                              eps=1e-6))


@pytest.mark.parametrize("style, shape", [("timemamba", (2 * 16, 4, 32)), ("timemamba_spacetime", (2, 16 * 4, 32))])
def test_time_mamba_scans_each_patch_s_frames_or_the_whole_clip(style, shape):
    """Vanilla / frozen: one scan per patch position over its T frames; space-time: one scan over all patch tokens
    in (patch, frame) order, the class token left out."""
    tower = perturbed(build(TOWERS[style]))
    block = tower.blocks[0]
    captured = {}
    block.time_mamba.register_forward_pre_hook(lambda m, args: captured.update(x=args[0]))
    with torch.no_grad():
        x = block_input(tower, torch.randn(2, 3, 4, 32, 32))
        assert captured["x"].shape == shape
        torch.testing.assert_close(captured["x"].reshape(2, 64, 32), block.norm3(x[:, 1:]))


# ------------------------------------------------------------------------------------------------ time gate, styles


def spatial_twins():
    """The five divided space-time towers with the same spatial weights, the time gates at 0, temporal
    embeddings at 0 (their init)."""
    names = ["timesformer", "timesformer_frozen", "timemamba", "timemamba_frozen", "timemamba_spacetime"]
    towers = {name: build(TOWERS[name]) for name in names}
    shared = {k: v for k, v in perturbed(build(TOWERS["timesformer"])).state_dict().items()
              if ".timeattn." not in k and "alpha_timeattn" not in k and k != "temporal_embed"}
    for tower in towers.values():
        missing, unexpected = tower.load_state_dict(shared, strict=False)
        assert not unexpected and all(".timeattn." in k or ".time_mamba." in k or "alpha" in k or "temporal" in k
                                      for k in missing)
        with torch.no_grad():  # the time branches' own weights: anything, they must not matter at alpha 0
            for name, p in tower.named_parameters():
                if ".timeattn." in name or ".time_mamba." in name:
                    p.add_(torch.randn_like(p))
    return towers


def test_tanh_gate_at_zero_makes_the_time_step_a_no_op_in_every_style():
    towers = spatial_twins()
    clips = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        outputs = {name: tower(clips) for name, tower in towers.items()}
        reference = outputs.pop("timesformer")
        for output in outputs.values():
            torch.testing.assert_close(output, reference)
        # no time step: each frame goes through the image model alone, so frame order cannot matter
        torch.testing.assert_close(towers["timemamba"](clips.flip(2)), reference)


def test_open_gates_make_the_styles_differ_and_order_matter():
    towers = spatial_twins()
    clips = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        for tower in towers.values():
            for block in tower.blocks:
                block.alpha_timeattn.fill_(0.8)
        outputs = {name: tower(clips) for name, tower in towers.items()}
        names = list(outputs)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                assert (outputs[a] - outputs[b]).abs().max() > 1e-3, (a, b)
        assert (towers["timemamba"](clips.flip(2)) - outputs["timemamba"]).abs().max() > 1e-3


def test_vanilla_adds_the_time_residual_and_frozen_keeps_only_the_input():
    """With the spatial attention and the MLP silenced, a vanilla block returns [cls ; p + tanh(a) time(p)], a
    frozen one its input unchanged (its time step only feeds the spatial attention)."""
    torch.manual_seed(0)
    x = torch.randn(2, 1 + 16 * 4, 32)
    for name in ("timesformer", "timesformer_frozen", "timemamba", "timemamba_frozen", "timemamba_spacetime"):
        block = perturbed(build(TOWERS[name])).blocks[0]
        with torch.no_grad():
            for layer in (block.attn.out_proj, block.mlp.fc2):
                layer.weight.zero_()
                layer.bias.zero_()
            out = block(x, 4)
            if block.attention_style == "timesformer-div":
                time = block.timeattn if hasattr(block, "timeattn") else block.time_mamba
                per_patch = block.norm3(x[:, 1:]).reshape(32, 4, 32)
                expected = x[:, 1:] + math.tanh(0.7) * time(per_patch).reshape(2, 64, 32)
                torch.testing.assert_close(out[:, 1:], expected)
                torch.testing.assert_close(out[:, 0], x[:, 0])
            else:
                torch.testing.assert_close(out, x, rtol=0, atol=0)


def test_towers_refuse_clips_of_another_size_and_timemamba_takes_any_length():
    for name in ("timesformer", "vit", "vivim"):
        with pytest.raises(ValueError):
            build(TOWERS[name])(torch.randn(1, 3, 8, 32, 32))
        with pytest.raises(ValueError):
            build(TOWERS[name])(torch.randn(1, 3, 4, 48, 48))
    assert build(TOWERS["timemamba"])(torch.randn(1, 3, 8, 32, 32)).shape == (1, 16)
    with pytest.raises(ValueError, match="attention_style must be one of"):
        build(dict(TOWERS["timesformer"], attention_style="frozen-joint"))


# ------------------------------------------------------------------------------------------------ dual encoder


def test_dual_encoder_embeddings_are_normalised_and_the_logit_scale_is_frozen():
    model = dual_encoder()
    assert "logit_scale" in model.state_dict() and "logit_scale" not in dict(model.named_parameters())
    assert model.logit_scale.exp().item() == pytest.approx(1 / 0.07)
    clips = torch.randn(3, 3, 4, 32, 32)
    video, text = model(clips, [dict(tokens=t) for t in captions(1, 2, 3)])
    assert video.shape == text.shape == (3, 16)
    torch.testing.assert_close(video.norm(dim=-1), torch.ones(3))
    torch.testing.assert_close(text.norm(dim=-1), torch.ones(3))
    torch.testing.assert_close(video, F.normalize(model.visual(clips), dim=-1))


def test_predict_copies_the_ids_and_gives_k_text_embeddings_for_k_options():
    model = dual_encoder("vivim")
    clips = torch.randn(2, 3, 4, 32, 32)
    samples = [dict(tokens=captions(1, 2, 3, 4, 5), q_uid=f"q{i}", index=i) for i in range(2)]  # 5 options each
    predictions = model(clips, samples, mode="predict")
    assert [(p["q_uid"], p["index"]) for p in predictions] == [("q0", 0), ("q1", 1)]
    assert predictions[0]["video_emb"].shape == (16,) and predictions[0]["text_emb"].shape == (5, 16)
    # each option's embedding is the caption's own
    _, single = model(clips[:1], [dict(tokens=captions(1, 2, 3, 4, 5)[2])])
    torch.testing.assert_close(predictions[0]["text_emb"][2], single[0])
    with pytest.raises(ValueError, match="one caption"):
        model(clips, samples, mode="loss")
    with pytest.raises(ValueError, match="'tokens' of one shape"):
        model(clips, [samples[0], dict(tokens=captions(1)[0])], mode="predict")


def test_infonce_is_the_symmetric_cross_entropy_of_the_scaled_cosines():
    video = F.normalize(torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]), dim=-1)
    text = F.normalize(torch.tensor([[1.0, 0.2], [0.0, 1.0], [0.3, 1.0]]), dim=-1)
    scale = 1 / 0.07
    cos = video @ text.T
    rows = sum(-math.log(math.exp(scale * cos[i, i]) / sum(math.exp(scale * cos[i, j]) for j in range(3)))
               for i in range(3)) / 3
    cols = sum(-math.log(math.exp(scale * cos[i, i]) / sum(math.exp(scale * cos[j, i]) for j in range(3)))
               for i in range(3)) / 3
    out = ClipInfoNCELoss()(video, text, torch.tensor(scale))
    assert out["loss"].item() == pytest.approx((rows + cols) / 2, rel=1e-5)
    # only video 0 finds its caption (video 1 is closer to caption 2, video 2 to caption 1)
    assert out["clip_acc"].item() == pytest.approx(100 / 3)


def test_max_margin_is_the_mean_over_both_directions_of_every_off_diagonal_pair():
    torch.manual_seed(0)
    video, text = F.normalize(torch.randn(4, 8), dim=-1), F.normalize(torch.randn(4, 8), dim=-1)
    x = text @ video.T
    terms = [max(0.0, 0.2 - (x[i, i] - x[i, j]).item()) for i in range(4) for j in range(4) if i != j]
    terms += [max(0.0, 0.2 - (x[i, i] - x[j, i]).item()) for i in range(4) for j in range(4) if i != j]
    assert len(terms) == 2 * 4 * 3
    assert MaxMarginRankingLoss(0.2)(video, text)["loss"].item() == pytest.approx(sum(terms) / len(terms), rel=1e-6)
    with pytest.raises(ValueError, match="at least 2 pairs"):
        MaxMarginRankingLoss()(video[:1], text[:1])


@pytest.mark.parametrize("tower", list(TOWERS))
def test_every_tower_trains_in_a_dual_encoder_and_every_parameter_gets_a_gradient(tower):
    model = dual_encoder(tower, loss=dict(type="MaxMarginRankingLoss") if tower == "vit" else None)
    model.train()
    losses = model(torch.randn(2, 3, 4, 32, 32), [dict(tokens=t) for t in captions(2, 4)], mode="loss")
    losses["loss"].backward()
    assert torch.isfinite(losses["loss"])
    assert [n for n, p in model.named_parameters() if p.grad is None] == []


def _ddp_worker(rank, world, port, path):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(1)
    results = {}
    for loss in ("ClipInfoNCELoss", "MaxMarginRankingLoss"):
        model = DistributedDataParallel(dual_encoder("timesformer", loss=dict(type=loss)))
        clips, samples = ddp_batch()
        half = slice(rank * 2, rank * 2 + 2)
        out = model(clips[half], samples[half], mode="loss")
        out["loss"].backward()
        results[loss] = dict(loss=out["loss"].detach(),
                             grads={n: p.grad for n, p in model.module.named_parameters()})
    torch.save(results, f"{path}.{rank}")
    dist.destroy_process_group()


def ddp_batch():
    torch.manual_seed(5)
    return torch.randn(4, 3, 4, 32, 32), [dict(tokens=t) for t in captions(1, 3, 5, 2)]


@pytest.mark.slow  # two processes importing the suite: ~30 s
def test_under_ddp_the_loss_and_gradients_are_those_of_the_whole_batch_in_one_process(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    torch.multiprocessing.spawn(_ddp_worker, args=(2, port, str(tmp_path / "out")), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"out.{r}") for r in range(2)]
    for loss in ("ClipInfoNCELoss", "MaxMarginRankingLoss"):
        model = dual_encoder("timesformer", loss=dict(type=loss))
        clips, samples = ddp_batch()
        whole = model(clips, samples, mode="loss")["loss"]
        whole.backward()
        for result in (r[loss] for r in ranks):  # each process computed the loss of the global batch of 4
            torch.testing.assert_close(result["loss"], whole.detach())
            for name, p in model.named_parameters():  # DDP's averaged gradients: those of the whole batch
                torch.testing.assert_close(result["grads"][name], p.grad, rtol=1e-4, atol=1e-6, msg=name)


# ------------------------------------------------------------------------------------------------ classifier


def test_classifier_drops_the_projection_and_starts_fc_cls_small():
    model = build(dict(type="VideoClassifier", visual=TOWERS["timesformer"], num_classes=3806))
    assert model.visual.image_projection is None and "visual.image_projection" not in model.state_dict()
    assert model.fc_cls.weight.shape == (3806, 32)
    assert model.fc_cls.weight.std().item() == pytest.approx(0.01, rel=0.05) and model.fc_cls.bias.abs().max() == 0
    clips = torch.randn(2, 3, 4, 32, 32)
    predictions = model(clips, [dict(label=3, narration_id="P01_01_0"), dict(label=5, narration_id="P01_01_1")],
                        mode="predict")
    assert predictions[1]["narration_id"] == "P01_01_1" and predictions[1]["label"] == 5
    torch.testing.assert_close(torch.stack([p["logits"] for p in predictions]), model(clips))


def test_classifier_loss_is_soft_cross_entropy_on_smoothed_targets_and_checks_labels():
    model = build(dict(type="VideoClassifier", visual=TOWERS["vit"], num_classes=10, label_smoothing=0.1))
    clips = torch.randn(2, 3, 4, 32, 32)
    logits = model(clips)
    target = torch.full((2, 10), 0.01)
    target[0, 3], target[1, 7] = 0.91, 0.91
    expected = -(target * logits.log_softmax(-1)).sum(-1).mean()
    loss = model(clips, [dict(label=3), dict(label=torch.tensor(7))], mode="loss")["loss"]
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(loss, F.cross_entropy(logits, torch.tensor([3, 7]), label_smoothing=0.1))
    with pytest.raises(ValueError, match=r"label 10 outside the 10 classes"):
        model(clips, [dict(label=3), dict(label=10)], mode="loss")


def test_mixup_blends_the_batch_with_its_mirror_and_the_targets_alike(monkeypatch):
    mixup = BatchMixup(num_classes=4, label_smoothing=0.0)
    monkeypatch.setattr(mixup, "draw", lambda: (0.3, False))
    clips = torch.randn(4, 3, 2, 8, 8)
    mixed, target = mixup(clips, torch.tensor([0, 1, 2, 3]))
    torch.testing.assert_close(mixed, 0.3 * clips + 0.7 * clips.flip(0))
    torch.testing.assert_close(target[0], torch.tensor([0.3, 0.0, 0.0, 0.7]))
    with pytest.raises(ValueError, match="batch size must be even"):
        mixup(clips[:3], torch.tensor([0, 1, 2]))


def test_cutmix_pastes_one_spatial_box_into_every_frame_and_lam_is_its_complement():
    torch.manual_seed(3)
    clips = torch.randn(4, 3, 5, 16, 16)
    mixed, lam = BatchMixup.paste_box(clips, 0.6)
    pasted = (mixed != clips).any(0).any(0)                                    # (T, H, W)
    assert torch.equal(pasted, pasted[:1].expand_as(pasted))                  # the same box in every frame
    rows, cols = pasted[0].any(1).nonzero()[:, 0], pasted[0].any(0).nonzero()[:, 0]
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    assert pasted[0][box].all() and pasted[0].sum() == pasted[0][box].numel()
    assert lam == pytest.approx(1 - pasted[0].sum().item() / 256)
    torch.testing.assert_close(mixed[..., box[0], box[1]], clips.flip(0)[..., box[0], box[1]])
    # the side is sqrt(1 - lam) of the frame's: int(16 * sqrt(0.4)) = 10, halves of 5, clipped at the borders
    assert rows.max() - rows.min() + 1 <= 10 and cols.max() - cols.min() + 1 <= 10


def test_mixup_draws_like_timm_s_batch_mode():
    """prob 1, switch 0.5: about half the batches cutmix (Beta(1, 1) lam), the others mixup (Beta(0.8, 0.8));
    prob 0 never mixes."""
    torch.manual_seed(0)
    mixup = BatchMixup(num_classes=4)
    draws = [mixup.draw() for _ in range(2000)]
    assert 0.45 < sum(cut for _, cut in draws) / 2000 < 0.55
    assert all(0 <= lam <= 1 for lam, _ in draws)
    assert BatchMixup(4, prob=0.0).draw() == (1.0, False)
    assert all(cut for _, cut in (BatchMixup(4, mixup_alpha=0.0).draw() for _ in range(20)))


def test_towers_come_from_our_registry_whatever_the_default_scope():
    """Once a videomamba_st run has been built in a process, mmaction2 is the default scope, and its registry has a
    TimeMamba of its own (mmaction2's TimeSformer with the adapter): the dual encoder still builds ours."""
    pytest.importorskip("mmaction")
    import videomamba_st  # noqa: F401  (registers its TimeMamba into mmaction2's registry)
    from mmengine.registry import DefaultScope
    from egocentric_mamba.models import TimeMamba
    with DefaultScope.overwrite_default_scope("mmaction"):
        with pytest.raises(TypeError, match="unexpected keyword argument"):  # a plain build reaches mmaction2's
            MODELS.build(TOWERS["timemamba"])
        model = MODELS.build(dict(type="VideoTextDualEncoder", visual=TOWERS["timemamba"], textual=TEXT))
    assert type(model.visual) is TimeMamba


def test_vivim_tower_starts_from_vim_imagenet_weights_with_a_fresh_projection(tmp_path):
    """The suite's ViViM dual encoders start from Vim's ImageNet classifier (loaded non-strictly upstream): every
    weight but the temporal embedding and the image projection must come from the file."""
    from common.backbones.vivim import load_vim_checkpoint
    image = perturbed(build(dict(TOWERS["vivim"], num_frames=1, output_dim=None)))
    vim = {k: v for k, v in image.state_dict().items() if k != "temporal_embedding"}
    vim["patch_embed.proj.weight"] = vim["patch_embed.proj.weight"][:, :, 0]
    vim["head.weight"], vim["head.bias"] = torch.randn(1000, 32), torch.randn(1000)
    torch.save({"model": vim}, tmp_path / "vim_t_midclstok.pth")
    tower = build(TOWERS["vivim"])
    projection = tower.image_projection.detach().clone()
    load_vim_checkpoint(tower, str(tmp_path / "vim_t_midclstok.pth"))
    torch.testing.assert_close(tower.image_projection, projection, rtol=0, atol=0)
    torch.testing.assert_close(tower.layers[1].mixer.x_proj_b.weight, vim["layers.1.mixer.x_proj_b.weight"])
