"""PDVC's pieces against hand-worked values (matcher costs, losses, embeddings, refinement, greedy decoding)
and the model as a whole: outputs, and the Mamba variants' encoder swap."""
import math

import pytest
import torch

from pdvc_mamba.models import PDVC, LightCaptioner
from pdvc_mamba.models.captioners import caption_nll
from pdvc_mamba.models.losses import COUNTER_CLASS_RATE, class_loss, counter_loss, sigmoid_focal_loss
from pdvc_mamba.models.matcher import HungarianMatcher, generalized_box_iou
from pdvc_mamba.models.transformer import BaseEncoder, MambaEncoderLayer, PositionEmbeddingSine

torch.manual_seed(0)


def focal_cost(p, alpha=0.25, gamma=2):
    return alpha * (1 - p) ** gamma * -math.log(p + 1e-8) - (1 - alpha) * p ** gamma * -math.log(1 - p + 1e-8)


def test_giou_by_hand():
    a = torch.tensor([[0.2, 0.4]])
    b = torch.tensor([[0.1, 0.4], [0.55, 0.85]])
    # [0.2, 0.4] vs [0.1, 0.4]: IoU 0.2 / 0.3, hull 0.3 = union; vs [0.55, 0.85]: IoU 0, hull 0.65, union 0.5
    expected = [0.2 / (0.3 + 1e-5), -(0.65 - 0.5) / (0.65 + 1e-5)]
    assert generalized_box_iou(a, b)[0].tolist() == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="end >= start"):
        generalized_box_iou(torch.tensor([[0.5, 0.4]]), b)


def test_matcher_costs_and_assignment_by_hand():
    """Two queries, two events: cost = 2 * focal class cost - 4 * GIoU (+ 0 * L1), PDVC's weights."""
    logits = torch.tensor([[[0.0], [2.0]]])
    boxes = torch.tensor([[[0.3, 0.2], [0.7, 0.2]]])  # [0.2, 0.4] and [0.6, 0.8]
    events = torch.tensor([[0.7, 0.3], [0.25, 0.3]])  # [0.55, 0.85] and [0.1, 0.4]
    giou = [[-(0.65 - 0.5) / (0.65 + 1e-5), 0.2 / (0.3 + 1e-5)],
            [0.2 / (0.3 + 1e-5), -(0.7 - 0.5) / (0.7 + 1e-5)]]
    cls = [focal_cost(0.5), focal_cost(1 / (1 + math.exp(-2)))]
    expected = [[2 * cls[q] - 4 * giou[q][e] for e in range(2)] for q in range(2)]
    matcher = HungarianMatcher(cost_class=2, cost_bbox=0, cost_giou=4)
    targets = [dict(boxes=events, labels=torch.zeros(2, dtype=torch.long))]
    cost = matcher.cost_matrices(logits, boxes, targets)[0]
    assert cost.flatten().tolist() == pytest.approx([c for row in expected for c in row], rel=1e-5)
    (queries, matched), = matcher(logits, boxes, targets)
    assert queries.tolist() == [0, 1] and matched.tolist() == [1, 0]  # each query to the event it overlaps
    # with more events than queries every query is used once, the cheapest events win
    three = dict(boxes=torch.cat([events, torch.tensor([[0.3, 0.21]])]), labels=torch.zeros(3, dtype=torch.long))
    (queries, matched), = matcher(logits, boxes, [three])
    assert queries.tolist() == [0, 1] and matched.tolist() == [2, 0]


def test_focal_class_loss_by_hand():
    logits = torch.zeros(1, 2, 1)  # p = 0.5 everywhere
    targets = [dict(labels=torch.tensor([0]), boxes=torch.zeros(1, 2))]
    indices = [(torch.tensor([1]), torch.tensor([0]))]
    # positive: 0.25 * 0.5^2 * ln 2; negative: 0.75 * 0.5^2 * ln 2; mean over 2 queries, / 1 box, x 2 queries
    expected = (0.25 * 0.25 + 0.75 * 0.25) * math.log(2) / 2 * 2
    assert class_loss(logits, targets, indices, 1.0, 0.25, 2.0).item() == pytest.approx(expected)
    one = torch.tensor([[[3.0]]])
    p = 1 / (1 + math.exp(-3))
    assert sigmoid_focal_loss(one, torch.ones_like(one), 2.0).item() == pytest.approx(
        0.25 * (1 - p) ** 2 * -math.log(p) / 2)


def test_counter_loss_by_hand():
    logits = torch.zeros(1, 3)  # counts 0..2, the video has 1 event
    near = math.exp(-1 / 8)  # Gaussian (sigma 2) at distance 1
    weights = [1 - COUNTER_CLASS_RATE[k] for k in range(3)]
    coef = [1 - near, 1.0, 1 - near]
    expected = sum(math.log(2) * w * c for w, c in zip(weights, coef)) / 3
    targets = [dict(boxes=torch.zeros(1, 2))]
    assert counter_loss(logits, targets).item() == pytest.approx(expected)
    five = [dict(boxes=torch.zeros(5, 2))]  # more events than the counter holds: the last class
    plain = sum(math.log(2) * w for w in weights) / 3
    assert counter_loss(logits, five, gaussian_mask=False).item() == pytest.approx(plain)


def test_caption_nll_counts_words_and_eos():
    vocab = 6
    logprobs = torch.full((2, 4, vocab), -math.log(vocab))
    logprobs[0, 0, 3] = -0.5  # the first word of caption 0
    seq = torch.tensor([[0, 3, 4, 0, 0], [0, 5, 0, 0, 0]])
    nll = caption_nll(logprobs, seq, torch.tensor([4, 3]))
    assert nll.tolist() == pytest.approx([(0.5 + 2 * math.log(vocab)) / 3, math.log(vocab)], rel=1e-5)


def test_position_embedding_sine_and_duration_thermometer():
    embed = PositionEmbeddingSine(d_model=8, max_duration=4)
    with torch.no_grad():
        embed.duration_embed_layer.weight.copy_(torch.eye(4))
        embed.duration_embed_layer.bias.zero_()
    padding = torch.tensor([[False, False, True]])
    pos = embed(padding, torch.tensor([2.7]))
    assert pos.shape == (1, 8, 3)
    assert pos[0, 4:, 0].tolist() == [1, 1, 0, 0]  # int(2.7) = 2 seconds
    x = [(1 - 0.5) / (2 + 1e-6) * 2 * math.pi, (2 - 0.5) / (2 + 1e-6) * 2 * math.pi]
    assert pos[0, 0, :2].tolist() == pytest.approx([math.sin(v) for v in x], rel=1e-5)
    assert pos[0, 3, :2].tolist() == pytest.approx([math.cos(v / 100) for v in x], rel=1e-5)  # 10000^(2/4)


def test_pyramid_levels_halve_with_ceil():
    srcs, masks, pos = BaseEncoder(4, 500, 64)(torch.randn(1, 100, 500), torch.zeros(1, 100, dtype=torch.bool),
                                               torch.tensor([30.0]))
    assert [s.shape[-1] for s in srcs] == [100, 50, 25, 13] and pos[3].shape == (1, 64, 13)


def tiny_pdvc(encoder_mixer=None, captioner="LightCaptioner"):
    torch.manual_seed(0)
    cap = dict(type=captioner, rnn_size=32, input_encoding_size=16, max_caption_len=6)
    if captioner == "LSTMDSACaptioner":
        cap.update(att_hid_size=16)
    return PDVC(feature_dim=500, vocab_size=11, captioner=cap, hidden_dim=32, num_queries=5, max_eseq_length=4,
                transformer=dict(nhead=4, dim_feedforward=32, encoder_mixer=encoder_mixer))


def samples(n=2):
    return [dict(video_id=f"v{i}", duration=20.0 + i, num_frames=16, boxes=torch.tensor([[0.3, 0.2], [0.7, 0.3]]),
                 labels=torch.zeros(2, dtype=torch.long), captions=torch.tensor([[0, 4, 5, 0], [0, 6, 0, 0]]),
                 caption_lengths=torch.tensor([4, 3])) for i in range(n)]


def test_refinement_starts_from_the_learnt_point():
    """At init the box heads output 0 (the first one's length bias -2): layer 0 keeps the reference point as
    centre with length sigmoid(-2); layer 1 refines the box it receives, so it stays."""
    model = tiny_pdvc().eval()
    out = model.run(torch.randn(1, 16, 500), samples(1))
    reference = out["references"][0]
    assert reference.shape[-1] == 1 and out["references"][1].shape[-1] == 2
    torch.testing.assert_close(out["boxes"][0][..., 0], reference[..., 0])
    short = torch.full_like(reference[..., 0], torch.tensor(-2.0).sigmoid())
    torch.testing.assert_close(out["boxes"][0][..., 1], short)
    torch.testing.assert_close(out["boxes"][1], out["boxes"][0], rtol=1e-5, atol=1e-5)


def test_loss_has_every_layer_and_trains():
    model = tiny_pdvc(captioner="LSTMDSACaptioner")
    feats = torch.randn(2, 16, 500)
    losses = model(feats, samples(), mode="loss")
    assert set(losses) == {f"loss_{k}{s}" for k in ("ce", "counter", "giou", "caption") for s in ("", "_0")}
    sum(losses.values()).backward()
    grads = [p.grad for n, p in model.named_parameters() if "transformer.encoder" in n]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_predict_sorts_queries_and_scales_boxes():
    model = tiny_pdvc().eval()
    preds = model(torch.randn(2, 16, 500), samples(), mode="predict")
    first = preds[0]
    assert first["scores"].tolist() == sorted(first["scores"].tolist(), reverse=True)
    assert first["timestamps"].min() >= 0 and first["timestamps"].max() <= 20.0
    assert sorted(first["query_ids"].tolist()) == list(range(5)) and first["event_count"] >= 1
    words = first["words"]
    assert words.shape[0] == 5 and words.shape[1] <= 6
    logits, boxes, count, seq, _ = model(torch.randn(1, 16, 500), mode="tensor")
    assert logits.shape == (1, 5, 1) and boxes.shape == (1, 5, 2) and count.shape == (1, 5) and seq.shape == (1, 5, 6)


def test_greedy_decoding_stops_and_masks_after_eos():
    class Scripted(LightCaptioner):
        script = [[5, 6], [0, 8], [7, 9], [1, 0]]  # argmax per step and caption

        def prepare(self, queries, references, video, ctx):
            self.t = 0
            return None

        def step(self, it, state, context):
            out = torch.full((2, 12), -5.0)
            out[torch.arange(2), torch.tensor(self.script[self.t])] = 5.0
            self.t += 1
            return out, state

        def logprobs(self, output):
            return output

    captioner = Scripted(11, 4, rnn_size=4, input_encoding_size=4, max_caption_len=6).eval()
    seq, logprobs = captioner.sample(torch.zeros(2, 4), None, None, None)
    assert seq.tolist() == [[5, 0, 0], [6, 8, 9]] and logprobs.shape == (2, 3)


def test_mamba_variants_swap_only_the_encoder_self_attention():
    base = tiny_pdvc()
    for kind, expand in (("dbm", 1), ("vim", 2)):
        model = tiny_pdvc(dict(kind=kind, expand=expand, d_conv=4))
        layer = model.transformer.encoder.layers[0]
        assert isinstance(layer, MambaEncoderLayer) and layer.self_attn.d_inner == 32 * expand
        ours = {k: v.shape for k, v in model.state_dict().items() if ".encoder." not in k}
        assert ours == {k: v.shape for k, v in base.state_dict().items() if ".encoder." not in k}
        names = [k for k in model.state_dict() if k.startswith("transformer.encoder.layers.0.")]
        assert "transformer.encoder.layers.0.self_attn.A_log" in names
        assert {k.split("layers.0.")[1] for k in names if "self_attn" not in k} == {
            "norm1.weight", "norm1.bias", "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
            "norm2.weight", "norm2.bias"}
        # the suite's init loop (xavier on every matrix) reaches the mixer's A_log too
        s4d = torch.log(torch.arange(1, 17, dtype=torch.float32)).repeat(layer.self_attn.d_inner, 1)
        assert not torch.allclose(layer.self_attn.A_log, s4d)


def test_mamba_layer_scans_each_videos_valid_tokens_only():
    torch.manual_seed(0)
    layer = MambaEncoderLayer(16, 16, 0.0, dict(kind="dbm", expand=1, d_conv=4)).eval()
    x = torch.randn(2, 7, 16)
    padding = torch.tensor([[False, False, True, False, True, False, False], [False] * 7])
    mixed = layer.mix(x, padding)
    valid = x[0][~padding[0]][None]
    torch.testing.assert_close(mixed[0][~padding[0]], layer.self_attn(valid)[0], rtol=1e-5, atol=1e-5)
    assert mixed[0][padding[0]].abs().max() == 0
    torch.testing.assert_close(mixed[1], layer.self_attn(x[1:])[0], rtol=1e-5, atol=1e-5)
