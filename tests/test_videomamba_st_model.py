"""ViViM's token layout and Vim inflation, TimeMamba's identity at alpha = 0, the upstream checkpoint conversions
(key layouts from the suite's own code, tests/fixtures/videomamba_st_suite_keys.json) and the K400 / EK100 configs."""
import glob
import json
import os

import pytest
import torch

import videomamba_st  # noqa: F401  (mmaction2, registration)
from common.engine import MODELS, load_config
from videomamba_st.convert import convert_checkpoint
from common.backbones.vivim import ViViM, load_vim_checkpoint, read_checkpoint, resize_pos_embed

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "videomamba_st_suite_keys.json")
CONFIGS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "videomamba_st", "configs")


def small_vivim(**kw):
    args = dict(num_frames=4, img_size=32, patch_size=8, embed_dims=32, depth=2, drop_path_rate=0.0)
    return ViViM(**{**args, **kw}).eval()


def suite_sized(config, size, **extra):
    """A config's model at the size the fixture's key lists were made at."""
    backbone = dict(num_frames=size["num_frames"], img_size=size["img_size"], patch_size=size["patch_size"],
                    embed_dims=size["embed_dims"])
    options = {f"model.backbone.{k}": v for k, v in backbone.items()}
    options.update({"model.cls_head.num_classes": size["num_classes"],
                    "model.cls_head.in_channels": size["embed_dims"], **extra})
    return load_config(os.path.join(CONFIGS, config), options)


def random_state(shapes: dict) -> dict:
    torch.manual_seed(0)
    return {k: torch.randn(shape) for k, shape in shapes.items()}


# ------------------------------------------------------------------------------------------------ ViViM


def test_class_tokens_sit_in_the_middle_of_every_frame():
    model = small_vivim()
    # 16 patches per frame -> the class token is token 8 of each frame's 17
    assert model.cls_positions.tolist() == [8, 25, 42, 59]
    captured = {}
    model.layers[0].register_forward_pre_hook(lambda m, args: captured.setdefault("x", args[0]))
    x = torch.randn(2, 3, 4, 32, 32)
    model(x)
    tokens = captured["x"]                                                       # (B, T (M + 1), D)
    assert tokens.shape == (2, 4 * 17, 32)
    expected_cls = model.cls_token[0, 0] + model.pos_embed[0, 8]                 # temporal embedding is 0 at init
    for position in model.cls_positions:
        torch.testing.assert_close(tokens[:, position], expected_cls.expand(2, -1))
    # the tokens around it are frame 0's patches 7 and 8 (row-major), each with its own position entry
    patches = model.patch_embed.proj(x).flatten(3).permute(0, 2, 3, 1)         # (B, T, M, D)
    torch.testing.assert_close(tokens[:, 7], patches[:, 0, 7] + model.pos_embed[0, 7])
    torch.testing.assert_close(tokens[:, 9], patches[:, 0, 8] + model.pos_embed[0, 9])
    torch.testing.assert_close(tokens[:, 17 + 9], patches[:, 1, 8] + model.pos_embed[0, 9])


def test_output_is_the_mean_of_the_class_tokens_after_the_final_norm():
    model = small_vivim()
    captured = {}
    model.norm_f.register_forward_hook(lambda m, args, out: captured.setdefault("y", out))
    out = model(torch.randn(2, 3, 4, 32, 32))
    torch.testing.assert_close(out, captured["y"][:, [8, 25, 42, 59]].mean(1))


def test_temporal_embedding_tells_frames_apart_and_the_scan_sees_order():
    model = small_vivim()
    clip = torch.randn(1, 3, 4, 32, 32)
    reversed_clip = clip.flip(2)
    with torch.no_grad():
        assert not torch.allclose(model(clip), model(reversed_clip), atol=1e-5)  # the scan runs over time too
        model.temporal_embedding.normal_()
        same = clip[:, :, :1].expand(-1, -1, 4, -1, -1)
        # identical frames give different class tokens once the temporal embedding is non-zero
        captured = {}
        model.norm_f.register_forward_hook(lambda m, args, out: captured.setdefault("y", out))
        model(same)
        cls = captured["y"][0, model.cls_positions]
        assert (cls[0] - cls[1]).abs().max() > 1e-3


def write_vim_checkpoint(path, embed_dims=32, depth=2, grid=4, classes=1000):
    """A checkpoint in Vision Mamba's layout (vim/main.py saves {'model', 'optimizer', 'epoch', 'args', ...}):
    image model names, a 2-D patch kernel, (1, grid^2 + 1, D) position embedding with the class entry in the
    middle, a 1000-way head, and an argparse.Namespace of the training arguments."""
    import argparse
    image = small_vivim(num_frames=1, img_size=grid * 8, embed_dims=embed_dims, depth=depth)
    state = {k: v for k, v in image.state_dict().items() if k != "temporal_embedding"}
    state["patch_embed.proj.weight"] = state["patch_embed.proj.weight"][:, :, 0].clone()
    torch.manual_seed(1)
    state = {k: v + 0.1 * torch.randn_like(v) for k, v in state.items()}
    state["head.weight"], state["head.bias"] = torch.randn(classes, embed_dims), torch.randn(classes)
    torch.save({"model": state, "epoch": 299, "args": argparse.Namespace(model="vim_tiny")}, path)
    return state


def test_vim_checkpoint_inflates_into_vivim(tmp_path):
    path = str(tmp_path / "vim_t_midclstok.pth")
    vim = write_vim_checkpoint(path)
    model = small_vivim(tubelet_size=2)
    load_vim_checkpoint(model, path)
    loaded = model.state_dict()
    for key in vim:
        if key.startswith("head.") or key == "patch_embed.proj.weight":
            continue
        torch.testing.assert_close(loaded[key], vim[key])
    # the 2-D kernel spread over the tubelet's 2 frames: a static clip gives the image embedding
    inflated = vim["patch_embed.proj.weight"][:, :, None].repeat(1, 1, 2, 1, 1) / 2
    torch.testing.assert_close(loaded["patch_embed.proj.weight"], inflated)
    assert loaded["temporal_embedding"].abs().max() == 0
    # at tubelet 1 (the suite's) the kernel is copied as it is
    model = small_vivim()
    model.pretrained = path
    model.init_weights()
    torch.testing.assert_close(model.patch_embed.proj.weight[:, :, 0], vim["patch_embed.proj.weight"])


def test_vim_position_embedding_is_resized_around_its_class_entry(tmp_path):
    path = str(tmp_path / "vim.pth")
    vim = write_vim_checkpoint(path, grid=4)
    model = small_vivim(img_size=48)                                        # 6 x 6 patches
    load_vim_checkpoint(model, path)
    pos = model.pos_embed.detach()
    assert pos.shape == (1, 37, 32)
    torch.testing.assert_close(pos[0, 18], vim["pos_embed"][0, 8])           # the class entry, now at 36 // 2
    # resizing to the same grid is the identity
    torch.testing.assert_close(resize_pos_embed(vim["pos_embed"], (4, 4)), vim["pos_embed"])


def test_vim_checkpoint_that_does_not_fit_is_refused(tmp_path):
    path = str(tmp_path / "vim.pth")
    write_vim_checkpoint(path, embed_dims=48)
    with pytest.raises(ValueError, match="shape of"):
        load_vim_checkpoint(small_vivim(), path)
    torch.save({"model": {"blocks.0.attn.qkv.weight": torch.zeros(3, 3)}}, path)
    with pytest.raises(ValueError, match="not a Vision Mamba checkpoint"):
        load_vim_checkpoint(small_vivim(), path)


# ------------------------------------------------------------------------------------------------ TimeMamba


def build(config_name, **options):
    return MODELS.build(load_config(os.path.join(CONFIGS, config_name), options).model).eval()


def test_temporal_adapter_is_the_identity_at_alpha_zero():
    model = build("toy/timemamba.py")
    layer = model.backbone.transformer_layers.layers[0].attentions[0]
    assert layer.alpha.item() == 0
    query = torch.randn(2, 1 + 16 * 8, 64)
    torch.testing.assert_close(layer(query), query, rtol=0, atol=0)
    with torch.no_grad():
        layer.alpha.fill_(0.5)
    moved = layer(query)
    assert torch.equal(moved[:, 0], query[:, 0])                             # the class token is left alone
    assert (moved - query).abs().max() > 1e-3


def test_timemamba_at_alpha_zero_computes_timesformer_with_zero_temporal_fc():
    timesformer, timemamba = build("toy/timesformer.py"), build("toy/timemamba.py")
    shared = {k: v for k, v in timesformer.state_dict().items()
              if ".attentions.0.attn." not in k and ".attentions.0.temporal_fc." not in k}
    missing, unexpected = timemamba.load_state_dict(shared, strict=False)
    assert not unexpected and all(".attentions.0.mamba." in k or k.endswith(".alpha") for k in missing)
    clip = torch.randn(2, 3, 8, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(timemamba.backbone(clip), timesformer.backbone(clip))


def test_timemamba_scan_runs_over_each_patch_s_frames():
    """Changing one patch of one frame moves, through the temporal step alone, only that patch's other frames."""
    layer = build("toy/timemamba.py").backbone.transformer_layers.layers[0].attentions[0]
    with torch.no_grad():
        layer.alpha.fill_(1.0)
    frames, patches = 8, 16
    query = torch.randn(1, 1 + patches * frames, 64)
    changed = query.clone()
    changed[0, 1 + 5 * frames + 3] += torch.randn(64)                       # patch 5, frame 3 ((patch, frame) order)
    diff = (layer(changed) - layer(query)).abs().amax(-1)[0, 1:].view(patches, frames)
    assert diff[5].min() > 0 and diff[torch.arange(patches) != 5].max() == 0


# ------------------------------------------------------------------------------------------------ conversions


@pytest.fixture(scope="module")
def suite_keys():
    with open(FIXTURE) as f:
        return json.load(f)


def test_suite_vivim_checkpoint_converts_and_loads_strictly(suite_keys):
    size = suite_keys["size"]
    cfg = suite_sized("toy/vivim.py", size, **{"model.backbone.depth": size["depth"]})
    state = random_state(suite_keys["vivim_k400"])
    converted = convert_checkpoint({"model": state, "epoch": 69}, cfg)
    model = MODELS.build(cfg.model)
    model.load_state_dict(converted, strict=True)
    torch.testing.assert_close(model.cls_head.fc_cls.weight, state["head.weight"])
    torch.testing.assert_close(model.backbone.layers[1].mixer.x_proj_b.weight,
                               state["layers.1.mixer.x_proj_b.weight"])
    torch.testing.assert_close(model.backbone.patch_embed.proj.weight[:, :, 0], state["patch_embed.proj.weight"])


def test_vim_imagenet_checkpoint_converts_with_a_fresh_classifier(suite_keys, tmp_path):
    size = suite_keys["size"]
    cfg = suite_sized("toy/vivim.py", size, **{"model.backbone.depth": size["depth"]})
    path = str(tmp_path / "vim.pth")
    vim = write_vim_checkpoint(path, embed_dims=size["embed_dims"], depth=size["depth"])
    converted = convert_checkpoint(read_checkpoint(path), cfg)
    model = MODELS.build(cfg.model)
    model.load_state_dict(converted, strict=True)
    torch.testing.assert_close(model.backbone.norm_f.weight, vim["norm_f.weight"])
    assert model.cls_head.fc_cls.weight.shape == (size["num_classes"], size["embed_dims"])


@pytest.mark.parametrize("layout", ["timemamba_ek100_cls", "timemamba_clip_pretrain"])
def test_suite_timemamba_checkpoint_converts_and_loads_strictly(suite_keys, layout):
    size = suite_keys["size"]
    cfg = suite_sized("toy/timemamba.py", size, **{"model.backbone.num_heads": size["num_heads"],
                                                   "model.backbone.num_transformer_layers": size["depth"],
                                                   "model.backbone.ln_pre": True})
    state = random_state(suite_keys[layout])
    converted = convert_checkpoint({"state_dict": state, "epoch": 1}, cfg)
    model = MODELS.build(cfg.model)
    model.load_state_dict(converted, strict=True)
    layer = model.backbone.transformer_layers.layers[1]
    torch.testing.assert_close(layer.attentions[1].attn.in_proj_weight,
                               state["module.visual.blocks.1.attn.Wqkv.weight"])
    torch.testing.assert_close(layer.attentions[0].mamba.A_b_log, state["module.visual.blocks.1.time_mamba.A_b_log"])
    torch.testing.assert_close(layer.attentions[0].alpha, state["module.visual.blocks.1.alpha_timeattn"])
    torch.testing.assert_close(layer.ffns[0].layers[1].weight, state["module.visual.blocks.1.mlp.fc2.weight"])
    assert model.backbone.time_embed.abs().max() == 0 and model.backbone.patch_embed.projection.bias.abs().max() == 0
    if layout == "timemamba_ek100_cls":
        torch.testing.assert_close(model.cls_head.fc_cls.bias, state["module.fc_cls.bias"])
    # without ln_pre in the config the CLIP-initialised checkpoint is refused
    cfg.model.backbone.ln_pre = False
    with pytest.raises(ValueError, match="ln_pre"):
        convert_checkpoint({"state_dict": state}, cfg)


def test_timesformer_checkpoint_converts_to_timemamba_with_the_adapter_off():
    timesformer = build("toy/timesformer.py")
    cfg = load_config(os.path.join(CONFIGS, "toy/timemamba.py"))
    converted = convert_checkpoint({"state_dict": timesformer.state_dict(), "meta": {}}, cfg)
    timemamba = MODELS.build(cfg.model).eval()
    timemamba.load_state_dict(converted, strict=True)
    clip = torch.randn(1, 3, 8, 32, 32)
    with torch.no_grad():  # TimeSformer's temporal_fc starts at 0, TimeMamba's alpha too: the same function
        torch.testing.assert_close(timemamba.backbone(clip), timesformer.backbone(clip))


def test_unknown_checkpoint_is_refused():
    cfg = load_config(os.path.join(CONFIGS, "toy/vivim.py"))
    with pytest.raises(ValueError, match="no conversion"):
        convert_checkpoint({"state_dict": {"blocks.0.attn.qkv.weight": torch.zeros(1)}}, cfg)


# ------------------------------------------------------------------------------------------------ configs


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(CONFIGS, "*.py"))), ids=os.path.basename)
def test_real_data_configs_build_their_model(path):
    cfg = load_config(path)
    backbone = cfg.model.backbone
    name = os.path.basename(path)
    assert backbone.num_frames == 16 and backbone.img_size == 224 and backbone.patch_size == 16
    depth_key = "depth" if backbone.type == "ViViM" else "num_transformer_layers"
    assert backbone[depth_key] == (24 if backbone.type == "ViViM" else 12)
    backbone.pop("pretrained", None)
    backbone[depth_key] = 1  # the rest of the model as configured, built quickly
    model = MODELS.build(cfg.model)
    assert model.cls_head.fc_cls.out_features == (400 if name.startswith("kinetics400") else
                                                  97 if "_verb_" in name else 300)
    assert model.cls_head.fc_cls.in_features == backbone.embed_dims
