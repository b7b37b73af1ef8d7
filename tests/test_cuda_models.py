"""Every mixer and every task's compare configs (baseline first, then the variants) on the cuda path:
on CPU through mamba-ssm's and causal-conv1d's real interfaces with the stand-in kernels
(tests/cuda_standin.py), and, marked `cuda`, with the real kernels on a GPU against the same weights on
CPU. Same inputs, forward outputs and every parameter's gradient compared."""
import copy
import importlib
from pathlib import Path

import pytest
import torch

from common import build_mixer
from common.engine import MODELS, get_task, load_config
from common.mixers.ssm import SelectiveSSMMixer
from common.ops import scan_cuda
from conftest import rel_err

ROOT = Path(__file__).resolve().parents[1]
D_MODEL = 12  # d_inner 24 (mamba, vim) and 12 (dbm): one of them not a multiple of 8, as the kernels care
MIXERS = [("mamba", {}), ("vim", {}), ("dbm", {}), ("attn", {"n_head": 4}), ("attn", {"n_head": 4, "window_size": 5})]
KERNEL_CALLS = ("selective_scan_cuda.fwd", "selective_scan_cuda.bwd", "causal_conv1d_cuda.causal_conv1d_fwd",
                "causal_conv1d_cuda.causal_conv1d_bwd")


def task_configs():
    """(task name, config) for every landed task package (placeholders define no TASK)."""
    pairs = []
    for init in sorted(ROOT.glob("*/__init__.py")):
        name = init.parent.name
        if name not in ("common", "tools", "tests") and hasattr(importlib.import_module(name), "TASK"):
            pairs += [(name, config) for config in get_task(name).compare_configs]
    return pairs


TASK_CONFIGS = task_configs()


def flatten(out):
    if isinstance(out, torch.Tensor):
        return [out] if out.is_floating_point() else []
    if isinstance(out, dict):
        out = list(out.values())
    return [t for o in out for t in flatten(o)] if isinstance(out, (list, tuple)) else []


def forward_backward(model, *inputs, **kw):
    """(floating outputs, {parameter name: gradient}) of one forward and a fixed loss's backward."""
    model.zero_grad(set_to_none=True)
    outs = flatten(model(*inputs, **kw))
    sum((o.float() ** 2).mean() + o.float().mean() for o in outs).backward()
    return [o.detach() for o in outs], {n: p.grad for n, p in model.named_parameters() if p.grad is not None}


def assert_same(got, expected, out_tol, grad_tol):
    """Each output and gradient within tol of the expected one's largest entry; a gradient that should
    be zero (a key bias before a softmax) is only rounding noise, so its scale is at least 1e-3 of the
    largest gradient."""
    (outs, grads), (ref_outs, ref_grads) = got, expected
    assert len(outs) == len(ref_outs) and grads.keys() == ref_grads.keys()
    for i, (o, r) in enumerate(zip(outs, ref_outs)):
        assert o.shape == r.shape and rel_err(o.cpu(), r.cpu()) <= out_tol, f"output {i}"
    floor = 1e-3 * max(g.abs().max().item() for g in ref_grads.values())
    for name, g in grads.items():
        ref = ref_grads[name].cpu()
        error = (g.cpu().double() - ref.double()).abs().max().item() / max(ref.abs().max().item(), floor)
        assert error <= grad_tol, f"{name}: {error:.2e}"


def has_ssm(model):
    return any(isinstance(m, SelectiveSSMMixer) for m in model.modules())


def mixer_case(kind, kw):
    torch.manual_seed(0)
    mixer = build_mixer(kind, D_MODEL, **kw)
    x = torch.randn(3, 37, D_MODEL)
    mask = torch.arange(37) < torch.tensor([[37], [20], [1]])
    return mixer, x, mask


@pytest.fixture(scope="session")
def toy_data_root(tmp_path_factory):
    """A directory holding the toy data of the tasks asked for so far (a model may read its class
    counts from the data, e.g. testra_mamba's actions.csv), at the configs' relative paths."""
    root, written = tmp_path_factory.mktemp("toy_data"), set()

    def with_task(name):
        if name not in written:
            task = get_task(name)
            task.make_toy_data(str(root / task.toy_data_root))
            written.add(name)
        return root
    return with_task


def task_case(task_name, config):
    cfg = load_config(str(ROOT / config))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()  # eval: no dropout, so both runs compute the same function
    return model, get_task(task_name).flops_inputs(cfg)


def on_standin_and_cpu_path(monkeypatch, run):
    """(run() on the cpu path, run() on the kernel path through the stand-ins)."""
    with monkeypatch.context() as m:
        m.setattr(scan_cuda, "KERNEL_DEVICE", "cuda")  # CPU tensors take the cpu path again
        expected = run()
    return expected, run()


@pytest.mark.parametrize("kind, kw", MIXERS)
def test_mixer_through_mamba_ssm_interfaces(standin_kernels, monkeypatch, kind, kw):
    mixer, x, mask = mixer_case(kind, kw)
    expected, got = on_standin_and_cpu_path(monkeypatch, lambda: forward_backward(mixer, x, mask))
    calls = [standin_kernels[c] for c in KERNEL_CALLS]
    assert calls == ([0, 0, 0, 0] if kind == "attn" else [2 if kind == "vim" else 1] * 4)  # vim: two branches
    assert_same(got, expected, 1e-5, 1e-4)


@pytest.mark.parametrize("task_name, config", TASK_CONFIGS)
def test_task_model_through_mamba_ssm_interfaces(standin_kernels, monkeypatch, toy_data_root, task_name, config):
    monkeypatch.chdir(toy_data_root(task_name))
    model, inputs = task_case(task_name, config)
    expected, got = on_standin_and_cpu_path(monkeypatch, lambda: forward_backward(model, *inputs, mode="tensor"))
    calls = [standin_kernels[c] for c in KERNEL_CALLS]
    assert all(calls) if has_ssm(model) else not any(calls)
    assert_same(got, expected, 1e-4, 1e-2)  # fp32 rounding alone moves ASFormer's gradients by 2e-3


@pytest.fixture
def exact_cuda_matmuls(monkeypatch):
    """TF32 off, so CUDA and CPU differ by the scan kernels' numerics, not by rounded matmuls and convs."""
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)


# The fused scan is not bit-exact with a sequential loop (exp2f fast math, chunked; mamba-ssm's own fp32
# tolerances are rtol 6e-4 / atol 2e-3), and deep models amplify rounding in their gradients (see the
# stand-in test): relative to each tensor's largest entry. A wrong call gives errors of order 1.
CUDA_OUT_TOL, CUDA_GRAD_TOL = 2e-3, 5e-2


@pytest.mark.cuda
@pytest.mark.parametrize("kind, kw", MIXERS)
def test_mixer_cuda_matches_cpu(exact_cuda_matmuls, kind, kw):
    mixer, x, mask = mixer_case(kind, kw)
    expected = forward_backward(mixer, x, mask)
    got = forward_backward(copy.deepcopy(mixer).cuda(), x.cuda(), mask.cuda())
    assert_same(got, expected, CUDA_OUT_TOL, CUDA_GRAD_TOL)


@pytest.mark.cuda
@pytest.mark.parametrize("task_name, config", TASK_CONFIGS)
def test_task_model_cuda_matches_cpu(exact_cuda_matmuls, monkeypatch, toy_data_root, task_name, config):
    monkeypatch.chdir(toy_data_root(task_name))
    model, inputs = task_case(task_name, config)
    expected = forward_backward(model, *inputs, mode="tensor")
    got = forward_backward(copy.deepcopy(model).cuda(), *[x.cuda() for x in inputs], mode="tensor")
    assert_same(got, expected, CUDA_OUT_TOL, CUDA_GRAD_TOL)


@pytest.mark.cuda
def test_mamba_streaming_on_cuda_matches_one_pass(exact_cuda_matmuls):
    """One pass runs the kernels; streaming (a state to start from) runs our torch scan and F.conv1d."""
    mixer, x, _ = mixer_case("mamba", {})
    mixer, x = mixer.cuda().eval(), x.cuda()
    with torch.no_grad():
        full = mixer(x)
        state, outs = None, []
        for start in range(0, x.shape[1], 5):
            out, state = mixer.stream(x[:, start:start + 5], state)
            outs.append(out)
    assert rel_err(torch.cat(outs, dim=1), full) <= CUDA_OUT_TOL
