"""Our cuda backend through mamba-ssm's and causal-conv1d's real Python interfaces, on CPU: the compiled
modules are the strict stand-ins of tests/cuda_standin.py (fixture `standin_kernels`). Proves argument
order, layouts, contiguity, dtypes, optional D / z / delta_bias, the last state and the gradients as
far as a CPU can; the kernels' own numerics are checked on a GPU (tools/gpu_check.sh)."""
import importlib.metadata
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import cuda_standin
from common.ops import causal_conv1d, resolve_backend, selective_scan
from conftest import rel_err
from test_selective_scan import CASES, make_inputs, run

ROOT = Path(__file__).resolve().parents[1]
SCAN_CALLS = ("selective_scan_cuda.fwd", "selective_scan_cuda.bwd")
CONV_CALLS = ("causal_conv1d_cuda.causal_conv1d_fwd", "causal_conv1d_cuda.causal_conv1d_bwd")


def selective_scan_fn():
    from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
    return selective_scan_fn


def test_makefile_installs_the_pinned_versions():
    tomllib = pytest.importorskip("tomllib")
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["cuda"]
    makefile = re.search(r"^CUDA_PACKAGES := (.*)$", (ROOT / "Makefile").read_text(), re.M).group(1).split()
    assert sorted(makefile) == sorted(pins)
    if cuda_standin.installed():
        names = [pin.split("==")[0] for pin in pins]
        assert sorted(f"{name}=={importlib.metadata.version(name)}" for name in names) == sorted(pins)


@pytest.mark.parametrize("case", CASES, ids=[f"L{c[2]}-N{c[3]}-{c[4]}" for c in CASES])
def test_scan_matches_reference(standin_kernels, case):
    batch, dim, length, n, bc, z, D, bias, softplus = case
    inputs = make_inputs(batch, dim, length, n, bc, z=z, D=D, bias=bias)
    out, last, grads = run(inputs, "cuda", softplus)
    assert [standin_kernels[c] for c in SCAN_CALLS] == [1, 1]  # the kernel path ran, forward and backward
    ref_out, ref_last, ref_grads = run(inputs, "ref", softplus, cast=torch.float64)
    assert out.dtype == torch.float32 and last.dtype == torch.float32 and last.is_contiguous()
    assert out.shape == (batch, dim, length) and last.shape == (batch, dim, n)
    assert rel_err(out, ref_out) <= 1e-5 and rel_err(last, ref_last) <= 1e-5
    for name, grad in grads.items():
        assert grad.shape == inputs[name].shape and grad.dtype == inputs[name].dtype, name
        assert rel_err(grad, ref_grads[name]) <= 1e-5, name


def test_scan_beyond_one_kernel_chunk(standin_kernels):
    """L > 2048: the kernel keeps one state per 2048-step chunk; the last state is the last chunk's."""
    inputs = make_inputs(1, 2, 2100, 2)
    out, last, grads = run(inputs, "cuda", True)
    ref_out, ref_last, ref_grads = run(inputs, "ref", True, cast=torch.float64)
    assert rel_err(out, ref_out) <= 1e-5 and rel_err(last, ref_last) <= 1e-5
    assert all(rel_err(grads[k], ref_grads[k]) <= 1e-5 for k in grads)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_scan_half_inputs(standin_kernels, dtype):
    x = {k: (None if v is None else v.to(dtype)) for k, v in make_inputs(2, 4, 40, 8, requires_grad=False).items()}
    x["A"], x["D"], x["delta_bias"] = x["A"].float(), x["D"].float(), x["delta_bias"].float()  # mixer dtypes
    out, last = selective_scan(**x, delta_softplus=True, return_last_state=True, backend="cuda")
    assert out.dtype == dtype and last.dtype == torch.float32
    expected = selective_scan(**{k: v.float() for k, v in x.items()}, delta_softplus=True, backend="ref")
    assert rel_err(out, expected) <= (4e-3 if dtype == torch.float16 else 2e-2)


def test_scan_casts_mixed_dtypes_to_the_kernels_contract(standin_kernels):
    """bf16 u with fp32 delta / z / B / C and fp16 A / D / delta_bias: the kernel takes delta, z and variable
    B/C in u's dtype, the rest in fp32; the backend casts, autograd hands each gradient back in its dtype."""
    x = make_inputs(2, 4, 30, 8, requires_grad=False)
    x["u"] = x["u"].bfloat16()
    for name in ("A", "D", "delta_bias"):
        x[name] = x[name].half()
    for v in x.values():
        v.requires_grad_(True)
    out = selective_scan(**x, delta_softplus=True, backend="cuda")
    out.float().sum().backward()
    assert out.dtype == torch.bfloat16
    assert all(v.grad.dtype == v.dtype for v in x.values())
    rounded = {k: v.detach().to(torch.bfloat16 if k in ("u", "delta", "z", "B", "C") else torch.float16).float()
               for k, v in x.items()}
    assert rel_err(out, selective_scan(**rounded, delta_softplus=True, backend="ref")) <= 2e-2


def test_scan_float64_stays_off_the_kernel(standin_kernels):
    x = make_inputs(1, 2, 10, 3, dtype=torch.float64, requires_grad=False)
    assert resolve_backend("auto", x["u"].device, torch.float64) == "torch"
    assert resolve_backend("auto", x["u"].device, torch.float32) == "cuda"
    selective_scan(**x)
    assert standin_kernels["selective_scan_cuda.fwd"] == 0
    with pytest.raises(ValueError, match="fp32/fp16/bf16 inputs, got torch.float64"):
        selective_scan(**x, backend="cuda")


def test_scan_refuses_initial_state(standin_kernels):
    x = make_inputs(1, 2, 10, 3, requires_grad=False)
    with pytest.raises(ValueError, match="takes no initial_state"):
        selective_scan(**x, backend="cuda", initial_state=torch.zeros(1, 2, 3))


@pytest.mark.parametrize("wrong, message", [
    (lambda x: x.update(B=x["B"].transpose(1, 2)), r"B must have shape \(2, 1, 8, 30\)"),  # (b, l, n) layout
    (lambda x: x.update(D=x["D"].half()), "D has dtype torch.float16"),
    (lambda x: x.update(B=x["B"].half()), "a variable B must be torch.float32"),
    (lambda x: x.update(delta_bias=torch.randn(12)[::2]), "delta_bias must be contiguous"),
    (lambda x: x.update(A=x["A"].double()), "A has dtype torch.float64"),
    (lambda x: x.update(B=x["B"].unsqueeze(1).expand(2, 4, 8, 30), C=x["C"].unsqueeze(1).expand(2, 4, 8, 30)),
     "4 groups do not divide dim 6"),
])
def test_standin_rejects_what_the_kernel_rejects(standin_kernels, wrong, message):
    """mamba-ssm's selective_scan_fn called the way it does not accept: the stand-in refuses, as the kernel."""
    x = make_inputs(2, 6, 30, 8, requires_grad=False)
    selective_scan_fn()(**x, delta_softplus=True)  # the right call passes
    wrong(x)
    with pytest.raises(RuntimeError, match=message):
        selective_scan_fn()(**x, delta_softplus=True)


def test_standin_rejects_a_non_contiguous_last_dim():
    """selective_scan_fn makes u contiguous itself; called directly, the kernel refuses a strided u."""
    x = make_inputs(2, 6, 30, 8, requires_grad=False)
    u = x["u"].transpose(1, 2).contiguous().transpose(1, 2)
    with pytest.raises(RuntimeError, match="u has strides"):
        cuda_standin.selective_scan_fwd(u, x["delta"], x["A"], x["B"].unsqueeze(1), x["C"].unsqueeze(1), x["D"],
                                        x["z"], x["delta_bias"], True)


def mixer_layout(batch, length, dim, dtype=torch.float32):
    """A mixer's conv input: the first half of in_proj's (B, L, 2D) output seen as (B, D, L), channels
    innermost and not dense."""
    return torch.randn(batch, length, 2 * dim, dtype=dtype).transpose(1, 2)[:, :dim]


@pytest.mark.parametrize("width", [2, 3, 4])
@pytest.mark.parametrize("activation", [None, "silu"])
@pytest.mark.parametrize("dim", [12, 16])  # 12: a channel-last view the kernel cannot take as it is
def test_conv_matches_reference(standin_kernels, width, activation, dim):
    torch.manual_seed(0)
    x = mixer_layout(2, 17, dim).requires_grad_(True)
    weight = torch.randn(dim, 1, width, requires_grad=True)  # Mamba's (d, 1, w)
    bias = torch.randn(dim, requires_grad=True)
    out = causal_conv1d(x, weight, bias, activation=activation)
    ref = F.conv1d(F.pad(x.double(), (width - 1, 0)), weight.double(), bias.double(), groups=dim)
    ref = F.silu(ref) if activation else ref
    assert [standin_kernels[c] for c in CONV_CALLS] == [1, 0]
    assert out.dtype == torch.float32 and rel_err(out, ref) <= 1e-6
    grads = torch.autograd.grad((out * out).sum(), [x, weight, bias])
    ref_grads = torch.autograd.grad((ref * ref).sum(), [x, weight, bias])
    assert standin_kernels[CONV_CALLS[1]] == 1
    assert all(g.dtype == torch.float32 and rel_err(g, r) <= 1e-5 for g, r in zip(grads, ref_grads))


def test_conv_half_input_with_fp32_weight(standin_kernels):
    x = mixer_layout(1, 9, 8, torch.bfloat16)
    weight, bias = torch.randn(8, 4), torch.randn(8)
    out = causal_conv1d(x, weight, bias, activation="silu")
    assert standin_kernels[CONV_CALLS[0]] == 1 and out.dtype == torch.bfloat16
    assert rel_err(out, F.silu(F.conv1d(F.pad(x.float(), (3, 0)), weight[:, None], bias, groups=8))) <= 1e-2


def test_conv_kernel_skipped_where_it_cannot_run(standin_kernels):
    x = torch.randn(1, 8, 9)
    causal_conv1d(x, torch.randn(8, 5))                               # width 5
    causal_conv1d(x.double(), torch.randn(8, 3, dtype=torch.float64))  # float64
    causal_conv1d(x, torch.randn(8, 3), initial_state=torch.randn(1, 8, 2))
    assert standin_kernels[CONV_CALLS[0]] == 0


def test_an_empty_batch_stays_off_the_kernels(standin_kernels):
    """Batch 0 is an empty launch grid, which CUDA refuses: empty outputs and gradients come from the
    torch paths, as from the reference backend."""
    x = make_inputs(0, 4, 10, 3, requires_grad=True)
    out = selective_scan(**x, delta_softplus=True)
    out.sum().backward()
    assert out.shape == (0, 4, 10) and torch.count_nonzero(x["A"].grad) == 0
    conv = causal_conv1d(torch.randn(0, 8, 9), torch.randn(8, 4), activation="silu")
    assert conv.shape == (0, 8, 9)
    assert standin_kernels[SCAN_CALLS[0]] == 0 and standin_kernels[CONV_CALLS[0]] == 0


def test_standin_rejects_the_channel_last_view_we_used_to_pass(standin_kernels):
    """causal_conv1d_fn reads a unit-channel-stride tensor as channel-last, which needs dim % 8 == 0: the
    mixers' (B, L, D) -> (B, D, L) view failed there; our causal_conv1d hands it L innermost."""
    from causal_conv1d import causal_conv1d_fn
    x, weight = mixer_layout(2, 17, 12), torch.randn(12, 4)
    with pytest.raises(RuntimeError, match="channel dimension divisible by 8"):
        causal_conv1d_fn(x, weight, activation="silu")
    causal_conv1d(x, weight, activation="silu")
    with pytest.raises(RuntimeError, match="width between 2 and 4"):
        causal_conv1d_fn(x.contiguous(), torch.randn(12, 5))
    with pytest.raises(RuntimeError, match="bias has dtype torch.float16"):
        causal_conv1d_fn(x.contiguous(), weight, torch.randn(12).half())


@pytest.mark.cuda
@pytest.mark.parametrize("dim", [12, 16])
def test_conv_kernel_on_cuda_matches_reference(dim):
    pytest.importorskip("causal_conv1d")
    torch.manual_seed(0)
    x = mixer_layout(2, 300, dim).cuda().requires_grad_(True)
    weight = torch.randn(dim, 1, 4, device="cuda", requires_grad=True)
    bias = torch.randn(dim, device="cuda", requires_grad=True)
    out = causal_conv1d(x, weight, bias, activation="silu")
    ref = F.silu(F.conv1d(F.pad(x.double(), (3, 0)), weight.double(), bias.double(), groups=dim))
    assert rel_err(out, ref) <= 1e-5
    grads = torch.autograd.grad(out.sum(), [x, weight, bias])
    ref_grads = torch.autograd.grad(ref.sum(), [x, weight, bias])
    assert all(rel_err(g, r) <= 1e-4 for g, r in zip(grads, ref_grads))
