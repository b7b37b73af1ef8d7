"""Stand-ins for the compiled modules of mamba-ssm and causal-conv1d (selective_scan_cuda,
causal_conv1d_cuda), so CPU tests run our cuda backend through those packages' real Python interfaces
(mamba_ssm.ops.selective_scan_interface, causal_conv1d.causal_conv1d_interface and cpp_functions).

Each entry point takes the arguments of the C++ function it stands for (csrc/selective_scan/selective_scan.cpp
of mamba-ssm 2.3.2.post1, csrc/causal_conv1d.cpp of causal-conv1d 1.7.0), makes each of its TORCH_CHECKs
except is_cuda, plus the layout assumptions its CUDA code makes without checking them (said where they
are made), and raises RuntimeError where the kernel would refuse the call. Results are computed in
float64 and handed back in the dtypes, shapes and layouts the kernels return: the scan by our
plain-PyTorch scan (common.ops.scan_torch, checked against the sequential reference in
test_selective_scan; the sequential loop itself made the model-level tests 3x slower), its backward by
autograd through it; the convolution directly, its backward by hand. Paths the suite does not take
(complex A, seq_idx, final-state gradients, recomputed out_z) raise NotImplementedError.
"""
import functools
import importlib
import importlib.util
import math
import sys
import types
from collections import Counter

import torch
import torch.nn.functional as F

from common.ops.scan_torch import scan_torch

PACKAGES = ("mamba_ssm", "causal_conv1d")
KERNEL_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
SCAN_CHUNK = 2048  # the scan kernel works in chunks of 2048 steps and keeps each chunk's final state
calls = Counter()  # entry point -> number of calls, so tests can tell the kernel path ran


def check(condition, message):
    if not condition:
        raise RuntimeError(f"kernel stand-in: {message}")


def check_shape(x, shape, name):
    check(tuple(x.shape) == tuple(shape), f"{name} must have shape {tuple(shape)}, got {tuple(x.shape)}")


def last_dim_contiguous(x):
    return x.stride(-1) == 1 or x.size(-1) == 1


def to64(*tensors, grad=False):
    return [None if t is None else t.detach().double().requires_grad_(grad) for t in tensors]


# ---- selective_scan_cuda ---------------------------------------------------------------------------

def check_scan(u, delta, A, B, C, D, z, delta_bias):
    """selective_scan_fwd/bwd's shared checks; returns (batch, dim, seqlen, dstate)."""
    check(u.dtype in KERNEL_DTYPES, f"u has dtype {u.dtype}; the kernel takes fp32/fp16/bf16")
    if A.is_complex():
        raise NotImplementedError("complex A: the suite never passes it")
    check(A.dtype == torch.float32, f"A has dtype {A.dtype}; the kernel takes fp32")
    check(delta.dtype == u.dtype, f"delta has dtype {delta.dtype}, u {u.dtype}: they must match")
    for name, x in (("B", B), ("C", C)):
        variable = x.dim() >= 3
        expected = u.dtype if variable else A.dtype
        check(x.dtype == expected, f"{name} has dtype {x.dtype}; a {'variable' if variable else 'constant'} "
                                   f"{name} must be {expected}")
    check(u.dim() == 3, f"u must be (batch, dim, seqlen), got {tuple(u.shape)}")
    check(last_dim_contiguous(u), f"u has strides {u.stride()}: its last dim must be contiguous")
    check(last_dim_contiguous(delta), f"delta has strides {delta.stride()}: its last dim must be contiguous")
    batch, dim, seqlen = u.shape
    check(A.dim() == 2, f"A must be (dim, dstate), got {tuple(A.shape)}")
    dstate = A.shape[1]
    n_groups = B.shape[1] if B.dim() >= 3 else 1
    check(dstate <= 256, "selective_scan only supports state dimension <= 256")
    check_shape(delta, (batch, dim, seqlen), "delta")
    check_shape(A, (dim, dstate), "A")
    for name, x in (("B", B), ("C", C)):
        if x.dim() >= 3:
            check_shape(x, (batch, n_groups, dstate, seqlen), name)
            check(last_dim_contiguous(x), f"{name} has strides {x.stride()}: its last dim must be contiguous")
        else:
            check_shape(x, (dim, dstate), name)
    # Not checked by the kernel, which reads group d // (dim / n_groups): another count reads wrong groups.
    check(dim % n_groups == 0, f"{n_groups} groups do not divide dim {dim}")
    for name, x in (("D", D), ("delta_bias", delta_bias)):
        if x is not None:
            check(x.dtype == torch.float32, f"{name} has dtype {x.dtype}; the kernel takes fp32")
            check(last_dim_contiguous(x), f"{name} must be contiguous")
            check_shape(x, (dim,), name)
    if z is not None:
        check(z.dtype == u.dtype, f"z has dtype {z.dtype}, u {u.dtype}: they must match")
        check(last_dim_contiguous(z), f"z has strides {z.stride()}: its last dim must be contiguous")
        check_shape(z, (batch, dim, seqlen), "z")
    return batch, dim, seqlen, dstate


def reference_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus):
    """float64 inputs -> (out before the z gate, out_z or None, x): x (batch, dim, n_chunks, 2 dstate)
    holds the scan's running prefix at the end of each chunk of SCAN_CHUNK steps, as the kernel stores
    it: the decay product since step 0, exp(A sum dt), at even and the state at odd positions (the last
    chunk's odd entries are the last state)."""
    out, _ = scan_torch(u, delta, A, B, C, D, None, delta_bias, delta_softplus)
    with torch.no_grad():
        dt = delta + delta_bias[:, None] if delta_bias is not None else delta
        dt = F.softplus(dt) if delta_softplus else dt
        x, h = [], None
        for start in range(0, u.shape[-1], SCAN_CHUNK):
            part = slice(start, start + SCAN_CHUNK)
            bc = [v[..., part] if v.dim() == 4 else v for v in (B, C)]
            _, h = scan_torch(u[..., part], delta[..., part], A, *bc, None, None, delta_bias, delta_softplus,
                              initial_state=h)
            decay = torch.exp(A * dt[..., :start + SCAN_CHUNK].sum(-1, keepdim=True))
            x.append(torch.stack([decay, h], dim=-1).flatten(-2))
    return out, (out * F.silu(z) if z is not None else None), torch.stack(x, dim=2)


def selective_scan_fwd(u, delta, A, B, C, D, z, delta_bias, delta_softplus):
    """-> [out (like delta), x (fp32, contiguous)] + [out_z (like z)] with z."""
    calls["selective_scan_cuda.fwd"] += 1
    check_scan(u, delta, A, B, C, D, z, delta_bias)
    with torch.no_grad():
        out, out_z, x = reference_scan(*to64(u, delta, A, B, C, D, z, delta_bias), delta_softplus)
    result = [torch.empty_like(delta).copy_(out), x.float().contiguous()]
    if z is not None:
        result.append(torch.empty_like(z).copy_(out_z))
    return result


def selective_scan_bwd(u, delta, A, B, C, D, z, delta_bias, dout, x, out, dz, delta_softplus, recompute_out_z):
    """-> [du, ddelta, dA, dB, dC, dD or None, ddelta_bias or None] + [dz] with z; variable dB/dC in the
    input dtype, the rest like their inputs."""
    calls["selective_scan_cuda.bwd"] += 1
    batch, dim, seqlen, dstate = check_scan(u, delta, A, B, C, D, z, delta_bias)
    if recompute_out_z:
        raise NotImplementedError("recompute_out_z: selective_scan_fn never asks for it")
    check(dout.dtype == u.dtype, f"dout has dtype {dout.dtype}, u {u.dtype}: they must match")
    check(last_dim_contiguous(dout), f"dout has strides {dout.stride()}: its last dim must be contiguous")
    check_shape(dout, (batch, dim, seqlen), "dout")
    if z is not None:
        check(out is not None, "out (the scan output before the z gate) is required with z")
        for name, t in (("out", out), ("dz", dz)):
            if t is not None:
                check(t.dtype == u.dtype, f"{name} has dtype {t.dtype}, u {u.dtype}: they must match")
                check(last_dim_contiguous(t), f"{name} has strides {t.stride()}: its last dim must be contiguous")
                check_shape(t, (batch, dim, seqlen), name)
    n_chunks = math.ceil(seqlen / SCAN_CHUNK)
    check(n_chunks == 1 or x is not None, "x (the forward's chunk states) is required beyond one chunk")
    if x is not None:
        check(x.dtype == A.dtype, f"x has dtype {x.dtype}; it must be A's, {A.dtype}")
        check(x.is_contiguous(), "x must be contiguous")
        check_shape(x, (batch, dim, n_chunks, 2 * dstate), "x")
    inputs = to64(u, delta, A, B, C, D, z, delta_bias, grad=True)
    with torch.enable_grad():
        out64, out_z64, _ = reference_scan(*inputs, delta_softplus)
        present = [t for t in inputs if t is not None]
        grads = iter(torch.autograd.grad(out_z64 if z is not None else out64, present, dout.double()))
    du, ddelta, dA, dB, dC, dD, dz64, ddelta_bias = [None if t is None else next(grads) for t in inputs]
    result = [torch.empty_like(u).copy_(du), torch.empty_like(delta).copy_(ddelta), torch.zeros_like(A).copy_(dA),
              torch.zeros_like(B).copy_(dB), torch.zeros_like(C).copy_(dC),
              None if D is None else torch.zeros_like(D).copy_(dD),
              None if delta_bias is None else torch.zeros_like(delta_bias).copy_(ddelta_bias)]
    if z is not None:
        result.append((dz if dz is not None else torch.empty_like(z)).copy_(dz64))
    return result


# ---- causal_conv1d_cuda ----------------------------------------------------------------------------

def check_conv(x, weight, bias, seq_idx, initial_states):
    """causal_conv1d_fwd/bwd's shared checks; returns whether x is read as channel-last."""
    for name, t in (("x", x), ("weight", weight)):
        check(t.dtype in KERNEL_DTYPES, f"{name} has dtype {t.dtype}; the kernel takes fp32/fp16/bf16")
    check(x.dim() == 3, f"x must be (batch, dim, seqlen), got {tuple(x.shape)}")
    batch, dim, seqlen = x.shape
    width = weight.shape[-1]
    check_shape(weight, (dim, width), "weight")
    check(x.stride(2) == 1 or x.stride(1) == 1, f"x has strides {x.stride()}: L or channels must be innermost")
    channel_last = x.stride(1) == 1 and x.stride(2) > 1
    if channel_last:
        check(dim % 8 == 0, "causal_conv1d only supports channel dimension divisible by 8 for now")
        check(x.stride(2) % 8 == 0 and x.stride(0) % 8 == 0, "causal_conv1d with channel last layout requires "
              "strides (x.stride(0) and x.stride(2)) to be multiples of 8")
    check(2 <= width <= 4, "causal_conv1d only supports width between 2 and 4")
    if bias is not None:
        check(bias.dtype == weight.dtype, f"bias has dtype {bias.dtype}, weight {weight.dtype}: they must match")
        check(bias.stride(-1) == 1, "bias must be contiguous")
        check_shape(bias, (dim,), "bias")
    if seq_idx is not None:
        raise NotImplementedError("seq_idx: the suite never passes it")
    if initial_states is not None:
        check(channel_last, "initial_states is only supported for channel last layout")
        check(initial_states.dtype == x.dtype, "initial_states must have x's dtype")
        check_shape(initial_states, (batch, dim, width - 1), "initial_states")
        check(initial_states.stride(1) == 1, "initial_states must be channel-last")
    return channel_last


def reference_conv(x, weight, bias, initial_states, silu_activation):
    """float64 -> (out, the padded input, the pre-activation)."""
    width, length = weight.shape[1], x.shape[-1]
    padded = torch.cat([initial_states, x], dim=-1) if initial_states is not None else F.pad(x, (width - 1, 0))
    pre = sum(weight[:, k, None] * padded[..., k:k + length] for k in range(width))
    pre = pre + bias[:, None] if bias is not None else pre
    return (F.silu(pre) if silu_activation else pre), padded, pre


def reference_conv_grads(x, weight, bias, initial_states, silu_activation, dout):
    """float64 -> (dx, dweight, dbias or None, dinitial_states or None), by hand: the custom ops that call
    the kernel run below autograd."""
    width, length = weight.shape[1], x.shape[-1]
    _, padded, pre = reference_conv(x, weight, bias, initial_states, silu_activation)
    if silu_activation:
        sig = torch.sigmoid(pre)
        dout = dout * sig * (1 + pre * (1 - sig))
    dweight = torch.stack([(dout * padded[..., k:k + length]).sum((0, 2)) for k in range(width)], dim=1)
    dpadded = torch.zeros_like(padded)
    for k in range(width):
        dpadded[..., k:k + length] += weight[:, k, None] * dout
    return (dpadded[..., width - 1:], dweight, None if bias is None else dout.sum((0, 2)),
            None if initial_states is None else dpadded[..., :width - 1])


def causal_conv1d_fwd(x, weight, bias, seq_idx, initial_states, out, final_states_out, silu_activation):
    """Writes the convolution into `out` (and the last width - 1 inputs into final_states_out)."""
    calls["causal_conv1d_cuda.causal_conv1d_fwd"] += 1
    channel_last = check_conv(x, weight, bias, seq_idx, initial_states)
    # Not checked by the C++: the kernel writes out through its strides but vectorised along x's innermost
    # dim, in x's dtype, so out must match x in shape, dtype and innermost dim.
    check_shape(out, x.shape, "out")
    check(out.dtype == x.dtype, f"out has dtype {out.dtype}, x {x.dtype}: they must match")
    check(out.stride(1 if channel_last else 2) == 1, f"out has strides {out.stride()}, x {x.stride()}: the "
          "kernel writes out with x's innermost dim")
    with torch.no_grad():
        x64, w64, b64, init64 = to64(x, weight, bias, initial_states)
        result, padded, _ = reference_conv(x64, w64, b64, init64, silu_activation)
        out.copy_(result)
        if final_states_out is not None:
            check(channel_last, "final_states is only supported for channel last layout")
            check(final_states_out.dtype == x.dtype, "final_states_out must have x's dtype")
            check_shape(final_states_out, (x.shape[0], x.shape[1], weight.shape[1] - 1), "final_states_out")
            check(final_states_out.stride(1) == 1, "final_states_out must be channel-last")
            final_states_out.copy_(padded[..., padded.shape[-1] - (weight.shape[1] - 1):])


def causal_conv1d_bwd(x, weight, bias, dout, seq_idx, initial_states, dfinal_states, dx, dweight, dbias,
                      dinitial_states, silu_activation):
    """Writes dx and dinitial_states, accumulates into dweight and dbias (fp32)."""
    calls["causal_conv1d_cuda.causal_conv1d_bwd"] += 1
    check((bias is None) == (dbias is None), "bias and dbias must be given together")
    channel_last = check_conv(x, weight, bias, seq_idx, initial_states)
    check_shape(dout, x.shape, "dout")
    # the C++ gives dout x's layout itself before checking it
    if not channel_last and dout.stride(2) != 1:
        dout = dout.contiguous()
    if channel_last and dout.stride(1) != 1:
        dout = dout.transpose(-1, -2).contiguous().transpose(-1, -2)
    if channel_last:
        check(dout.stride(2) % 8 == 0 and dout.stride(0) % 8 == 0, "causal_conv1d with channel last layout "
              "requires strides (dout.stride(0) and dout.stride(2)) to be multiples of 8")
    check(dx.dtype == x.dtype, f"dx has dtype {dx.dtype}, x {x.dtype}: they must match")
    check_shape(dx, x.shape, "dx")
    check(dx.stride(1 if channel_last else 2) == 1, f"dx has strides {dx.stride()}: it must have x's layout "
          f"({'channel-last' if channel_last else 'L innermost'})")
    if dfinal_states is not None:
        raise NotImplementedError("dfinal_states: the suite never asks for final states")
    # Not checked by the C++: the kernel accumulates float sums into dweight and dbias.
    check(dweight.dtype == torch.float32, f"dweight has dtype {dweight.dtype}; the kernel accumulates fp32")
    check_shape(dweight, weight.shape, "dweight")
    if dbias is not None:
        check(dbias.dtype == torch.float32, f"dbias has dtype {dbias.dtype}; the kernel accumulates fp32")
        check_shape(dbias, bias.shape, "dbias")
    if dinitial_states is not None:
        check(initial_states is not None, "dinitial_states without initial_states")
        check(dinitial_states.stride(1) == 1, "dinitial_states must be channel-last")
    gx, gw, gb, ginit = reference_conv_grads(*to64(x, weight, bias, initial_states), silu_activation,
                                             dout.double())
    dx.copy_(gx)
    dweight.add_(gw)
    if dbias is not None:
        dbias.add_(gb)
    if dinitial_states is not None:
        dinitial_states.copy_(ginit)


# ---- importing the real packages against the stand-ins ---------------------------------------------

def compiled_modules():
    """{name: module} of the stand-ins, for sys.modules."""
    scan = types.ModuleType("selective_scan_cuda", "stand-in: tests/cuda_standin.py")
    scan.fwd, scan.bwd = selective_scan_fwd, selective_scan_bwd
    conv = types.ModuleType("causal_conv1d_cuda", "stand-in: tests/cuda_standin.py")
    conv.causal_conv1d_fwd, conv.causal_conv1d_bwd = causal_conv1d_fwd, causal_conv1d_bwd
    return {"selective_scan_cuda": scan, "causal_conv1d_cuda": conv}


def installed() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in PACKAGES)


def _ours(name):
    return name.split(".")[0] in PACKAGES + tuple(compiled_modules())


@functools.lru_cache(maxsize=None)
def interface_modules():
    """Imports mamba_ssm (its whole package, as our backend does) and causal_conv1d against the
    stand-ins, once per process (importing mamba_ssm, which loads transformers and triton, takes
    seconds). Returns {name: module} of everything imported under those names, stand-ins included, and
    takes them out of sys.modules again: outside the tests that ask for them (tests/conftest.py
    `standin_kernels`), mamba-ssm stays what it is on a CPU machine, not importable."""
    loaded = sorted(name for name in sys.modules if _ours(name))
    if loaded:
        raise RuntimeError(f"{loaded} already imported in this process (the real kernels?); the stand-in "
                           "cannot replace them")
    sys.modules.update(compiled_modules())
    try:
        importlib.import_module("mamba_ssm.ops.selective_scan_interface")
        importlib.import_module("causal_conv1d")
        return {name: module for name, module in sys.modules.items() if _ours(name)}
    finally:
        for name in [name for name in sys.modules if _ours(name)]:
            del sys.modules[name]
