"""ActionFormer / ActionMamba model pieces: label assignment, losses, soft-NMS, attention, padding."""
import math

import numpy as np
import pytest
import torch

from actionmamba.models.backbones import local_attention
from actionmamba.models.heads import ClassificationHead, make_points
from actionmamba.models.localizer import ActionLocalizer, assign_targets
from actionmamba.models.losses import diou_loss_1d, sigmoid_focal_loss
from actionmamba.models.nms import batched_nms, segment_voting, soft_nms
from actionmamba.optim import ConvLinearDecayConstructor


def test_label_assignment_on_crafted_video():
    # two levels: 16 points at stride 1 (range 0-4), 8 points at stride 2 (range 4+); centre radius 1.5
    points = torch.cat(make_points([16, 8], [1, 2], [(0, 4), (4, 10000)]))
    segments = torch.tensor([[2.0, 6.0], [4.0, 14.0], [4.0, 14.0], [3.0, 5.0]])
    labels = torch.tensor([0, 1, 2, 1])
    cls, reg = assign_targets(points, segments, labels, num_classes=3, center_radius=1.5)
    expected_cls = torch.zeros(24, 3)
    expected_reg = {}
    # level 0: [2, 6] owns t = 3, 5 (centre window [2.5, 5.5]); t = 4 also sees [3, 5], shorter, which wins
    expected_cls[3, 0] = expected_cls[5, 0] = expected_cls[4, 1] = 1
    expected_reg.update({3: (1, 3), 4: (1, 1), 5: (3, 1)})
    # level 1: [4, 14] twice (labels 1, 2: equal length -> multi-hot) at t = 8, 10; reach 6 is in 4+
    expected_cls[16 + 4, 1:] = expected_cls[16 + 5, 1:] = 1
    expected_reg.update({16 + 4: (2, 3), 16 + 5: (3, 2)})  # (t - s, e - t) / stride 2
    assert torch.equal(cls, expected_cls)
    for idx, offsets in expected_reg.items():
        assert reg[idx].tolist() == list(offsets)


def test_label_assignment_without_segments():
    points = torch.cat(make_points([8], [1], [(0, 1e4)]))
    cls, reg = assign_targets(points, torch.zeros(0, 2), torch.zeros(0, dtype=torch.long), 4, 1.5)
    assert cls.shape == (8, 4) and not cls.any() and reg.shape == (8, 2)


def test_focal_and_diou_losses_hand_values():
    ln2 = math.log(2)
    # logit 0: p = 0.5; positive: ln2 * 0.5^2 * 0.25, negative: ln2 * 0.5^2 * 0.75
    assert sigmoid_focal_loss(torch.zeros(2), torch.tensor([1.0, 0.0])).item() == pytest.approx(ln2 * 0.25)
    # pred (1, 3) vs target (2, 2): inter 3, union 5, enclosing 5, centre distance 1 -> 1 - 0.6 + 0.04
    assert diou_loss_1d(torch.tensor([[1.0, 3.0]]), torch.tensor([[2.0, 2.0]])).item() == pytest.approx(0.44)
    assert diou_loss_1d(torch.tensor([[2.0, 2.0]]), torch.tensor([[2.0, 2.0]])).item() == pytest.approx(0.0)


def test_soft_nms_hand_values():
    segs = np.array([[0, 10], [0, 10], [20, 30], [5, 15]], dtype=np.float64)
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    keep, new = soft_nms(segs, scores, sigma=0.5, min_score=1e-3)
    # pick 0; [0,10] decays by exp(-1/0.5); [5,15] has tIoU 1/3 -> exp(-(1/9)/0.5); [20,30] untouched.
    # then [20,30]; then [5,15] (0.6 * 0.8007 = 0.480 > 0.8 * 0.1353 = 0.108), which decays [0,10] again
    w_dup, w_third = math.exp(-2.0), math.exp(-(1 / 9) / 0.5)
    assert keep.tolist() == [0, 2, 3, 1]
    assert new == pytest.approx([0.9, 0.7, 0.6 * w_third, 0.8 * w_dup * w_third], rel=1e-5)
    # min_score drops the duplicate, max_num stops early
    assert soft_nms(segs, scores, 0.5, min_score=0.2)[0].tolist() == [0, 2, 3]
    assert soft_nms(segs, scores, 0.5, max_num=2)[0].tolist() == [0, 2]


def test_batched_nms_per_class_and_voting():
    segs = torch.tensor([[0.0, 10.0], [0.0, 10.0], [1.0, 10.0]])
    scores = torch.tensor([0.9, 0.8, 0.6])
    labels = torch.tensor([0, 1, 0])
    out_segs, out_scores, out_labels = batched_nms(segs, scores, labels, sigma=0.5, max_seg_num=200)
    # different classes never suppress each other: class 1 keeps 0.8
    assert out_labels.tolist() == [0, 1, 0]
    assert out_scores.tolist() == pytest.approx([0.9, 0.8, 0.6 * math.exp(-0.81 / 0.5)], rel=1e-5)
    assert len(batched_nms(segs, scores, labels, max_seg_num=2)[0]) == 2
    # voting: [0, 10] is refined with [1, 10] (tIoU 0.9 >= 0.85) weighted by score (the suite) or by
    # score * tIoU (ActionFormer's release)
    kept, candidates, cand_scores = np.array([[0.0, 10.0]]), np.array([[0.0, 10.0], [1.0, 10.0]]), np.array([0.9, 0.6])
    assert segment_voting(kept, candidates, cand_scores, 0.85)[0].tolist() == pytest.approx([0.6 / 1.5, 10.0])
    voted = segment_voting(kept, candidates, cand_scores, 0.85, iou_weighted=True)
    assert voted[0].tolist() == pytest.approx([0.54 / 1.44, 10.0])
    agnostic = batched_nms(segs, scores, labels, multiclass=False, voting_thresh=0.85)[0]
    assert agnostic[0].tolist() == pytest.approx([0.6 / (0.9 + 0.8 + 0.6), 10.0], rel=1e-5)
    agnostic = batched_nms(segs, scores, labels, multiclass=False, voting_thresh=0.85, voting_iou_weighted=True)[0]
    assert agnostic[0].tolist() == pytest.approx([(0.8 * 0 + 0.6 * 0.9) / (0.9 + 0.8 + 0.54), 10.0], rel=1e-5)


@pytest.mark.parametrize("window", [None, 3, 5])
def test_local_attention_matches_brute_force(window):
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 2, 2, 9, 4).unbind(0)
    kv_mask = torch.tensor([[True] * 9, [True] * 6 + [False] * 3])
    out = local_attention(q, k, v, kv_mask, window)
    t = torch.arange(9)
    allowed = kv_mask[:, None, None, :] & ((t[:, None] - t[None, :]).abs() <= (window or 99) // 2)
    scores = (q @ k.transpose(-1, -2) / 2.0).masked_fill(~allowed, float("-inf"))
    expected = torch.nan_to_num(scores.softmax(-1)) @ v
    torch.testing.assert_close(out, expected)


def tiny_model(backbone_type, neck="IdentityNeck", **block):
    torch.manual_seed(0)
    backbone = dict(type=backbone_type, in_channels=6, embed_dim=16, arch=(2, 1, 2), block=block)
    return ActionLocalizer(backbone, num_classes=3, max_seq_len=64, neck=dict(type=neck), fpn_dim=16, head_dim=16,
                           regression_range=[(0, 4), (4, 8), (8, 10000)]).eval()


@pytest.mark.parametrize("backbone, neck, block", [
    ("ConvTransformerBackbone", "IdentityNeck", dict(n_head=2, window_size=5)),
    ("ConvTransformerBackbone", "FPNNeck", dict(n_head=2, window_size=None)),
    ("MambaBackbone", "IdentityNeck", dict(mixer="dbm")),
    ("MambaBackbone", "IdentityNeck", dict(mixer="vim")),
])
def test_outputs_do_not_depend_on_padding(backbone, neck, block):
    model = tiny_model(backbone, neck, **block)
    short, long = torch.randn(6, 20), torch.randn(6, 57)
    alone_cls, alone_reg = model([short], mode="tensor")
    batch_cls, batch_reg = model([short, long], mode="tensor")
    for level, (a_cls, a_reg, b_cls, b_reg) in enumerate(zip(alone_cls, alone_reg, batch_cls, batch_reg)):
        n = -(-20 // 2 ** level)  # valid steps of the short video at this level
        torch.testing.assert_close(a_cls[0, :, :n], b_cls[0, :, :n], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(a_reg[0, :, :n], b_reg[0, :, :n], atol=1e-5, rtol=1e-4)

def test_empty_classes_start_silent():
    head = ClassificationHead(8, 8, num_classes=3, prior_prob=0.01, empty_classes=[1])
    assert head.cls.conv.bias.tolist() == pytest.approx([-math.log(99), -math.log((1 - 1e-6) / 1e-6), -math.log(99)])


def test_predict_returns_sorted_segments_in_seconds():
    model = tiny_model("ConvTransformerBackbone", n_head=2, window_size=5)
    model.test_cfg.update(max_seg_num=7)
    sample = dict(video_id="v", fps=30.0, feat_stride=4.0, num_frames=16.0, duration=5.0)
    (out,) = model([torch.randn(6, 30)], [sample], mode="predict")
    assert out["video_id"] == "v" and 0 < len(out["scores"]) <= 7
    assert (out["segments"] >= 0).all() and (out["segments"] <= 5.0).all()
    assert (out["segments"][:, 1] >= out["segments"][:, 0]).all()
    assert torch.equal(out["scores"], out["scores"].sort(descending=True).values)


def test_weight_decay_only_on_conv_and_linear_weights():
    model = tiny_model("MambaBackbone", mixer="dbm")
    wrapper = ConvLinearDecayConstructor(dict(type="OptimWrapper", optimizer=dict(type="AdamW", lr=1e-3,
                                                                                   weight_decay=0.05)))(model)
    decay, no_decay = wrapper.optimizer.param_groups
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = sorted(names[id(p)] for p in decay["params"])
    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
    assert all(n.endswith("weight") and "norm" not in n for n in decayed)
    assert "backbone.stem.0.mamba.in_proj.weight" in decayed and "cls_head.cls.conv.weight" in decayed
    undecayed = {names[id(p)] for p in no_decay["params"]}
    assert {"backbone.stem.0.mamba.A_log", "backbone.stem.0.drop_path.scale", "reg_head.scales.0.scale"} <= undecayed
    assert len(decayed) + len(undecayed) == len(names)
