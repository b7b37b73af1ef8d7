"""Ground-truth proposals as decoder queries (the suite's paragraph-captioning set-up, *_pdvc_gt): the query
construction against hand-derived values, padding, the caption-only loss, and a short toy run whose
evaluation captions the validation file's own events and keeps the best checkpoint by `pc`."""
import json
import math
import os

import pytest
import torch
from torch import nn

from common.engine import build_runner, load_config
from common.engine import runner as engine_runner
from pdvc_mamba import metrics as M
from pdvc_mamba.datasets import load_captions
from pdvc_mamba.models import PDVC
from pdvc_mamba.models.transformer import DeformableTransformer, inverse_sigmoid, proposal_pos_embed
from pdvc_mamba.toy import make_toy_data

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GT = dict(transformer_input_type="gt_proposals", matcher=dict(cost_class=0, cost_bbox=1e-5, cost_giou=4),
          loss_weights=dict(ce=0, bbox=0, giou=0, counter=0, caption=2))


def test_inverse_sigmoid_clamps_at_eps():
    x = torch.tensor([0.25, 0.5, 0.0, 1.0, 1.2])
    expected = [-math.log(3), 0.0, math.log(1e-5), -math.log(1e-5), -math.log(1e-5)]
    assert inverse_sigmoid(x).tolist() == pytest.approx(expected, rel=1e-6)


def test_proposal_sine_embedding_by_hand():
    """4 features per coordinate: t = 10000^(2 (k // 2) / 4) = 1, 1, 100, 100; x = box * 2 pi."""
    boxes = torch.tensor([[[0.5, 0.25]]])
    pos = proposal_pos_embed(inverse_sigmoid(boxes), 4)
    c, l = math.pi, math.pi / 2
    expected = [math.sin(c), math.cos(c), math.sin(c / 100), math.cos(c / 100),
                math.sin(l), math.cos(l), math.sin(l / 100), math.cos(l / 100)]
    assert pos.shape == (1, 1, 8)
    assert pos[0, 0].tolist() == pytest.approx(expected, abs=1e-6)
    # a zero (padding) box is embedded at sigmoid(log 1e-5) * 2 pi, as upstream's inverse_sigmoid -> sigmoid
    x = 1e-5 / (1 + 1e-5) * 2 * math.pi
    zero = proposal_pos_embed(inverse_sigmoid(torch.zeros(1, 1, 2)), 4)[0, 0]
    assert zero.tolist() == pytest.approx([math.sin(x), math.cos(x), math.sin(x / 100), math.cos(x / 100)] * 2,
                                          abs=1e-7)


def test_proposal_queries_are_the_two_halves_of_pos_trans_and_the_boxes_are_the_reference():
    transformer = DeformableTransformer(d_model=8, nhead=2, proposal_queries=True)
    with torch.no_grad():  # pos_trans = [I; 2 I], LayerNorm without scale or shift
        transformer.pos_trans.weight.copy_(torch.cat([torch.eye(8), 2 * torch.eye(8)]))
        transformer.pos_trans.bias.zero_()
    boxes = torch.tensor([[[0.5, 0.25], [0.2, 0.1]]])
    query_pos, tgt, reference = transformer.proposal_queries(boxes)
    e = proposal_pos_embed(inverse_sigmoid(boxes), 4)
    both = torch.cat([e, 2 * e], -1)
    normed = (both - both.mean(-1, keepdim=True)) / torch.sqrt(both.var(-1, unbiased=False, keepdim=True) + 1e-5)
    torch.testing.assert_close(query_pos, normed[..., :8])
    torch.testing.assert_close(tgt, normed[..., 8:])
    assert reference is boxes
    # learnt-query transformers hold no pos_trans: their state-dict layout is PDVC's without it
    assert not any("pos_trans" in k for k in DeformableTransformer(d_model=8, nhead=2).state_dict())


def tiny_gt(**kw):
    torch.manual_seed(0)
    cap = dict(type="LSTMDSACaptioner", rnn_size=32, input_encoding_size=16, max_caption_len=6, att_hid_size=16)
    return PDVC(feature_dim=20, vocab_size=11, captioner=cap, hidden_dim=32, num_queries=5, max_eseq_length=4,
                transformer=dict(nhead=4, dim_feedforward=32), **dict(GT, **kw))


def sample(vid, stamps, duration, captions):
    boxes = torch.tensor([[(s + e) / (2 * duration), (e - s) / duration] for s, e in stamps])
    width = max(len(c) for c in captions)
    return dict(video_id=vid, duration=duration, num_frames=16, boxes=boxes, labels=torch.zeros(len(stamps)).long(),
                captions=torch.tensor([c + [0] * (width - len(c)) for c in captions]),
                caption_lengths=torch.tensor([len(c) for c in captions]))


A = sample("v_a", [[0.0, 5.0], [4.0, 12.0], [12.0, 20.0]], 20.0, [[0, 4, 5, 0], [0, 6, 0], [0, 7, 8, 9, 0]])
B = sample("v_b", [[3.0, 27.0]], 30.0, [[0, 9, 0]])


def test_every_decoder_layer_reads_the_boxes_and_padding_stays_out():
    model = tiny_gt().eval()
    feats = torch.randn(2, 16, 20)
    out = model.run(feats, [A, B])
    assert out["query_mask"].tolist() == [[True] * 3, [True, False, False]]
    padded_b = torch.cat([B["boxes"], torch.zeros(2, 2)])
    for layer in range(2):  # no refinement: the references and the boxes are the ground truth's
        torch.testing.assert_close(out["references"][layer], torch.stack([A["boxes"], padded_b]))
        torch.testing.assert_close(out["boxes"][layer], out["references"][layer])
    alone = model.run(feats[1:], [B])  # the padded queries change nothing for the real one
    torch.testing.assert_close(out["hidden"][-1][1, :1], alone["hidden"][-1][0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out["counts"][-1][1], alone["counts"][-1][0], rtol=1e-5, atol=1e-5)

    preds = model.predict(out, [A, B])
    assert [len(p["scores"]) for p in preds] == [3, 1]  # each video's own events, and only those
    assert sorted(preds[0]["query_ids"].tolist()) == [0, 1, 2] and preds[1]["query_ids"].tolist() == [0]
    order = preds[0]["query_ids"]
    torch.testing.assert_close(preds[0]["timestamps"], torch.tensor([[0.0, 5.0], [4.0, 12.0], [12.0, 20.0]])[order])
    torch.testing.assert_close(preds[1]["timestamps"], torch.tensor([[3.0, 27.0]]))


def test_the_loss_trains_the_captions_only():
    model = tiny_gt()
    indices = model.matcher(torch.zeros(2, 3, 1), model.proposals([A, B], "cpu")[0],
                            [dict(boxes=s["boxes"], labels=s["labels"]) for s in (A, B)],
                            model.proposals([A, B], "cpu")[1])
    assert [(q.tolist(), e.tolist()) for q, e in indices] == [([0, 1, 2], [0, 1, 2]), ([0], [0])]
    losses = model(torch.randn(2, 16, 20), [A, B], mode="loss")
    assert {k for k, v in losses.items() if v != 0} == {"loss_caption", "loss_caption_0"}
    assert "loss_bbox" not in losses
    sum(losses.values()).backward()
    params = dict(model.named_parameters())
    assert params["transformer.pos_trans.weight"].grad.abs().sum() > 0
    # the class and counter heads take part with weight 0 (zero gradients: weight decay still reaches them, as
    # upstream); the learnt queries and the box heads take no part
    assert params["class_head.1.weight"].grad.abs().sum() == 0
    assert all(params[k].grad is None for k in ("query_embed.weight", "transformer.reference_points.weight",
                                                "bbox_head.1.layers.2.weight"))


def test_a_class_or_box_loss_is_refused():
    with pytest.raises(ValueError, match=r"loss_weights \['ce', 'giou'\] must be 0"):
        tiny_gt(loss_weights=dict(ce=2, bbox=0, giou=4, counter=0, caption=2))
    tiny_gt(loss_weights=dict(ce=0, bbox=0, giou=0, counter=0.5, caption=2))  # upstream may train the counter
    with pytest.raises(ValueError, match="transformer_input_type"):
        tiny_gt(transformer_input_type="learnt_proposals")


def test_flop_counts_see_num_queries_boxes_tiling_the_video():
    model = tiny_gt().eval()
    logits, boxes, count, seq, _ = model(torch.randn(1, 16, 20), mode="tensor")
    assert logits.shape == (1, 5, 1) and seq.shape == (1, 5, 6)
    torch.testing.assert_close(boxes[0], torch.tensor([[0.1, 0.2], [0.3, 0.2], [0.5, 0.2], [0.7, 0.2], [0.9, 0.2]]))


# ---------------------------------------------------------------------------------------------------------
# a short engine run of the toy config

EPOCHS = 5


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy_pdvc_gt")
    make_toy_data(str(root), seed=2, n_train=48, n_val=8)
    return root


@pytest.mark.usefixtures("one_thread")
def test_toy_run_captions_the_validation_events_and_tests_the_best_pc_epoch(toy_root, tmp_path, capsys):
    data = dict(vocab_file=str(toy_root / "vocabulary_activitynet.json"),
                feature_folders=[str(toy_root / "features" / "c3d")])
    caption = str(toy_root / "captiondata" / "{}.json")
    para = str(toy_root / "captiondata" / "para" / "anet_entities_{}_para.json")
    evaluator = dict(references=[caption.format("val_1"), caption.format("val_2")],
                     para_references=[para.format("val_1"), para.format("val_2")])
    cfg = load_config(os.path.join(REPO, "pdvc_mamba/configs/toy/pdvc_gt.py"), {
        "train_dataloader.dataset": dict(data, caption_file=caption.format("train_modified")),
        "val_dataloader.dataset": dict(data, caption_file=caption.format("val_1")),
        "test_dataloader.dataset": dict(data, caption_file=caption.format("val_1")),
        "val_evaluator": evaluator, "test_evaluator": evaluator, "train_dataloader.batch_size": 4,
        "train_cfg.max_epochs": EPOCHS, "train_cfg.val_interval": 1, "default_hooks.checkpoint.interval": 1,
        "param_scheduler": [dict(type="CosineAnnealingLR", T_max=EPOCHS, eta_min=1e-5, by_epoch=True)],
        "visualizer.vis_backends": [dict(type="LocalVisBackend")],
    })
    cfg.work_dir, cfg.log_level = str(tmp_path), "WARNING"
    torch.manual_seed(0)
    runner = build_runner(cfg)
    runner.train()

    (log_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    steps = [json.loads(line) for line in (log_dir / "vis_data" / "scalars.json").read_text().splitlines()]
    trained = [s for s in steps if "loss" in s]
    assert trained and all(s[k] == 0 for s in trained for k in s if k.startswith(("loss_ce", "loss_counter",
                                                                                  "loss_giou", "loss_bbox")))
    assert all(s["loss"] == pytest.approx(s["loss_caption"] + s["loss_caption_0"], rel=1e-5) for s in trained)
    assert all(s["loss_caption"] > 0 for s in trained)

    # validation captions val_1's own events, every one of them, without joint ranking
    raw = json.loads((tmp_path / "results.json").read_text())
    assert raw["rerank"] is None
    references = load_captions(caption.format("val_1"))
    for vid, entries in raw["results"].items():
        events = sorted([max(s, 0), min(e, references[vid]["duration"])] for s, e in references[vid]["timestamps"])
        torch.testing.assert_close(torch.tensor(sorted(e["timestamp"] for e in entries)),
                                   torch.tensor(events, dtype=torch.float32), rtol=0, atol=1e-4)
    assert set(raw["results"]) == set(references)

    # pc and dvc are the metric's keys; the best pc epoch is kept, and train.sh's test takes it
    validated = [s for s in steps if "pc" in s]
    assert len(validated) == EPOCHS
    for s in validated:
        assert s["pc"] == pytest.approx(s["para_METEOR"] + s["para_CIDEr"] + s["para_Bleu_4"], rel=1e-12)
        assert s["dvc"] == pytest.approx(s["METEOR"] + s["soda_c"], rel=1e-12)
    best = max(range(EPOCHS), key=lambda i: (validated[i]["pc"], -i)) + 1
    assert sorted(p.name for p in tmp_path.glob("best_*")) == [f"best_pc_epoch_{best}.pth"]
    path, which = engine_runner.checkpoint_to_test(cfg, runner)
    assert path == str(tmp_path / f"best_pc_epoch_{best}.pth")
    assert which == f"the best checkpoint by pc ({max(s['pc'] for s in validated):.4f})"
    tested = engine_runner.test_final_checkpoint(cfg, runner)
    assert "testing the best checkpoint by pc" in capsys.readouterr().out
    assert tested["pc"] == pytest.approx(validated[best - 1]["pc"], rel=1e-9)
    assert json.loads((tmp_path / "test_metrics.json").read_text())["checkpoint"] == path


def test_selection_criteria_sum_the_suites_keys():
    scores = dict(METEOR=0.1, soda_c=0.05, para_METEOR=0.2, para_CIDEr=0.3, para_Bleu_4=0.04)
    assert M.selection_criteria(scores) == dict(dvc=0.1 + 0.05, pc=0.2 + 0.3 + 0.04)
    assert M.selection_criteria(dict(METEOR=0.1, soda_c=0.05)) == dict(dvc=0.1 + 0.05)
