"""The one selective-scan entry point: validates inputs and dispatches to a backend.

Backends (each in its own file, only this module knows them all):
  cuda   mamba-ssm's fused kernel (GPU, optional extra, imported lazily)
  cpu    our numba kernel with a hand-written backward (fast CPU path)
  torch  plain PyTorch, any device (a GPU without mamba-ssm, a CPU without numba)
  ref    sequential loop under autograd; obviously correct, slow; the tests' reference
"auto" picks cuda / cpu for the tensors' device and falls back to torch when that one is missing (or,
for cuda, when the inputs are float64, which the kernel does not compute).
Precedence: the `backend` argument, then the VMS_SCAN_BACKEND environment variable, then auto.
"""
import functools
import os
import warnings

import torch

from .scan_cuda import KERNEL_DTYPES, MAX_D_STATE, cuda_available, on_kernel_device, scan_cuda
from .scan_ref import scan_ref
from .scan_torch import scan_torch

BACKENDS = ("auto", "cuda", "cpu", "torch", "ref")
ENV_VAR = "VMS_SCAN_BACKEND"


@functools.lru_cache(maxsize=None)
def _load_scan_cpu():
    """The numba backend's entry point, or None (with one warning) when numba is missing."""
    try:
        from .scan_cpu import scan_cpu
    except Exception as err:
        warnings.warn(f"fast CPU scan unavailable ({err!r}); using the pure-PyTorch scan instead")
        return None
    return scan_cpu


_cpu_compile_failed = False


def cpu_available() -> bool:
    return not _cpu_compile_failed and _load_scan_cpu() is not None


def _scan_cpu(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
              initial_state=None):
    global _cpu_compile_failed
    from numba.core.errors import NumbaError
    try:
        return _load_scan_cpu()(u, delta, A, B, C, D, z, delta_bias, delta_softplus, initial_state)
    except NumbaError as err:  # the kernel could not be compiled here: fall back for good
        warnings.warn(f"fast CPU scan failed to compile ({err!r}); using the pure-PyTorch scan instead")
        _cpu_compile_failed = True
        return scan_torch(u, delta, A, B, C, D, z, delta_bias, delta_softplus, initial_state)


_IMPLEMENTATIONS = {"cuda": scan_cuda, "cpu": _scan_cpu, "torch": scan_torch, "ref": scan_ref}


def resolve_backend(backend: str, device: torch.device, dtype: torch.dtype = torch.float32) -> str:
    """The concrete backend `selective_scan` would run for inputs of `dtype` on `device`."""
    name = backend if backend != "auto" else os.environ.get(ENV_VAR, "auto")
    if name not in BACKENDS:
        source = "backend" if backend != "auto" else ENV_VAR
        raise ValueError(f"{source}={name!r}: expected one of {BACKENDS}")
    if name == "auto":
        if on_kernel_device(device):
            return "cuda" if dtype in KERNEL_DTYPES and cuda_available() else "torch"
        if device.type == "cpu":
            return "cpu" if cpu_available() else "torch"
        return "torch"
    if name == "cuda":
        if not on_kernel_device(device):
            raise ValueError(f"backend 'cuda' needs CUDA tensors, got tensors on {device}")
        if dtype not in KERNEL_DTYPES:
            raise ValueError(f"backend 'cuda' (mamba-ssm) computes fp32/fp16/bf16 inputs, got {dtype}; "
                             "use backend='torch'")
    if name == "cpu":
        if device.type != "cpu":
            raise ValueError(f"backend 'cpu' needs CPU tensors, got tensors on {device}")
        if not cpu_available():
            return "torch"
    return name


def _check(name, x, shapes, allow_none=False):
    """x must be a floating tensor with one of `shapes` (tuples of ints, or None for any size)."""
    if x is None:
        if allow_none:
            return
        raise ValueError(f"{name} is required")
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    for shape in shapes:
        if x.dim() == len(shape) and all(e is None or e == s for e, s in zip(shape, x.shape)):
            return
    expected = " or ".join("(" + ", ".join("?" if e is None else str(e) for e in s) + ")" for s in shapes)
    raise ValueError(f"{name} has shape {tuple(x.shape)}, expected {expected}")


def _canonical(u, delta, A, B, C, D, z, delta_bias, initial_state):
    """Validates shapes/dtypes and returns the inputs in the layout every backend takes:
    B and C either (d, n) or (b, g, n, l)."""
    _check("u", u, [(None, None, None)])
    batch, dim, length = u.shape
    if length < 1:
        raise ValueError(f"u has shape {tuple(u.shape)}: the sequence length must be >= 1")
    _check("delta", delta, [(batch, dim, length)])
    _check("A", A, [(dim, None)])
    n_state = A.shape[1]
    groups = {}
    for name, x in (("B", B), ("C", C)):
        _check(name, x, [(dim, n_state), (batch, n_state, length), (batch, None, n_state, length)])
        if x.dim() == 4:
            g = x.shape[1]
            if g < 1 or dim % g:
                raise ValueError(f"{name} has shape {tuple(x.shape)}: its group count {g} must divide "
                                 f"dim {dim}")
            groups[name] = g
    if len(set(groups.values())) > 1:
        raise ValueError(f"B and C must have the same number of groups, got B {tuple(B.shape)} and "
                         f"C {tuple(C.shape)}")
    _check("D", D, [(dim,)], allow_none=True)
    _check("z", z, [(batch, dim, length)], allow_none=True)
    _check("delta_bias", delta_bias, [(dim,)], allow_none=True)
    _check("initial_state", initial_state, [(batch, dim, n_state)], allow_none=True)
    devices = {x.device for x in (u, delta, A, B, C, D, z, delta_bias, initial_state) if x is not None}
    if len(devices) > 1:
        raise ValueError(f"all inputs must be on one device, got {sorted(map(str, devices))}")
    B = B.unsqueeze(1) if B.dim() == 3 else B
    C = C.unsqueeze(1) if C.dim() == 3 else C
    return u, delta, A, B, C, D, z, delta_bias, initial_state


def selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                   return_last_state=False, *, backend="auto", initial_state=None):
    """mamba_ssm's selective_scan_fn semantics on every device.

    u, delta, z: (batch, dim, L). A: (dim, N). B, C: (dim, N) constant, (batch, N, L) variable or
    (batch, G, N, L) grouped (channel d reads group d // (dim / G)). D, delta_bias: (dim,).
    delta = softplus(delta + delta_bias) if delta_softplus; h_t = exp(delta_t A) h_t-1 + delta_t B_t u_t;
    out_t = <h_t, C_t> + D u_t, times silu(z_t) if z is given.
    initial_state (batch, dim, N), an extension for streaming: the state before step 0 (zeros if None);
    not supported by the cuda backend.
    fp16/bf16/fp32 inputs are computed in fp32 (float64 stays float64; the cuda backend takes no float64
    and first rounds delta, z and variable B/C to u's dtype, as its kernel requires). Returns out
    (batch, dim, L) in u's dtype, and with return_last_state also the last state (batch, dim, N) in fp32
    (no gradient).
    """
    u, delta, A, B, C, D, z, delta_bias, initial_state = _canonical(
        u, delta, A, B, C, D, z, delta_bias, initial_state)
    name = resolve_backend(backend, u.device, u.dtype)
    if name == "cuda" and u.shape[0] == 0:
        name = "torch"  # an empty batch is an empty launch grid, which CUDA refuses: nothing to compute
    if name == "cuda":
        if A.shape[1] > MAX_D_STATE:
            raise ValueError(f"A has shape {tuple(A.shape)}: the cuda backend supports d_state <= "
                             f"{MAX_D_STATE}")
        out, last_state = scan_cuda(u, delta, A, B, C, D, z, delta_bias, delta_softplus, initial_state)
    else:
        compute = torch.float64 if u.dtype == torch.float64 else torch.float32

        def cast(x):
            return None if x is None else x.to(compute)

        out, last_state = _IMPLEMENTATIONS[name](
            cast(u), cast(delta), cast(A), cast(B), cast(C), cast(D), cast(z), cast(delta_bias),
            delta_softplus, cast(initial_state))
        out = out.to(u.dtype)
    if not return_last_state:
        return out
    last_state = last_state.detach()
    return out, (last_state if last_state.dtype == torch.float64 else last_state.float())
