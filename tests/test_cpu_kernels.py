"""The CPU kernels (common/ops/cpu_kernels.py) against references: the multi-direction scan and the conv
+ SiLU with valid lengths, reversed directions, shared operands and strided layouts, forward and
gradients; their vector math; the mixers' fused CPU path against their generic path."""
import pytest
import torch
import torch.nn.functional as F

from common import build_mixer
from common.ops import conv_cpu
from common.ops.conv_cpu import CausalConvSiLUCPU
from common.ops.cpu_kernels import LANES
from common.ops.scan_cpu import SelectiveScanCPU
from common.ops.scan_ref import scan_ref
from conftest import rel_err


def positions(length, reverse):
    """The positions a direction visits, in order: the valid ones, last to first when reversed."""
    index = torch.arange(length)
    return index.flip(0) if reverse else index


def scan_reference(x, lengths, reverse, sum_groups):
    """SelectiveScanCPU's semantics from scan_ref, one (sequence, direction) at a time: scan the valid
    positions in the direction's order, zeros past the length, optionally summed over directions."""
    batch, length, groups, dim = x["u"].shape
    outs = [[None] * groups for _ in range(batch)]
    lasts = [[None] * groups for _ in range(batch)]
    for b in range(batch):
        for g in range(groups):
            idx = positions(int(lengths[b]), reverse[g])
            zg = x["z"][b, idx, min(g, x["z"].shape[2] - 1)].T[None] if x["z"] is not None else None
            out, last = scan_ref(x["u"][b, idx, g].T[None], x["delta"][b, idx, g].T[None], x["A"][g],
                                 x["B"][b, idx, g].T[None, None], x["C"][b, idx, g].T[None, None], x["D"][g], zg,
                                 x["delta_bias"][g], True,
                                 None if x["initial_state"] is None else x["initial_state"][b, g][None])
            full = out.new_zeros(length, dim)
            outs[b][g] = full.index_put((idx,), out[0].T)
            lasts[b][g] = last[0]
    out = torch.stack([torch.stack(row, dim=1) for row in outs])                       # (batch, L, G, C)
    last = torch.stack([torch.stack(row) for row in lasts])                            # (batch, G, C, N)
    return (out.sum(2, keepdim=True) if sum_groups else out), last


def scan_inputs(batch, length, groups, dim, n, shared_z, initial_state, layout, seed=0):
    """float64 leaves in the kernel's (batch, L, G, C) layout; `layout` picks their strides: "contiguous",
    "transposed" (channels strided, L innermost: selective_scan's API layout) or "projection" (views
    into one wider channel-last tensor, as the mixers pass them)."""
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape, scale=1.0):
        return torch.randn(*shape, generator=g, dtype=torch.float64) * scale

    def per_step(scale=1.0, groups_=groups):
        if layout == "transposed":
            return rnd(batch, groups_, dim, length, scale=scale).permute(0, 3, 1, 2)
        if layout == "projection":
            return rnd(batch, length, groups_, dim + 3, scale=scale)[..., 2:dim + 2]
        return rnd(batch, length, groups_, dim, scale=scale)

    x = dict(u=per_step(), delta=per_step(0.5), A=-torch.rand(groups, dim, n, generator=g, dtype=torch.float64) * 3,
             B=rnd(batch, length, groups, n), C=rnd(batch, length, groups, n), D=rnd(groups, dim),
             z=per_step(groups_=1 if shared_z else groups), delta_bias=rnd(groups, dim, scale=0.5),
             initial_state=rnd(batch, groups, dim, n) if initial_state else None)
    return {k: (v.detach().requires_grad_(True) if v is not None else None) for k, v in x.items()}


def run_scan(x, lengths, reverse, sum_groups, cast=None):
    """Forward out, last state and every input's gradient for a fixed loss; `cast` runs in that dtype."""
    y = {k: (v.detach().to(cast).requires_grad_(True) if v is not None and cast else v) for k, v in x.items()}
    if cast is None:
        out, last = scan_reference(y, lengths, reverse, sum_groups)
    else:
        out, last = SelectiveScanCPU.apply(y["u"], y["delta"], y["A"], y["B"], y["C"], y["D"], y["z"],
                                           y["delta_bias"], y["initial_state"], True,
                                           torch.as_tensor(lengths), torch.tensor(reverse), sum_groups)
    weights = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)
    names = [k for k, v in y.items() if v is not None]
    grads = torch.autograd.grad((out * weights).sum() + (out ** 2).sum() * 0.1, [y[k] for k in names])
    return out, last, dict(zip(names, grads))


SCAN_CASES = [  # (batch, L, groups, dim, N, lengths, reverse, sum_groups, shared z, initial state, layout)
    (3, 150, 2, 5, 4, [150, 97, 1], (False, True), True, True, False, "projection"),    # ViM: summed, z shared
    (2, 130, 2, 37, 16, [130, 64], (False, True), False, False, False, "contiguous"),  # DBM; 2 lane blocks
    (2, 70, 1, 3, 8, [70, 66], (False,), False, False, True, "transposed"),            # causal, initial state
    (1, 65, 3, LANES + 1, 3, [65], (True, False, True), True, False, False, "projection"),
]


@pytest.mark.parametrize("case", SCAN_CASES, ids=["vim", "dbm", "causal-state", "three-groups"])
def test_scan_matches_reference_per_direction(case):
    batch, length, groups, dim, n, lengths, reverse, sum_groups, shared_z, h0, layout = case
    x = scan_inputs(batch, length, groups, dim, n, shared_z, h0, layout)
    out, last, grads = run_scan(x, lengths, reverse, sum_groups, cast=torch.float32)
    ref_out, ref_last, ref_grads = run_scan(x, lengths, reverse, sum_groups)
    assert out.dtype == torch.float32 and out.shape == ref_out.shape
    assert rel_err(out, ref_out) <= 1e-5 and rel_err(last, ref_last) <= 1e-5
    for name, grad in grads.items():
        assert grad.shape == x[name].shape, name
        assert rel_err(grad, ref_grads[name]) <= 1e-5, name
    for b, valid in enumerate(lengths):  # past a length: zero output, zero gradient
        assert torch.count_nonzero(out[b, valid:]) == 0
        assert torch.count_nonzero(grads["u"][b, valid:]) == 0 and torch.count_nonzero(grads["B"][b, valid:]) == 0


def test_scan_gradcheck_float64_with_directions():
    x = scan_inputs(2, 9, 2, 3, 2, True, True, "projection")
    names = [k for k, v in x.items() if v is not None]

    def f(*tensors):
        y = dict(zip(names, tensors))
        return SelectiveScanCPU.apply(y["u"], y["delta"], y["A"], y["B"], y["C"], y["D"], y["z"], y["delta_bias"],
                                      y["initial_state"], True, torch.tensor([9, 6]), torch.tensor([False, True]),
                                      True)[0]

    assert torch.autograd.gradcheck(f, tuple(x[k] for k in names), eps=1e-6, atol=1e-6, fast_mode=True)


def conv_reference(x, weight, bias, state, lengths, reverse):
    """silu(causal depthwise conv) per (sequence, direction) over the valid positions in the direction's
    order, with F.conv1d; (G, batch, L, C), zeros past each length."""
    batch, length, _, dim = x.shape
    groups, _, width = weight.shape
    out = x.new_zeros(groups, batch, length, dim)
    for b in range(batch):
        for g in range(groups):
            idx = positions(int(lengths[b]), reverse[g])
            seq = x[b, idx, min(g, x.shape[2] - 1)].T[None]                                  # (1, C, n)
            before = state[b, g][None] if state is not None else seq.new_zeros(1, dim, width - 1)
            y = F.silu(F.conv1d(torch.cat([before, seq], -1), weight[g][:, None], bias[g], groups=dim))
            out = out.index_put((torch.tensor(g), torch.tensor(b), idx), y[0].T)
    return out


@pytest.mark.parametrize("groups, shared, reverse, lengths, with_state", [
    (2, True, (False, True), [70, 33, 2], False),   # ViM: one input, two directions
    (2, False, (False, True), [70, 70, 5], False),  # DBM
    (1, False, (False,), [70, 41, 1], True),         # streaming: the inputs before position 0
])
def test_conv_silu_matches_reference(groups, shared, reverse, lengths, with_state):
    g = torch.Generator().manual_seed(1)
    batch, length, dim, width = 3, 70, LANES + 5, 4
    x = torch.randn(batch, length, 1 if shared else groups, dim + 2, generator=g, dtype=torch.float64)[..., 1:-1]
    weight = torch.randn(groups, dim, width, generator=g, dtype=torch.float64)
    bias = torch.randn(groups, dim, generator=g, dtype=torch.float64)
    state = torch.randn(batch, groups, dim, width - 1, generator=g, dtype=torch.float64) if with_state else None
    leaves = [t.requires_grad_(True) for t in (x, weight, bias) + ((state,) if with_state else ())]
    lengths_t, reverse_t = torch.tensor(lengths), torch.tensor(reverse)
    ref = conv_reference(x, weight, bias, state, lengths_t, reverse)
    out = CausalConvSiLUCPU.apply(*(t.float() if t is not None else None for t in (x, weight, bias, state)),
                                  lengths_t, reverse_t)
    assert rel_err(out, ref) <= 1e-6
    for b, valid in enumerate(lengths):
        assert torch.count_nonzero(out[:, b, valid:]) == 0
    weights = torch.randn(ref.shape, generator=g, dtype=torch.float64)
    ref_grads = torch.autograd.grad((ref * weights).sum(), leaves)
    floats = [t.detach().float().requires_grad_(True) for t in leaves]
    out = CausalConvSiLUCPU.apply(floats[0], floats[1], floats[2], floats[3] if with_state else None, lengths_t,
                                  reverse_t)
    grads = torch.autograd.grad((out * weights.float()).sum(), floats)
    for grad, ref_grad in zip(grads, ref_grads):
        assert grad.shape == ref_grad.shape and rel_err(grad, ref_grad) <= 1e-5
    inputs = tuple(t.detach().requires_grad_(True) for t in leaves)
    assert torch.autograd.gradcheck(
        lambda *t: CausalConvSiLUCPU.apply(t[0][:2, :12], t[1], t[2], t[3][:2] if with_state else None,
                                           lengths_t[:2].clamp(max=12), reverse_t),
        inputs, eps=1e-6, atol=1e-6, fast_mode=True)


@pytest.mark.parametrize("slices", [3, 70])
def test_conv_silu_any_split_of_positions(monkeypatch, slices):
    """The conv's tasks split each sequence's positions; any split, down to one position per task (fewer
    than the K - 1 inputs a step reads back, reversed stretches landing in other tasks' rows), gives the
    reference's values and gradients."""
    monkeypatch.setattr(conv_cpu, "time_slices", lambda batch, length: slices)
    test_conv_silu_matches_reference(2, True, (False, True), [70, 33, 2], False)
    test_conv_silu_matches_reference(1, False, (False,), [70, 41, 1], True)


def test_vector_math_matches_torch():
    from common.ops.cpu_kernels import sigmoid, softplus, vexp
    import numba
    import numpy as np

    @numba.njit
    def apply(x, out):
        for i in range(x.shape[0]):
            out[0, i], out[1, i], out[2, i] = vexp(x[i]), sigmoid(x[i]), softplus(x[i])

    x = torch.cat([torch.linspace(-100, 88, 100001), torch.tensor([-1e4, 1e4, float("nan"), float("-inf"),
                                                                   float("inf"), 19.99, 20.01])])
    for dtype in (torch.float32, torch.float64):
        xs = x.to(dtype)
        out = np.empty((3, xs.numel()), dtype=np.float32 if dtype == torch.float32 else np.float64)
        apply(xs.numpy(), out)
        out = torch.from_numpy(out)
        exact = xs.double()
        finite = exact.abs() < 87
        tol = 3e-7 if dtype == torch.float32 else 1e-15
        assert ((out[0][finite] - exact[finite].exp()).abs() / exact[finite].exp()).max() <= tol
        assert rel_err(out[1][finite], torch.sigmoid(exact[finite])) <= tol * 4
        assert ((out[2] - F.softplus(exact)).abs() / F.softplus(exact).clamp_min(1e-30))[finite].max() <= tol * 4
        assert out[0][-7].item() == 0 and out[0][-6].item() == float("inf")        # underflow, overflow
        assert torch.isnan(out[:, -5]).all()                                         # NaN stays NaN
        assert out[0][-4].item() == 0 and out[1][-4].item() == 0 and out[2][-4].item() == 0
        assert out[2][-2].item() == pytest.approx(F.softplus(exact[-2]).item(), rel=tol * 4)
        assert out[2][-1].item() == pytest.approx(20.01, rel=1e-6)                   # identity past 20


@pytest.mark.parametrize("kind", ["mamba", "vim", "dbm"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fused_mixer_path_matches_generic_path(kind, dtype):
    """The fused CPU kernels against the mixer's per-direction path (flips, concatenations, the reference
    scan): padded batch, outputs and every parameter's gradient."""
    torch.manual_seed(0)
    fused = build_mixer(kind, 40).to(dtype)
    generic = build_mixer(kind, 40, scan_backend="ref").to(dtype)
    generic.load_state_dict(fused.state_dict())
    assert fused.fused_cpu(torch.zeros(1, dtype=dtype)) and not generic.fused_cpu(torch.zeros(1, dtype=dtype))
    lengths = torch.tensor([37, 23, 1, 9])
    x = torch.randn(4, 37, 40, dtype=dtype, requires_grad=True)
    mask = torch.arange(37)[None] < lengths[:, None]
    weights = torch.randn(4, 37, 40, dtype=dtype)
    outs, grads = [], []
    for mixer in (fused, generic):
        out = mixer(x, mask)
        outs.append(out)
        grads.append(torch.autograd.grad((out * weights).sum(), [x] + list(mixer.parameters())))
    tol = 2e-6 if dtype == torch.float32 else 1e-12
    assert rel_err(outs[0], outs[1]) <= tol
    for name, a, b in zip(["x"] + [n for n, _ in fused.named_parameters()], *grads):
        # A_log, D and the dt bias enter the scan through fp32 (mamba_ssm's convention) in both paths, which
        # round their gradients at different points when directions share them (DBM)
        through_fp32 = dtype == torch.float64 and (name.endswith("_log") or name.startswith("D")
                                                   or name.endswith("dt_proj.bias"))
        assert rel_err(a, b) <= (1e-6 if through_fp32 else tol * 5), name


def test_fused_stream_matches_generic_stream():
    torch.manual_seed(0)
    fused = build_mixer("mamba", 32).eval()
    generic = build_mixer("mamba", 32, scan_backend="torch").eval()
    generic.load_state_dict(fused.state_dict())
    x = torch.randn(2, 11, 32)
    states = [None, None]
    for start in range(0, 11, 4):
        (a, states[0]), (b, states[1]) = (m.stream(x[:, start:start + 4], s) for m, s in zip((fused, generic), states))
        assert rel_err(a, b) <= 1e-5
    assert rel_err(states[0].ssm, states[1].ssm) <= 1e-5 and torch.equal(states[0].conv, states[1].conv)


@pytest.mark.parametrize("kind, options", [("mamba", {}), ("vim", {}), ("dbm", {}), ("attn", {"n_head": 4}),
                                           ("attn", {"n_head": 4, "window_size": 5})],
                         ids=["mamba", "vim", "dbm", "attn", "attn-window"])
def test_an_empty_batch_gives_empty_outputs_and_zero_gradients(kind, options):
    """A batch of 0 (the last batch of a filtered split, a rank with no sample) is empty on every path,
    as on the reference backend: no ZeroDivisionError from the kernels' task split."""
    torch.manual_seed(0)
    paths = [build_mixer(kind, 40, **options)]
    if kind != "attn":
        paths.append(build_mixer(kind, 40, scan_backend="ref", **options))
        paths[1].load_state_dict(paths[0].state_dict())
    for mixer in paths:
        for mask in (None, torch.zeros(0, 9, dtype=torch.bool)):
            x = torch.randn(0, 9, 40, requires_grad=True)
            out = mixer(x, mask)
            assert out.shape == (0, 9, 40)
            grads = torch.autograd.grad(out.sum(), [x] + list(mixer.parameters()), allow_unused=True)
            assert grads[0].shape == x.shape
            assert all(g is None or torch.count_nonzero(g) == 0 for g in grads[1:])
    x = scan_inputs(0, 9, 2, 5, 4, True, True, "projection")
    out, last, grads = run_scan(x, torch.zeros(0, dtype=torch.int64), (False, True), True, cast=torch.float32)
    assert out.shape == (0, 9, 1, 5) and last.shape == (0, 2, 5, 4)
    assert grads["u"].shape == x["u"].shape and torch.count_nonzero(grads["A"]) == 0
    assert torch.count_nonzero(grads["D"]) == 0 and torch.count_nonzero(grads["delta_bias"]) == 0
    from common.ops import selective_scan
    u, delta = torch.randn(0, 8, 5, requires_grad=True), torch.rand(0, 8, 5, requires_grad=True)
    A = (-torch.rand(8, 4)).requires_grad_(True)
    outs = [selective_scan(u, delta, A, torch.randn(0, 4, 5), torch.randn(0, 4, 5), D=torch.ones(8),
                           z=torch.randn(0, 8, 5), delta_softplus=True, backend=backend) for backend in ("cpu", "ref")]
    for out in outs:
        assert out.shape == (0, 8, 5)
        assert torch.count_nonzero(torch.autograd.grad(out.sum(), A)[0]) == 0
