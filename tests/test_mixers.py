"""Mixers: upstream parameter names/shapes/init, padding invariance, directionality, streaming."""
import math

import pytest
import torch

from common import build_mixer
from common.mixers import concat_valid_first, reverse_within_length, take_segment

D_MODEL, N, D_CONV = 32, 16, 4
KINDS = [("mamba", {}), ("vim", {}), ("dbm", {}), ("attn", {"n_head": 4}),
         ("attn", {"n_head": 4, "window_size": 5})]


def upstream_shapes(kind, d=D_MODEL, n=N, k=D_CONV):
    """Key -> shape of an upstream block's state_dict (mamba_ssm Mamba, Vim bimamba v2, suite DBM)."""
    expand = 1 if kind == "dbm" else 2
    di, r = expand * d, math.ceil(d / 16)
    branch = lambda s, a: {f"conv1d{s}.weight": (di, 1, k), f"conv1d{s}.bias": (di,),  # noqa: E731
                           f"x_proj{s}.weight": (r + 2 * n, di), f"dt_proj{s}.weight": (di, r),
                           f"dt_proj{s}.bias": (di,), a: (di, n), f"D{s}": (di,)}
    shapes = branch("", "A_log")
    if kind == "vim":
        shapes.update(branch("_b", "A_b_log"))
    in_rows = 4 * di if kind == "dbm" else 2 * di
    out_cols = 2 * di if kind == "dbm" else di
    shapes.update({"in_proj.weight": (in_rows, d), "out_proj.weight": (d, out_cols)})
    return shapes


@pytest.mark.parametrize("kind", ["mamba", "vim", "dbm"])
def test_upstream_state_dict_loads_strictly(kind):
    mixer = build_mixer(kind, D_MODEL, d_state=N, d_conv=D_CONV)
    upstream = {key: torch.randn(shape) for key, shape in upstream_shapes(kind).items()}
    mixer.load_state_dict(upstream, strict=True)
    assert torch.equal(mixer.state_dict()["x_proj.weight"], upstream["x_proj.weight"])


@pytest.mark.parametrize("kind", ["mamba", "vim", "dbm"])
def test_mamba_ssm_initialisation(kind):
    torch.manual_seed(0)
    mixer = build_mixer(kind, D_MODEL, d_state=N)
    suffixes = [("", "A_log"), ("_b", "A_b_log")] if kind == "vim" else [("", "A_log")]
    for s, a_name in suffixes:  # both ViM branches get the proper dt init (documented deviation)
        A_log = getattr(mixer, a_name)
        assert torch.allclose(A_log, torch.log(torch.arange(1, N + 1.0)).expand_as(A_log))
        assert torch.equal(getattr(mixer, "D" + s), torch.ones(mixer.d_inner))
        dt = torch.nn.functional.softplus(getattr(mixer, "dt_proj" + s).bias)
        assert dt.min() >= 1e-3 * 0.999 and dt.max() <= 0.1 * 1.001
        bound = mixer.dt_rank ** -0.5
        assert getattr(mixer, "dt_proj" + s).weight.abs().max() <= bound
        assert A_log._no_weight_decay and getattr(mixer, "D" + s)._no_weight_decay


def test_vim_sums_by_default_and_divide_out_averages():
    torch.manual_seed(0)
    summed = build_mixer("vim", D_MODEL).eval()
    averaged = build_mixer("vim", D_MODEL, divide_out=True).eval()
    averaged.load_state_dict(summed.state_dict())
    x = torch.randn(2, 20, D_MODEL)
    assert torch.allclose(averaged(x), summed(x) / 2, atol=1e-6)  # out_proj has no bias by default


@pytest.mark.parametrize("garbage", ["noise", "nan", "inf"])
@pytest.mark.parametrize("kind, kw", KINDS)
def test_padded_batch_matches_each_sequence_alone(kind, kw, garbage):
    torch.manual_seed(0)
    mixer = build_mixer(kind, D_MODEL, **kw).eval()
    lengths = [37, 23, 1, 9]
    x = torch.randn(len(lengths), max(lengths), D_MODEL)
    mask = torch.arange(max(lengths))[None] < torch.tensor(lengths)[:, None]
    padding = dict(noise=torch.randn_like(x) * 100, nan=torch.full_like(x, float("nan")),
                   inf=torch.full_like(x, float("-inf")))[garbage]
    x_noisy = torch.where(mask[..., None], x, padding)  # garbage in the padding
    out = mixer(x_noisy, mask)
    for i, length in enumerate(lengths):
        alone = mixer(x[i:i + 1, :length])[0]
        assert (out[i, :length] - alone).abs().max() <= 1e-5
        assert torch.count_nonzero(out[i, length:]) == 0


@pytest.mark.parametrize("kind, bidirectional", [("mamba", False), ("vim", True), ("dbm", True)])
def test_direction(kind, bidirectional):
    torch.manual_seed(0)
    mixer = build_mixer(kind, D_MODEL).eval()
    x = torch.randn(1, 12, D_MODEL)
    changed = x.clone()
    changed[0, -1] += 1.0
    first_moves = (mixer(changed)[0, 0] - mixer(x)[0, 0]).abs().max() > 1e-6
    assert bool(first_moves) == bidirectional


def test_reverse_within_length():
    x = torch.arange(10.0).view(2, 5)
    out = reverse_within_length(x.unsqueeze(-1), torch.tensor([5, 3])).squeeze(-1)
    assert out.tolist() == [[4, 3, 2, 1, 0], [7, 6, 5, 8, 9]]


def test_concat_valid_first_packs_and_reads_back():
    text = torch.tensor([[1.0, 2.0, 0.0], [3.0, 4.0, 5.0]])
    video = torch.tensor([[10.0, 11.0], [12.0, 0.0]])
    masks = [torch.tensor([[1, 1, 0], [1, 1, 1]]), torch.tensor([[1, 1], [1, 0]])]
    packed, mask, index = concat_valid_first([text, video], masks)
    assert packed.tolist() == [[1, 2, 10, 11, 0], [3, 4, 5, 12, 0]]
    assert mask.tolist() == [[True] * 4 + [False], [True] * 4 + [False]]
    assert take_segment(packed, index, 3, 2).tolist() == video.tolist()
    assert take_segment(packed, index, 0, 3).tolist() == text.tolist()


def test_mixer_over_packed_segments_matches_the_unpadded_sequence():
    torch.manual_seed(0)
    mixer = build_mixer("dbm", D_MODEL).eval()
    text, video = torch.randn(1, 4, D_MODEL), torch.randn(1, 6, D_MODEL)
    alone = mixer(torch.cat([text[:, :3], video[:, :5]], dim=1))
    packed, mask, index = concat_valid_first([text, video], [torch.tensor([[1, 1, 1, 0]]),
                                                             torch.tensor([[1, 1, 1, 1, 1, 0]])])
    out = mixer(packed, mask)
    assert torch.allclose(take_segment(out, index, 4, 5), alone[:, 3:], atol=1e-6)


def test_mask_with_holes_is_refused():
    mixer = build_mixer("vim", D_MODEL)
    mask = torch.tensor([[True, False, True]])
    with pytest.raises(ValueError, match="prefix"):
        mixer(torch.randn(1, 3, D_MODEL), mask)


@pytest.mark.parametrize("chunk", [1, 3, 7, 40])
def test_mamba_streaming_matches_one_pass(chunk):
    torch.manual_seed(0)
    mixer = build_mixer("mamba", D_MODEL).eval()
    x = torch.randn(2, 40, D_MODEL)
    full = mixer(x)
    state, outs = None, []
    for start in range(0, 40, chunk):
        out, state = mixer.stream(x[:, start:start + chunk], state)
        outs.append(out)
    assert (torch.cat(outs, dim=1) - full).abs().max() <= 1e-5


def test_local_attention_sees_only_its_window():
    torch.manual_seed(0)
    mixer = build_mixer("attn", D_MODEL, n_head=4, window_size=5).eval()
    x = torch.randn(1, 20, D_MODEL)
    changed = x.clone()
    changed[0, 10] += 1.0
    moved = (mixer(changed) - mixer(x))[0].abs().amax(-1) > 1e-6
    assert moved.nonzero().flatten().tolist() == [8, 9, 10, 11, 12]


def test_unknown_kind_lists_the_known_ones():
    with pytest.raises(KeyError, match="known: \\['attn', 'dbm', 'mamba', 'vim'\\]"):
        build_mixer("s4", D_MODEL)
