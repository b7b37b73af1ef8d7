"""selective_scan's cpu backend: the numba scan of cpu_kernels.py as an autograd function.

SelectiveScanCPU works on (batch, L, G, C) operands (see cpu_kernels.py): the mixers call it with their
channel-last views and both directions of ViM / DBM at once; `scan_cpu` maps selective_scan's API onto
it with views only.
"""
import numpy as np
import torch

from .cpu_kernels import CHUNK, dense, n_slices, scan_backward, scan_forward, strided


def _np_dtype(x):
    return np.float64 if x.dtype == torch.float64 else np.float32


def _or_zeros(x, *shape, dtype):
    return torch.zeros(*shape, dtype=dtype) if x is None else x


class SelectiveScanCPU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, z, delta_bias, initial_state, delta_softplus, lengths, reverse,
                sum_groups):
        """u, delta (batch, L, G, C); A (G, C, N); B, C (batch, L, G, N); D, delta_bias (G, C) or None;
        z (batch, L, 1 or G, C) or None (1: shared by the groups); initial_state (batch, G, C, N) or None;
        lengths (batch,) int64 or None (full length); reverse (G,) bool or None (all forward): a reversed
        group scans each sequence's valid positions last to first; sum_groups: out is the sum over groups
        (batch, L, 1, C) instead of (batch, L, G, C). Inputs in one float dtype, any strides.
        Returns (out, last_state (batch, G, C, N), no gradient); positions past a length give 0."""
        batch, length, n_groups, dim = map(int, u.shape)  # ints, also while jit tracing (fvcore)
        n_state = int(A.shape[-1])
        dtype = _np_dtype(u)
        lengths = torch.full((batch,), length, dtype=torch.int64) if lengths is None else lengths
        reverse = _or_zeros(reverse, n_groups, dtype=torch.bool)
        out = torch.empty(batch, length, 1 if sum_groups else n_groups, dim, dtype=u.dtype)
        chunk_states = torch.empty(batch, n_groups, -(-length // CHUNK), n_state, dim, dtype=u.dtype)
        last_state = torch.empty(batch, n_groups, dim, n_state, dtype=u.dtype)
        operands = [strided(x, 4, dtype) for x in (u, delta, z, B, C, out)]
        scan_forward(*(flat for flat, _ in operands[:5]), np.stack([st for _, st in operands]),
                     dense(A, 3, dtype), dense(_or_zeros(D, n_groups, dim, dtype=u.dtype), 2, dtype),
                     dense(_or_zeros(delta_bias, n_groups, dim, dtype=u.dtype), 2, dtype),
                     dense(initial_state, 4, dtype), lengths.numpy(), reverse.numpy(), length, delta_softplus,
                     z is not None, initial_state is not None, sum_groups, n_slices(batch, dim),
                     operands[5][0], chunk_states.numpy(), last_state.numpy())
        ctx.save_for_backward(u, delta, A, B, C, D, z, delta_bias, chunk_states, lengths, reverse)
        ctx.flags = (delta_softplus, initial_state is not None)
        ctx.mark_non_differentiable(last_state)
        return out, last_state

    @staticmethod
    def backward(ctx, dout, _dlast_state):
        u, delta, A, B, C, D, z, delta_bias, chunk_states, lengths, reverse = ctx.saved_tensors
        delta_softplus, has_initial_state = ctx.flags
        batch, length, n_groups, dim = map(int, u.shape)
        n_state = int(A.shape[-1])
        dtype = _np_dtype(u)
        slices = n_slices(batch, dim)
        du, ddelta = torch.empty_like(u), torch.empty_like(delta)
        dz = torch.empty_like(z) if z is not None else None
        dA = torch.empty(batch, n_groups, dim, n_state, dtype=torch.float64)
        dD = torch.empty(batch, n_groups, dim, dtype=torch.float64)
        dbias = torch.empty(batch, n_groups, dim, dtype=torch.float64)
        dB = torch.zeros(slices, batch, length, n_groups, n_state, dtype=u.dtype)
        dC = torch.zeros(slices, batch, length, n_groups, n_state, dtype=u.dtype)
        dh0 = torch.empty(batch, n_groups, dim, n_state, dtype=u.dtype)
        operands = [strided(x, 4, dtype) for x in (u, delta, z, B, C, dout)]
        grads = [strided(x, 4, dtype) for x in (du, ddelta, dz)]
        scan_backward(*(flat for flat, _ in operands), np.stack([st for _, st in operands]),
                      dense(A, 3, dtype), dense(_or_zeros(D, n_groups, dim, dtype=u.dtype), 2, dtype),
                      dense(_or_zeros(delta_bias, n_groups, dim, dtype=u.dtype), 2, dtype),
                      chunk_states.numpy(), lengths.numpy(), reverse.numpy(), length, delta_softplus,
                      z is not None, z is not None and z.shape[2] == 1 and n_groups > 1, slices,
                      *(flat for flat, _ in grads), np.stack([st for _, st in grads]), dA.numpy(),
                      dD.numpy(), dbias.numpy(), dB.numpy(), dC.numpy(), dh0.numpy())
        return (du, ddelta, dA.sum(0).to(A.dtype), dB.sum(0), dC.sum(0),
                dD.sum(0).to(D.dtype) if D is not None else None, dz,
                dbias.sum(0).to(delta_bias.dtype) if delta_bias is not None else None,
                dh0 if has_initial_state else None, None, None, None, None)


def scan_cpu(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False, initial_state=None):
    """selective_scan's cpu backend. Canonical inputs (selective_scan._canonical): u, delta, z (b, d, l);
    A (d, n); B, C (d, n) or (b, g, n, l). Returns (out (b, d, l), last_state (b, d, n)).

    B/C group g is the kernel's channel group g, so every operand is a view. Constant B/C (no mixer uses
    them) make each channel its own group: correct, with one lane of each vector doing the work."""
    batch, dim, length = u.shape
    if B.dim() == 2 or C.dim() == 2:
        def per_channel(x):
            if x.dim() == 2:
                return x[None, None].expand(batch, length, dim, x.shape[1])
            return x.repeat_interleave(dim // x.shape[1], dim=1).permute(0, 3, 1, 2)

        groups, B, C = dim, per_channel(B), per_channel(C)
    else:
        groups, B, C = B.shape[1], B.permute(0, 3, 1, 2), C.permute(0, 3, 1, 2)

    def channels_last(x):
        return None if x is None else x.transpose(1, 2).unflatten(2, (groups, dim // groups))

    def per_group(x):
        return None if x is None else x.reshape(groups, dim // groups, *x.shape[1:])

    out, last_state = SelectiveScanCPU.apply(
        channels_last(u), channels_last(delta), per_group(A), B, C, per_group(D), channels_last(z),
        per_group(delta_bias),
        None if initial_state is None else initial_state.reshape(batch, groups, dim // groups, -1),
        delta_softplus, None, None, False)
    return out.flatten(2).transpose(1, 2), last_state.flatten(1, 2)
