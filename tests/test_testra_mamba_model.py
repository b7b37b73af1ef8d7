"""TeSTra and the Mamba variants: upstream's long-memory layout and mask, O(1) ESA streaming == window recompute,
Mamba stream == one pass, the suite's Mamba decoder, the losses, upstream checkpoint keys."""
import bisect
import json
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from common.blocks import AddNormBlock, RMSNorm
from testra_mamba.convert import convert_checkpoint
from testra_mamba.models import MambaStreamAnticipator, TeSTra
from testra_mamba.models.esa import ESAWindow, log_decay
from testra_mamba.models.losses import equalization_cross_entropy, multilabel_cross_entropy

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "testra_mamba_upstream_keys.json")
ACTIONS = ((0, 0), (1, 0), (1, 1), (2, 0), (2, 1))  # 5 actions, 3 verbs, 2 nouns
DIMS = (6, 4)


@pytest.fixture(scope="module")
def annotations(tmp_path_factory):
    root = tmp_path_factory.mktemp("ann")
    (root / "actions.csv").write_text("id,verb,noun,action\n" + "".join(
        f"{a},{v},{n},x\n" for a, (v, n) in enumerate(ACTIONS)))
    (root / "training.csv").write_text("P01_01_0,P01_01,10,50,0,0,0\nP01_01_1,P01_01,60,90,2,1,4\n")
    return str(root)


def build_testra(annotations, decay=0.9, long_ticks=64, **kw):
    torch.manual_seed(0)
    long_memory = dict(ticks=long_ticks, stride=4, queries=(4, 3), layers=(1, 2), decay=decay) if long_ticks else None
    return TeSTra(annotations, input_dims=DIMS, d_model=16, num_heads=8, dim_feedforward=24,
                  long_memory=long_memory, **kw).eval()


def window(features, end, ticks):
    """The history a window ending at `end` reads: ticks [end - H, end), ticks < 0 read tick 0."""
    return features[torch.arange(end - ticks, end).clamp(min=0)][None], torch.tensor([end - ticks])


def upstream_eval_layout(work_start, long_ticks, stride):
    """TeSTra's test-time long memory: its uniform sampler and key padding mask (re-derived from upstream)."""
    start, end = work_start - long_ticks, work_start - 1
    if start < 0:
        start = (end + 1) % stride
    indices = np.arange(start, end + 1)[::stride]
    indices = np.sort(np.concatenate([np.zeros(long_ticks // stride - len(indices)), indices])).astype(int)
    masked = np.zeros(len(indices), bool)
    last_zero = bisect.bisect_right(indices.tolist(), 0) - 1
    if last_zero > 0:
        masked[:last_zero] = True
    return indices, masked


@pytest.mark.parametrize("end", [1, 7, 20, 21, 22, 23, 24, 40, 83, 84, 85, 86, 87, 88, 200])
def test_long_memory_layout_and_mask_match_upstream(annotations, end):
    model = build_testra(annotations)
    offsets = model.long_offsets(torch.device("cpu"))
    start = end - model.history_ticks
    ticks = (start + offsets).clamp(min=0).numpy()
    bias = model.long_bias(torch.tensor([start]), offsets)[0, 0, 0]
    if end >= 20:  # upstream's windows start at tick 0; earlier ends are ours (work memory padded with tick 0)
        indices, masked = upstream_eval_layout(end - 20, 64, 4)
        assert ticks.tolist() == indices.tolist()
        assert torch.isinf(bias).numpy().tolist() == masked.tolist()
    assert torch.isfinite(bias).sum() >= 1
    finite = torch.isfinite(bias)
    assert torch.allclose(bias[finite], log_decay(16, 0.9)[finite])


def test_training_layout_is_upstreams_linspace_sampler(annotations):
    model = build_testra(annotations).train()
    offsets = model.long_offsets(torch.device("cpu")).numpy()
    for work_start in (0, 5, 100, 1001):
        upstream = np.linspace(work_start - 64, work_start - 1, 16).astype(np.int32).clip(0)
        assert np.clip(work_start - 64 + offsets, 0, None).tolist() == upstream.tolist()


def test_esa_kernel_weights():
    assert torch.allclose(log_decay(4, 0.9).exp(), torch.tensor([0.9 ** 3, 0.9 ** 2, 0.9, 1.0]))
    assert torch.equal(log_decay(4, 1.0), torch.zeros(4))
    # streaming sums == softmax with the decay over a sliding window of 3
    torch.manual_seed(0)
    logits, values = torch.randn(6, 1, 2, 1) * 3, torch.randn(6, 1, 2, 5)
    win = ESAWindow(logits[0, :, :, 0:1].expand(1, 2, 1), values[0], 0.9, 3)
    for t in range(1, 6):
        win.push(logits[t, :, :, 0:1], values[t])
        if win.count > 3:
            win.pop(logits[t - 3, :, :, 0:1], values[t - 3])
        first = max(0, t - 2)
        w = torch.softmax(logits[first:t + 1, 0, :, 0].T + log_decay(t + 1 - first, 0.9), dim=-1)  # (heads, n)
        expected = torch.einsum("hn,nhd->hd", w, values[first:t + 1, 0])
        assert torch.allclose(win.read()[0, :, 0], expected, atol=1e-6)


@pytest.mark.parametrize("decay", [0.9, 1.0])
def test_streaming_equals_window_recompute(annotations, decay):
    model = build_testra(annotations, decay)
    torch.manual_seed(1)
    features = torch.randn(200, sum(DIMS)) * 2
    state, worst = model.stream_init(1), 0.0
    for tick in range(len(features)):
        state = model.stream_step(features[tick:tick + 1], state)
        streamed = model.stream_readout(state)
        hidden = model.forward_window(*window(features, tick + 1, model.history_ticks))
        recomputed = model.heads(hidden[:, model.num_work_rows:])
        worst = max(worst, max((streamed[k] - recomputed[k]).abs().max().item() for k in streamed))
    assert worst <= 1e-5
    ring = model.long["ticks"] + model.work_ticks + model.long["stride"]
    assert state.logits.shape[1] == ring and len(state.windows) == 4  # constant size
    assert all(w.count == 16 for w in state.windows)


def test_streaming_state_does_not_grow(annotations):
    model = build_testra(annotations)
    state = model.stream_init(1)
    sizes = []
    for tick in range(400):
        state = model.stream_step(torch.randn(1, sum(DIMS)), state)
        if tick in (99, 399):
            sizes.append(state.nbytes())
    assert sizes[0] == sizes[1]


def test_predict_video_scores_the_1s_query_of_each_window(annotations):
    model = build_testra(annotations)
    features = torch.randn(120, sum(DIMS))
    sample = dict(video="v", ends=np.array([50, 3, 110]), segment_ids=["a", "b", "c"], discarded=["d"],
                  track_ends=np.array([10]), track_labels=np.array([2]))
    out = model.predict_video(features, sample)
    for i, end in enumerate([50, 3, 110]):
        logits = model.heads(model.forward_window(*window(features, end, model.history_ticks))[:, 11])
        assert np.allclose(out["action"][i], F.softmax(logits["action"][0, 1:], -1).detach().numpy(), atol=1e-6)
        assert np.allclose(out["verb"][i], F.softmax(logits["verb"][0, 1:], -1).detach().numpy(), atol=1e-6)
    assert out["action"].shape == (3, 5) and out["noun"].shape == (3, 2) and out["track_action"].shape == (1, 5)
    assert out["segment_ids"] == ["a", "b", "c"] and out["discarded"] == ["d"]


def stream_model(annotations, layers=2):
    torch.manual_seed(0)
    return MambaStreamAnticipator(annotations, history_ticks=40, input_dims=DIMS, d_model=16,
                                  num_layers=layers).eval()


def one_pass(model, features):
    """[tokens of every tick ; queries] through the stack in one forward -> outputs (L + Q, D)."""
    x = torch.cat([model.tokens(features[None]), model.queries(1)], dim=1)
    residual = None
    for layer in model.layers:
        x, residual = layer(x, residual)
    return model.norm_f(x + residual)[0]


def test_mamba_stream_step_by_step_equals_one_pass(annotations):
    model = stream_model(annotations)
    torch.manual_seed(2)
    features = torch.randn(90, sum(DIMS))
    state, worst = model.stream_init(1), 0.0
    for tick in range(len(features)):
        state = model.stream_step(features[tick:tick + 1], state)
        if tick % 11 == 0 or tick == len(features) - 1:
            streamed = model.stream_readout(state)
            reference = model.heads(one_pass(model, features[:tick + 1])[tick + 1:])
            worst = max(worst, max((streamed[k][0] - reference[k]).abs().max().item() for k in streamed))
    assert worst <= 1e-5
    # per tick outputs: chunks of any size give the one-pass outputs
    tokens = model.tokens(features[None])
    full, _ = model.scan(tokens)
    parts, states = [], None
    for start in range(0, 90, 7):
        out, states = model.scan(tokens[:, start:start + 7], states)
        parts.append(out)
    assert (torch.cat(parts, 1) - full).abs().max() <= 1e-5
    assert state.nbytes() == sum(t.numel() * 4 for s in state.layers for t in (s.conv, s.ssm))


def test_mamba_stream_anticipate_reads_every_window_end(annotations):
    model = stream_model(annotations)
    features = torch.randn(60, sum(DIMS))
    ends = torch.tensor([30, 5, 60, 30, 1])
    hidden = model.anticipate(features, ends, group=2)
    for i, end in enumerate(ends.tolist()):
        reference = one_pass(model, features[:end])[end + model.eval_row - model.num_work_rows]
        assert (hidden[i] - reference).abs().max() <= 1e-5


def test_mamba_stream_training_rows(annotations):
    model = stream_model(annotations)
    history = torch.randn(2, 40, sum(DIMS))
    rows = model.forward_window(history, torch.zeros(2, dtype=torch.long))
    full = torch.stack([one_pass(model, h) for h in history])
    assert torch.allclose(rows, full[:, [20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 41]], atol=1e-6)


def test_suite_mamba_decoder_is_rmsnorm_mamba_residual_then_final_norm(annotations):
    for layers in (1, 2):
        model = build_testra(annotations, long_ticks=0, decoder=dict(type="mamba", num_layers=layers))
        decoder = model.mamba_decoder
        x = torch.randn(2, 12, 16)
        block = decoder.mamba_modules[0]
        h = block.mixer(block.norm(x))
        if layers == 1:
            expected = decoder.norm_f(x + h)
        else:  # upstream's loop: the second block starts its residual from the first block's output
            second = decoder.mamba_modules[1]
            expected = decoder.norm_f(h + second.mixer(second.norm(h)))
        assert torch.allclose(decoder(x), expected, atol=1e-6)
    conv = block.mixer.conv1d  # upstream's weights_init: conv weights and biases ~ N(0, 1)
    assert conv.weight.std() > 0.7 and conv.bias.std() > 0.5


def test_rmsnorm_and_add_norm_block():
    norm = RMSNorm(4, eps=1e-5)
    x = torch.tensor([[1.0, -2.0, 3.0, -4.0]])
    assert torch.allclose(norm(x), x / np.sqrt(7.5 + 1e-5))
    torch.manual_seed(0)
    block = AddNormBlock(8).eval()
    x, residual = torch.randn(2, 15, 8), torch.randn(2, 15, 8)
    hidden, res = block(x, residual)
    assert torch.allclose(res, x + residual) and torch.allclose(hidden, block.mixer(block.norm(x + residual)))
    parts, state = [], None
    for start in range(0, 15, 4):
        h, _, state = block.stream(x[:, start:start + 4], state, residual[:, start:start + 4])
        parts.append(h)
    assert (torch.cat(parts, 1) - hidden).abs().max() <= 1e-6


def test_multilabel_cross_entropy_drops_background_rows():
    logits = torch.tensor([[0.0, 1.0, 2.0, 3.0], [5.0, 0.0, 0.0, 0.0], [0.0, 3.0, 1.0, 1.0]], requires_grad=True)
    target = torch.tensor([[0.0, 0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 1.0]])
    expected = (-F.log_softmax(logits[0, 1:], -1)[1] - F.log_softmax(logits[2, 1:], -1)[[0, 2]].sum()) / 2
    assert torch.allclose(multilabel_cross_entropy(logits, target), expected)
    only_background = multilabel_cross_entropy(logits, torch.tensor([[1.0, 0, 0, 0]] * 3))
    assert only_background.item() == 0 and only_background.requires_grad


def test_equalization_loss_leaves_rare_negatives_out(annotations):
    torch.manual_seed(0)
    logits, target = torch.randn(4, 6), torch.zeros(4, 6)
    target[:, 2] = 1
    target[1, 4] = 1  # a rare class that is a target stays in
    rare = torch.tensor([False, False, True, True, False])  # classes 2, 3 (columns 3, 4) are rare
    assert torch.allclose(equalization_cross_entropy(logits, target, rare, gamma=0.0),
                          multilabel_cross_entropy(logits, target))
    expected = []
    for row in range(4):
        keep = [c for c in range(1, 6) if not rare[c - 1] or target[row, c] == 1]
        log_p = F.log_softmax(logits[row, keep], -1)
        expected.append(-(target[row, keep] * log_p).sum())
    assert torch.allclose(equalization_cross_entropy(logits, target, rare, gamma=1.0), torch.stack(expected).mean(),
                          atol=1e-5)


def test_upstream_checkpoints_convert_and_load_strictly(annotations):
    with open(FIXTURE) as f:
        layouts = json.load(f)
    suite = build_testra(annotations, long_ticks=0, decoder=dict(type="mamba", num_layers=1))
    for name, model in (("testra", build_testra(annotations, long_ticks=64)), ("suite_mamba", suite)):
        upstream = {k: torch.randn(shape) for k, shape in layouts[name]["keys"].items()}
        checkpoint = dict(epoch=30, model_state_dict={"module." + k: v for k, v in upstream.items()})
        state = convert_checkpoint(checkpoint)
        model.load_state_dict(state, strict=True)
        key = "classifier_verb.weight"
        assert torch.equal(model.state_dict()[key], upstream[key])


@pytest.mark.cuda
def test_streaming_on_cuda(annotations):
    device = torch.device("cuda")
    model = build_testra(annotations).to(device)
    stream = stream_model(annotations).to(device)
    features = torch.randn(120, sum(DIMS), device=device)
    state, mamba_state = model.stream_init(1), stream.stream_init(1)
    for tick in range(len(features)):
        state = model.stream_step(features[tick:tick + 1], state)
        mamba_state = stream.stream_step(features[tick:tick + 1], mamba_state)
    streamed = model.stream_readout(state)
    recomputed = model.heads(model.forward_window(*window(features, 120, model.history_ticks))[:, 10:])
    assert max((streamed[k] - recomputed[k]).abs().max().item() for k in streamed) <= 1e-4
    reference = stream.heads(one_pass(stream, features)[120:])
    readout = stream.stream_readout(mamba_state)
    assert max((readout[k][0] - reference[k]).abs().max().item() for k in readout) <= 1e-4
