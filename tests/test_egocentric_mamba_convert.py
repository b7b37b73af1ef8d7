"""The suite's twelve egocentric releases convert and load strictly, and a checkpoint of another model is refused.

tests/fixtures/egocentric_mamba_upstream_layouts.json holds the exact key -> shape layout of each released file
(read off the suite's own builders run on CPU as its scripts call them) and the argparse.Namespace its scripts save.
Real-size checkpoints are made of meta tensors (shapes without memory) and loaded into real-size models on the meta
device; values are checked at small sizes.
"""
import argparse
import json
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

import egocentric_mamba  # noqa: F401  (registration)
from common.engine import MODELS, state_dict_mismatches
from egocentric_mamba.convert import convert_checkpoint, inflate_temporal_embedding

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "egocentric_mamba_upstream_layouts.json").read_text())
RELEASES = FIXTURE["checkpoints"]

TIMESFORMER = dict(type="SpaceTimeTransformer")
TIMESFORMER_FROZEN = dict(type="SpaceTimeTransformer", attention_style="frozen-in-time")
TIMEMAMBA = dict(type="TimeMamba")
TIMEMAMBA_FROZEN = dict(type="TimeMamba", attention_style="frozen-in-time")
VIT_T = dict(type="VisionTransformer", width=192, heads=3, num_frames=16)
VIT_S = dict(type="VisionTransformer", width=384, heads=6, num_frames=16)
VIVIM_T = dict(type="ViViM", embed_dims=192, num_frames=16, output_dim=256, drop_path_rate=0.0)
VIVIM_S = dict(type="ViViM", embed_dims=384, num_frames=16, output_dim=256, drop_path_rate=0.0)


def dual(visual, **visual_options):
    return dict(type="VideoTextDualEncoder", visual=dict(visual, **visual_options))


def classifier(visual, **visual_options):
    return dict(type="VideoClassifier", visual=dict(visual, **visual_options), num_classes=3806)


CONFIGS = {  # release -> the model of the config it converts into (the real sizes)
    "clip_timesformer_vanilla_base_bs512_f4.pt": dual(TIMESFORMER, num_frames=4),
    "clip_timesformer_frozen_base_bs512_f4.pt": dual(TIMESFORMER_FROZEN, num_frames=4),
    "clip_timemamba_vanilla_base_bs512_f4.pt": dual(TIMEMAMBA, num_frames=4),
    "clip_timemamba_frozen_base_bs512_f4.pt": dual(TIMEMAMBA_FROZEN, num_frames=4),
    "deit_vit_tiny_bs512_f16.pt": dual(VIT_T),
    "deit_vit_small_bs512_f16.pt": dual(VIT_S),
    "deit_vivim_tiny_bs512_f16.pt": dual(VIVIM_T),
    "deit_vivim_small_bs512_f16.pt": dual(VIVIM_S),
    "clip_timesformer_vanilla_base_bs512_f4_ft_ek100_cls_f16.pt": classifier(TIMESFORMER, num_frames=16),
    "clip_timesformer_vanilla_base_bs512_f4_ft_ek100_mir_f16.pt": dual(TIMESFORMER, num_frames=16),
    "clip_timemamba_vanilla_base_bs512_f4_ft_ek100_cls_f16.pt": classifier(TIMEMAMBA, num_frames=16),
    "clip_timemamba_vanilla_base_bs512_f4_ft_ek100_mir_f16.pt": dual(TIMEMAMBA, num_frames=16),
}


def release(name, device="meta"):
    """The release as torch.load reads it: {epoch, state_dict (module.*), optimizer, scaler, best_acc1, args}."""
    entry = RELEASES[name]
    state = {k: torch.empty(shape, device=device) for k, shape in entry["state_dict"].items()}
    return dict(epoch=5, state_dict=state, optimizer={}, scaler={}, best_acc1=30.0,
                args=argparse.Namespace(**entry["args"]))


def convert_on_meta(checkpoint, model_cfg):
    cfg = Config(dict(model=model_cfg))
    with torch.device("meta"):
        converted = convert_checkpoint(checkpoint, cfg)
        model = MODELS.build(cfg.model)
    return converted, model


def test_the_fixture_holds_the_twelve_releases():
    assert sorted(RELEASES) == sorted(CONFIGS)
    pretrained = [n for n in RELEASES if "_ft_" not in n]
    assert len(pretrained) == 8 and all(RELEASES[n]["args"]["project_embed_dim"] == 256 for n in pretrained)
    assert all(RELEASES[n]["args"]["use_flash_attn"] and RELEASES[n]["args"]["use_fast_conv1"] for n in RELEASES)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_release_converts_and_loads_strictly(name, capsys):
    checkpoint = release(name)
    converted, model = convert_on_meta(checkpoint, CONFIGS[name])
    assert state_dict_mismatches(converted, model) == []
    model.load_state_dict(converted, strict=True, assign=True)
    # upstream's names are ours: only DDP's prefix goes, and ViViM's Conv2d patch kernel gains a time axis of 1
    upstream = {k.removeprefix("module."): v for k, v in checkpoint["state_dict"].items()}
    assert set(converted) == set(upstream)
    for key, value in upstream.items():
        expected = value.unsqueeze(2).shape if key == "visual.patch_embed.proj.weight" and "vivim" in name \
            else value.shape
        assert converted[key].shape == expected, key
    out = capsys.readouterr().out
    # the classification fine-tuning's args hold no `model` (it rebuilds the pre-trained one): no style to check
    assert ("does not record its attention style" in out) == name.endswith("_cls_f16.pt")
    assert "inflating" not in out


def test_a_released_checkpoint_keeps_every_value():
    """At a small size with real tensors: the converted model computes what the checkpoint's model computes."""
    torch.manual_seed(0)
    text = dict(type="TextTransformer", vocab_size=64, context_length=8, width=32, heads=2, layers=2, output_dim=16)
    for visual in (dict(TIMEMAMBA, img_size=32, patch_size=8, embed_dims=32, depth=2, num_heads=2, output_dim=16),
                   dict(VIVIM_T, img_size=32, patch_size=8, embed_dims=32, depth=2, num_frames=4, output_dim=16)):
        cfg = Config(dict(model=dict(type="VideoTextDualEncoder", visual=visual, textual=text)))
        source = MODELS.build(cfg.model).eval()
        with torch.no_grad():
            for p in source.parameters():
                p.add_(0.1 * torch.randn_like(p))
        state = {"module." + k: v.clone() for k, v in source.state_dict().items()}
        if visual["type"] == "ViViM":  # upstream's Conv2d kernel
            state["module.visual.patch_embed.proj.weight"] = state["module.visual.patch_embed.proj.weight"][:, :, 0]
        args = argparse.Namespace(model="CLIP_ViViM_tiny" if visual["type"] == "ViViM" else
                                  "CLIP_TimeMamba_like_timesformer", clip_length=4)
        model = MODELS.build(cfg.model).eval()
        model.load_state_dict(convert_checkpoint(dict(state_dict=state, args=args), cfg), strict=True)
        clips = torch.randn(2, 3, 4, 32, 32)
        samples = [dict(tokens=torch.tensor([1, 5, 9, 63, 0, 0, 0, 0])), dict(tokens=torch.tensor([1, 63] + [0] * 6))]
        with torch.no_grad():
            for ours, theirs in zip(model(clips, samples), source(clips, samples)):
                torch.testing.assert_close(ours, theirs, rtol=0, atol=0)


# ------------------------------------------------------------------------------------------ refused checkpoints


@pytest.mark.parametrize("name, config, holds", [
    ("deit_vivim_tiny_bs512_f16.pt", dual(TIMESFORMER, num_frames=16),
     "holds a VideoTextDualEncoder with a ViViM visual tower, 16 frames (upstream CLIP_ViViM_tiny); the config "
     "builds a VideoTextDualEncoder with a SpaceTimeTransformer visual tower (timesformer-div)"),
    ("clip_timemamba_vanilla_base_bs512_f4_ft_ek100_cls_f16.pt", dual(TIMEMAMBA, num_frames=16),
     "holds a VideoClassifier with a TimeMamba visual tower, 16 frames, 3806 classes; the config builds a "
     "VideoTextDualEncoder"),
    ("clip_timesformer_frozen_base_bs512_f4.pt", dual(TIMESFORMER, num_frames=4),
     "(frozen-in-time), 4 frames (upstream CLIP_FrozenInTime_TimeSformerB16); the config builds a "
     "VideoTextDualEncoder with a SpaceTimeTransformer visual tower (timesformer-div): set the tower's "
     "attention_style to 'frozen-in-time'"),
    ("clip_timemamba_frozen_base_bs512_f4.pt", dual(TIMEMAMBA, num_frames=4), "attention_style to 'frozen-in-time'"),
    ("deit_vit_small_bs512_f16.pt", dual(VIVIM_S), "with a VisionTransformer visual tower"),
])
def test_a_checkpoint_of_another_model_is_refused_saying_what_it_holds(name, config, holds):
    with pytest.raises(ValueError) as err:
        convert_on_meta(release(name), config)
    assert holds in str(err.value)


def test_a_video_classifier_of_another_task_is_refused():
    k400 = {"model": {"layers.0.mixer.in_proj.weight": torch.zeros(4, 2), "head.weight": torch.zeros(3, 2)}}
    with pytest.raises(ValueError, match=r"holds none of the suite's egocentric models \(top-level names "
                                         r"\['head', 'layers'\]"):
        convert_on_meta(k400, dual(VIVIM_T))


def test_another_model_of_the_same_size_still_fails_strictly():
    """ViT-S into a ViT-T config: the kinds agree, the shapes do not; the tool lists the mismatches."""
    converted, model = convert_on_meta(release("deit_vit_small_bs512_f16.pt"), dual(VIT_T))
    assert "shape of visual.conv1.weight: (384, 768) in the checkpoint, (192, 768) in the model" in \
        state_dict_mismatches(converted, model)


# ------------------------------------------------------------------------------------------ explicit steps


def test_temporal_embedding_inflates_4_to_16_frames_by_linear_interpolation():
    # align_corners False: output frame j samples input position (j + 0.5) * 4 / 16 - 0.5, clamped to [0, 3]
    table = torch.arange(4.0)[:, None].repeat(1, 3)                            # (T, D), frame t holds t
    expected = torch.tensor([0, 0] + [j / 4 - 0.375 for j in range(2, 14)] + [3, 3])
    inflated = inflate_temporal_embedding(table, 16, time_axis=0)
    torch.testing.assert_close(inflated, expected[:, None].repeat(1, 3))
    # the same along another axis (TimeSformer's (1, T, D), ViViM's (T, 1, D)), and 16 -> 16 is the identity
    torch.testing.assert_close(inflate_temporal_embedding(table[None], 16, time_axis=1)[0], inflated)
    torch.testing.assert_close(inflate_temporal_embedding(table[:, None], 16, time_axis=0)[:, 0], inflated)
    torch.testing.assert_close(inflate_temporal_embedding(inflated, 16, time_axis=0), inflated)


def test_four_frame_pretraining_converts_into_a_16_frame_config_inflated(capsys):
    checkpoint = release("clip_timesformer_vanilla_base_bs512_f4.pt", device="cpu")
    state = checkpoint["state_dict"]
    state["module.visual.temporal_embed"] = torch.arange(4.0)[None, :, None].repeat(1, 1, 768)
    cfg = Config(dict(model=dual(TIMESFORMER, num_frames=16)))
    converted = convert_checkpoint(checkpoint, cfg)
    assert "inflating visual.temporal_embed from 4 to 16 frames" in capsys.readouterr().out
    torch.testing.assert_close(converted["visual.temporal_embed"][0, :, 0],
                               torch.tensor([0, 0] + [j / 4 - 0.375 for j in range(2, 14)] + [3, 3]))
    with torch.device("meta"):
        model = MODELS.build(cfg.model)
    assert state_dict_mismatches(converted, model) == []


@pytest.mark.parametrize("name, visual", [("clip_timesformer_vanilla_base_bs512_f4.pt", TIMESFORMER),
                                          ("clip_timemamba_vanilla_base_bs512_f4.pt", TIMEMAMBA)])
def test_a_dual_encoder_starts_a_classifier(name, visual, capsys):
    """Upstream's EK100 fine-tuning start: the pre-trained visual tower (4 -> 16 frames), a fresh fc_cls."""
    converted, model = convert_on_meta(release(name), classifier(visual, num_frames=16))
    model.load_state_dict(converted, strict=True, assign=True)
    out = capsys.readouterr().out
    assert "dual encoder -> classifier" in out and "fc_cls from the config (fresh)" in out
    assert ("inflating visual.temporal_embed from 4 to 16 frames" in out) == (visual is TIMESFORMER)
    assert not any(k.startswith("textual.") or k == "visual.image_projection" for k in converted)
