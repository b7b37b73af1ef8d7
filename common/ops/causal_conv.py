"""Causal depthwise conv1d: causal_conv1d's CUDA kernel when present, F.conv1d on other GPUs, and
on CPU a sum of `width` shifted products (oneDNN's depthwise conv1d backward is ~50x slower there)."""
import functools

import torch
import torch.nn.functional as F

from .scan_cuda import KERNEL_DTYPES, on_kernel_device


@functools.lru_cache(maxsize=None)
def _load_causal_conv1d_fn():
    try:
        from causal_conv1d import causal_conv1d_fn
    except Exception:  # absent, or built for another torch/CUDA: fall back quietly, it is only speed
        return None
    return causal_conv1d_fn


def _kernel_takes(x, weight, initial_state):
    """What causal_conv1d's kernel computes: widths 2..4, fp32/fp16/bf16, no initial state (that needs
    its channel-last layout, which also needs dim % 8 == 0), a non-empty batch (an empty launch grid)."""
    return (on_kernel_device(x.device) and initial_state is None and 2 <= weight.shape[1] <= 4
            and x.dtype in KERNEL_DTYPES and weight.dtype in KERNEL_DTYPES and x.shape[0] > 0)


def causal_conv1d(x, weight, bias=None, activation=None, initial_state=None):
    """x (b, d, l); weight (d, w) or Mamba's (d, 1, w); bias (d,); activation None or "silu".
    initial_state (b, d, w - 1): the inputs that precede x (streaming); zeros when None.
    Returns (b, d, l): out_t = sum_k weight[:, k] * x_{t - (w - 1) + k} (+ bias)."""
    if activation not in (None, "silu"):
        raise ValueError(f"activation must be None or 'silu', got {activation!r}")
    weight = weight.reshape(weight.shape[0], -1)
    width = weight.shape[1]
    fn = _load_causal_conv1d_fn() if _kernel_takes(x, weight, initial_state) else None
    if fn is not None:
        # The kernel reads a tensor with unit channel stride (our mixers' (B, L, D) -> (B, D, L) views)
        # as channel-last, which it supports only for dim % 8 == 0: give it mamba_ssm's layout, L innermost.
        return fn(x if x.stride(-1) == 1 else x.contiguous(), weight,
                  None if bias is None else bias.to(weight.dtype), activation=activation)
    length = x.shape[-1]
    if initial_state is None:
        x = F.pad(x, (width - 1, 0))
    else:
        x = torch.cat([initial_state.to(x.dtype), x], dim=-1)
    if x.is_cuda:
        out = F.conv1d(x, weight.unsqueeze(1), bias, groups=weight.shape[0])
    else:
        out = sum(weight[:, k, None] * x[..., k:k + length] for k in range(width))
        if bias is not None:
            out = out + bias[:, None]
    return F.silu(out) if activation == "silu" else out
