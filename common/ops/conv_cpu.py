"""The mixers' causal depthwise conv + SiLU on CPU: the numba kernels of cpu_kernels.py as an autograd
function, with directions and valid lengths as the scan has them."""
import numpy as np
import torch

from .cpu_kernels import conv_backward, conv_forward, dense, strided, time_slices


def _np_dtype(x):
    return np.float64 if x.dtype == torch.float64 else np.float32


class CausalConvSiLUCPU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, state, lengths, reverse):
        """x (batch, L, 1 or G, C), any strides (1: the groups share it); weight (G, C, K); bias (G, C) or
        None; state (batch, G, C, K - 1) or None: the inputs before position 0 (zeros if None; forward
        groups only); lengths (batch,) int64 or None; reverse (G,) bool or None: a reversed group
        convolves each sequence's valid positions last to first. Returns silu(conv) as (G, batch, L, C),
        zero past each length."""
        batch, length, _, dim = map(int, x.shape)  # ints, also while jit tracing (fvcore)
        n_groups = int(weight.shape[0])
        dtype = _np_dtype(x)
        lengths = torch.full((batch,), length, dtype=torch.int64) if lengths is None else lengths
        reverse = torch.zeros(n_groups, dtype=torch.bool) if reverse is None else reverse
        if state is not None and bool(reverse.any()):
            raise ValueError("a conv state continues a sequence forwards; reversed groups take none")
        bias_ = torch.zeros(n_groups, dim, dtype=x.dtype) if bias is None else bias
        out = torch.empty(n_groups, batch, length, dim, dtype=x.dtype)
        flat, sx = strided(x, 4, dtype)
        conv_forward(flat, sx, dense(weight.transpose(1, 2), 3, dtype), dense(bias_, 2, dtype),
                     dense(state, 4, dtype), state is not None, lengths.numpy(), reverse.numpy(), length,
                     time_slices(batch, length), out.numpy())
        ctx.save_for_backward(x, weight, bias, state, lengths, reverse)
        return out

    @staticmethod
    def backward(ctx, dout):
        x, weight, bias, state, lengths, reverse = ctx.saved_tensors
        batch, length, _, dim = map(int, x.shape)
        n_groups, _, width = map(int, weight.shape)
        dtype = _np_dtype(x)
        bias_ = torch.zeros(n_groups, dim, dtype=x.dtype) if bias is None else bias
        dx = torch.empty_like(x)
        slices = time_slices(batch, length)
        dweight = torch.empty(batch * slices, n_groups, width, dim, dtype=torch.float64)
        dbias = torch.empty(batch * slices, n_groups, dim, dtype=torch.float64)
        dstate = torch.empty(batch, n_groups, dim, width - 1, dtype=x.dtype)
        flat, sx = strided(x, 4, dtype)
        flat_dout, sdout = strided(dout.permute(1, 2, 0, 3), 4, dtype)
        flat_dx, sdx = strided(dx, 4, dtype)
        conv_backward(flat, sx, dense(weight.transpose(1, 2), 3, dtype), dense(bias_, 2, dtype),
                      dense(state, 4, dtype), state is not None, lengths.numpy(), reverse.numpy(), length,
                      slices, flat_dout, sdout, flat_dx, sdx, x.shape[2] == 1 and n_groups > 1, dweight.numpy(),
                      dbias.numpy(), dstate.numpy())
        return (dx, dweight.sum(0).transpose(1, 2).to(weight.dtype),
                dbias.sum(0).to(bias.dtype) if bias is not None else None,
                dstate if state is not None else None, None, None)
