"""mamba-ssm's fused CUDA selective scan, imported only when first used."""
import functools

import torch

INSTALL_HINT = ('pip install "video-mamba-suite[cuda]" (mamba-ssm and causal-conv1d, built for your '
                'torch and CUDA); or pick backend="torch", which runs on any device')
MAX_D_STATE = 256  # the kernel's limit
KERNEL_DTYPES = (torch.float32, torch.float16, torch.bfloat16)  # what the kernels compute (fp32 inside)

# The device type the compiled kernels (mamba-ssm's and causal-conv1d's) take tensors on. Only tests
# change it, to "cpu": they run the kernels' real Python interfaces on CPU tensors against a stand-in
# for the compiled modules (tests/cuda_standin.py).
KERNEL_DEVICE = "cuda"


def on_kernel_device(device: torch.device) -> bool:
    return device.type == KERNEL_DEVICE


@functools.lru_cache(maxsize=None)
def load_selective_scan_fn():
    """mamba_ssm's selective_scan_fn, or ImportError with the install command."""
    try:
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
    except Exception as err:  # mamba_ssm raises more than ImportError when its CUDA module is absent
        raise ImportError(f"the cuda scan backend needs mamba-ssm, which failed to import ({err!r}): "
                          f"{INSTALL_HINT}") from err
    return selective_scan_fn


def cuda_available() -> bool:
    try:
        load_selective_scan_fn()
    except ImportError:
        return False
    return True


def scan_cuda(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
              initial_state=None):
    """Returns (out in u's dtype, last_state fp32, contiguous). Canonical inputs (B, C (d, n) or
    (b, g, n, l)), u in KERNEL_DTYPES. The kernel takes delta, z and variable B/C in u's dtype, A,
    constant B/C, D and delta_bias in fp32, every last dimension contiguous: other dtypes are cast
    here (autograd casts the gradients back) and the kernel computes in fp32 inside."""
    if initial_state is not None:
        raise ValueError("the cuda scan backend (mamba-ssm) takes no initial_state; use backend='torch'")

    def prepare(x, dtype):
        return None if x is None else x.to(dtype).contiguous()

    def bc_dtype(x):
        return u.dtype if x.dim() == 4 else torch.float32

    fn = load_selective_scan_fn()
    out, last_state = fn(u.contiguous(), prepare(delta, u.dtype), prepare(A, torch.float32),
                         prepare(B, bc_dtype(B)), prepare(C, bc_dtype(C)), prepare(D, torch.float32),
                         prepare(z, u.dtype), prepare(delta_bias, torch.float32), delta_softplus,
                         return_last_state=True)
    return out, last_state.contiguous()  # a view into the kernel's per-chunk states otherwise
