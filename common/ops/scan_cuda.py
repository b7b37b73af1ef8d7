"""mamba-ssm's fused CUDA selective scan, imported only when first used."""
import functools

INSTALL_HINT = ('pip install "video-mamba-suite[cuda]" (mamba-ssm and causal-conv1d, built for your '
                'torch and CUDA); or pick backend="torch", which runs on any device')
MAX_D_STATE = 256  # the kernel's limit


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
    """Returns (out in u's dtype, last_state fp32). mamba-ssm keeps fp16/bf16 inputs as they are and
    computes in fp32 inside the kernel."""
    if initial_state is not None:
        raise ValueError("the cuda scan backend (mamba-ssm) takes no initial_state; use backend='torch'")
    fn = load_selective_scan_fn()
    return fn(u.contiguous(), delta.contiguous(), A.contiguous(), B.contiguous(), C.contiguous(), D,
              z.contiguous() if z is not None else None, delta_bias, delta_softplus,
              return_last_state=True)
