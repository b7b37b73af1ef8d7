"""Scan backends against the sequential reference, gradcheck, dtypes, streaming state, bad input."""
import os

import pytest
import torch

from common.ops import selective_scan
from common.ops.scan_cuda import load_selective_scan_fn
from conftest import rel_err

FAST_BACKENDS = ["cpu", "torch"]


def make_inputs(batch, dim, length, n, bc="variable", z=True, D=True, bias=True, dtype=torch.float32,
                seed=0, requires_grad=True):
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape, scale=1.0):
        return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(dtype)

    bc_shape = {"constant": (dim, n), "variable": (batch, n, length), "grouped": (batch, 2, n, length)}
    x = dict(u=rnd(batch, dim, length), delta=rnd(batch, dim, length, scale=0.5),
             A=-torch.rand(dim, n, generator=g, dtype=torch.float64).mul(3).add(0.1).to(dtype),
             B=rnd(*bc_shape[bc]), C=rnd(*bc_shape["variable" if bc == "variable" else bc]),
             D=rnd(dim) if D else None, z=rnd(batch, dim, length) if z else None,
             delta_bias=rnd(dim, scale=0.5) if bias else None)
    if requires_grad:
        for v in x.values():
            if v is not None:
                v.requires_grad_(True)
    return x


def run(inputs, backend, softplus, cast=None, **kw):
    """Forward out, last state and the gradients of every present input for a fixed loss."""
    x = {k: (None if v is None else (v.detach().to(cast).requires_grad_(True) if cast else v))
         for k, v in inputs.items()}
    out, last = selective_scan(**x, delta_softplus=softplus, return_last_state=True, backend=backend, **kw)
    weights = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)
    grads = torch.autograd.grad((out * weights).sum() + (out ** 2).sum() * 0.1,
                                [v for v in x.values() if v is not None])
    return out, last, dict(zip([k for k, v in x.items() if v is not None], grads))


CASES = [  # (batch, dim, length, n, B/C layout, z, D, delta_bias, softplus)
    (1, 4, 1, 4, "variable", True, True, True, True),        # L = 1
    (2, 6, 67, 8, "variable", True, True, True, True),       # odd L, crosses a chunk boundary
    (2, 4, 70, 64, "variable", False, False, False, False),   # N = 64, bare scan
    (3, 8, 65, 16, "grouped", True, False, True, True),      # grouped B/C
    (2, 5, 33, 3, "constant", False, True, False, True),     # constant B/C
    (1, 4, 200, 16, "variable", True, True, False, False),   # no softplus, several chunks
]


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("case", CASES, ids=[f"L{c[2]}-N{c[3]}-{c[4]}" for c in CASES])
def test_backend_matches_reference(backend, case):
    batch, dim, length, n, bc, z, D, bias, softplus = case
    inputs = make_inputs(batch, dim, length, n, bc, z=z, D=D, bias=bias)
    out, last, grads = run(inputs, backend, softplus)
    ref_out, ref_last, ref_grads = run(inputs, "ref", softplus, cast=torch.float64)
    assert out.dtype == torch.float32 and last.dtype == torch.float32
    assert out.shape == (batch, dim, length) and last.shape == (batch, dim, n)
    assert rel_err(out, ref_out) <= 1e-5
    assert rel_err(last, ref_last) <= 1e-5
    for name, grad in grads.items():
        assert grad.shape == inputs[name].shape, name
        assert rel_err(grad, ref_grads[name]) <= 1e-5, name


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("bc", ["variable", "grouped", "constant"])
def test_gradcheck_float64(backend, bc):
    x = make_inputs(2, 4, 9, 3, bc, dtype=torch.float64)
    names = [k for k, v in x.items() if v is not None]

    def f(*tensors):
        return selective_scan(**dict(zip(names, tensors)), delta_softplus=True, backend=backend)

    assert torch.autograd.gradcheck(f, tuple(x[k] for k in names), eps=1e-6, atol=1e-6, fast_mode=True)


@pytest.mark.parametrize("backend", FAST_BACKENDS + ["ref"])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_inputs_computed_in_fp32(backend, dtype):
    x = make_inputs(2, 4, 40, 8, requires_grad=False)
    half = {k: (None if v is None else v.to(dtype)) for k, v in x.items()}
    out, last = selective_scan(**half, delta_softplus=True, return_last_state=True, backend=backend)
    assert out.dtype == dtype and last.dtype == torch.float32
    # the same rounded inputs computed in fp32 give the same answer up to output rounding
    expected = selective_scan(**{k: (None if v is None else v.float()) for k, v in half.items()},
                              delta_softplus=True, backend="ref")
    assert rel_err(out, expected) <= (4e-3 if dtype == torch.float16 else 2e-2)
    half["u"].requires_grad_(True)
    selective_scan(**half, delta_softplus=True, backend=backend).float().sum().backward()
    assert half["u"].grad.dtype == dtype and torch.isfinite(half["u"].grad.float()).all()


@pytest.mark.parametrize("backend", FAST_BACKENDS + ["ref"])
def test_initial_state_continues_a_scan(backend):
    x = make_inputs(2, 4, 50, 6, requires_grad=False)
    full, full_last = selective_scan(**x, delta_softplus=True, return_last_state=True, backend=backend)
    cut = 17
    head = {k: (v[..., :cut] if v is not None and v.dim() == 3 else v) for k, v in x.items()}
    tail = {k: (v[..., cut:] if v is not None and v.dim() == 3 else v) for k, v in x.items()}
    out1, state = selective_scan(**head, delta_softplus=True, return_last_state=True, backend=backend)
    out2, last = selective_scan(**tail, delta_softplus=True, return_last_state=True, backend=backend,
                                initial_state=state)
    assert rel_err(torch.cat([out1, out2], -1), full) <= 1e-6
    assert rel_err(last, full_last) <= 1e-6


def test_initial_state_gradient_matches_reference():
    x = make_inputs(2, 3, 70, 4)
    h0 = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    grads = {}
    for backend in ["cpu", "torch", "ref"]:
        h = h0.detach().clone().requires_grad_(True)
        out = selective_scan(**{k: (v.double() if v is not None else None) for k, v in x.items()},
                             delta_softplus=True, backend=backend, initial_state=h)
        out.pow(2).sum().backward()
        grads[backend] = h.grad
    assert rel_err(grads["cpu"], grads["ref"]) <= 1e-10
    assert rel_err(grads["torch"], grads["ref"]) <= 1e-10


def test_nan_input_propagates():
    x = make_inputs(1, 2, 10, 4, requires_grad=False)
    x["u"][0, 0, 3] = float("nan")
    out = selective_scan(**x, backend="cpu")
    assert torch.isnan(out[0, 0, 3:]).all() and torch.isfinite(out[0, 0, :3]).all()
    assert torch.isfinite(out[0, 1]).all()


@pytest.mark.parametrize("change, message", [
    (dict(u=torch.zeros(2, 4)), r"u has shape \(2, 4\), expected \(\?, \?, \?\)"),
    (dict(delta=torch.zeros(2, 4, 9)), r"delta has shape \(2, 4, 9\), expected \(2, 4, 10\)"),
    (dict(A=torch.zeros(5, 3)), r"A has shape \(5, 3\), expected \(4, \?\)"),
    (dict(B=torch.zeros(2, 3, 10)), r"B has shape \(2, 3, 10\), expected \(4, 6\) or \(2, 6, 10\)"),
    (dict(C=torch.zeros(2, 3, 6, 10)), r"C has shape \(2, 3, 6, 10\): its group count 3 must divide dim 4"),
    (dict(D=torch.zeros(5)), r"D has shape \(5,\), expected \(4\)"),
    (dict(z=torch.zeros(2, 4, 11)), r"z has shape \(2, 4, 11\)"),
    (dict(delta_bias=torch.zeros(4, 1)), r"delta_bias has shape \(4, 1\)"),
    (dict(u=torch.zeros(2, 4, 10, dtype=torch.long)), r"u must be a floating-point tensor, got dtype torch.int64"),
    (dict(u=torch.zeros(2, 4, 0), delta=torch.zeros(2, 4, 0)), r"sequence length must be >= 1"),
])
def test_bad_input_names_the_argument(change, message):
    x = make_inputs(2, 4, 10, 6, requires_grad=False)
    x.update(change)
    with pytest.raises((ValueError, TypeError), match=message):
        selective_scan(**x)


def test_backend_choice_argument_then_environment(monkeypatch):
    from common.ops import resolve_backend
    cpu = torch.device("cpu")
    assert resolve_backend("auto", cpu) == "cpu"
    monkeypatch.setenv("VMS_SCAN_BACKEND", "torch")
    assert resolve_backend("auto", cpu) == "torch"
    assert resolve_backend("ref", cpu) == "ref"  # the argument wins over the environment
    monkeypatch.setenv("VMS_SCAN_BACKEND", "fastest")
    with pytest.raises(ValueError, match="VMS_SCAN_BACKEND='fastest'"):
        resolve_backend("auto", cpu)
    with pytest.raises(ValueError, match="backend 'cuda' needs CUDA tensors"):
        resolve_backend("cuda", cpu)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown without mamba-ssm")
def test_missing_mamba_ssm_names_the_install_command():
    load_selective_scan_fn.cache_clear()
    try:
        load_selective_scan_fn()
    except ImportError as err:
        assert "pip install" in str(err) and "[cuda]" in str(err)
    else:
        pytest.skip("mamba-ssm is importable here")


@pytest.mark.cuda
@pytest.mark.parametrize("backend", ["cuda", "torch"])
def test_cuda_backends_match_reference(backend):
    if backend == "cuda":
        pytest.importorskip("mamba_ssm")
    x = make_inputs(2, 8, 300, 16)
    out, last, grads = run({k: (v.detach().cuda().requires_grad_(True) if v is not None else None)
                            for k, v in x.items()}, backend, True)
    ref_out, ref_last, ref_grads = run(x, "ref", True, cast=torch.float64)
    tol = 2e-3 if backend == "cuda" else 1e-5  # the fused kernel uses exp2f fast math (upstream tolerances)
    assert rel_err(out.cpu(), ref_out) <= tol and rel_err(last.cpu(), ref_last) <= tol
    for name, grad in grads.items():
        assert rel_err(grad.cpu(), ref_grads[name]) <= tol, name
