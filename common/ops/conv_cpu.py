"""Causal depthwise conv1d + SiLU on CPU for the mixers' fused path: numba kernels, channels in the
vector lanes, directions as in scan_cpu.py.

Input x is read through its strides as (batch, L, G, C), G groups (directions) of C channels, each
group with its own weights; a group of size 1 is shared by all (ViM's two directions convolve the same
projection). A reversed group convolves each sequence's valid positions last to first, so
    out_t = silu(bias + sum_k w_k x_p(i - (K-1) + k)),  p(i) the i-th scanned position,
and positions at or past a sequence's length give 0. The output is (G, batch, L, C) contiguous: the
layout the per-group projections (one matmul per group) read without a copy. Backward recomputes the
pre-activation instead of keeping it.
"""
import numba
import numpy as np
import torch

from .cpu_vector import FASTMATH, sigmoid_into, strided
from .scan_cpu import CHUNK, LANES, _gather, _position, _scatter, _slices


@numba.njit(inline="always")
def _load_weights(weight, bias, g, c0, nw, wt, bias_v):
    """wt (K, LANES) = weight[g, c0:c0 + nw].T, bias_v = bias[g, c0:c0 + nw]; lanes past nw get 0."""
    wt[:, :] = 0
    bias_v[:] = 0
    for w in range(nw):
        bias_v[w] = bias[g, c0 + w]
        for k in range(weight.shape[2]):
            wt[k, w] = weight[g, c0 + w, k]


@numba.njit(inline="always", fastmath=FASTMATH)
def _pre_activation(xt, wt, bias_v, nt, pre):
    """pre[i] = bias + sum_k wt[k] * xt[i + k] for i < nt: xt holds K - 1 rows of history first."""
    for i in range(nt):
        for w in range(LANES):
            pre[i, w] = bias_v[w]
        for k in range(wt.shape[0]):
            for w in range(LANES):
                pre[i, w] += wt[k, w] * xt[i + k, w]


@numba.njit(parallel=True, cache=True, fastmath=FASTMATH)
def _forward_kernel(x, sx, weight, bias, state, use_state, lengths, reverse, length, fast, n_slices, out):
    """x read as (batch, L, G or 1, C) through strides sx; weight (G, C, K); bias (G, C); state
    (batch, G, C, K - 1): the inputs before position 0 (zeros without use_state); out (G, batch, L, C)."""
    batch = lengths.shape[0]
    n_groups, dim, width = weight.shape
    n_blocks = (dim + LANES - 1) // LANES
    per_slice = (n_blocks + n_slices - 1) // n_slices
    for task in numba.prange(batch * n_slices):
        b, first = task // n_slices, (task % n_slices) * per_slice
        n_valid = lengths[b]
        xt = np.zeros((CHUNK + width - 1, LANES), dtype=x.dtype)
        pre = np.zeros((CHUNK, LANES), dtype=x.dtype)
        sig = np.empty(CHUNK * LANES, dtype=x.dtype)
        bits = np.empty(CHUNK * LANES, dtype=np.int32)
        wt = np.zeros((width, LANES), dtype=x.dtype)
        bias_v = np.zeros(LANES, dtype=x.dtype)
        for blk in range(first, min(first + per_slice, n_blocks)):
            c0 = blk * LANES
            nw = min(LANES, dim - c0)
            for g in range(n_groups):
                rev = reverse[g]
                _load_weights(weight, bias, g, c0, nw, wt, bias_v)
                xt[:width - 1, :] = 0
                if use_state:
                    for w in range(nw):
                        for k in range(width - 1):
                            xt[k, w] = state[b, g, c0 + w, k]
                for i0 in range(0, n_valid, CHUNK):
                    nt = min(CHUNK, n_valid - i0)
                    for i in range(nt):
                        _gather(x, sx, b, _position(i0 + i, n_valid, rev), g, c0, nw, xt[width - 1 + i])
                    _pre_activation(xt, wt, bias_v, nt, pre)
                    flat = pre[:nt].reshape(nt * LANES)
                    sigmoid_into(flat, sig[:nt * LANES], bits, fast)
                    for i in range(nt):
                        t = _position(i0 + i, n_valid, rev)
                        for w in range(nw):
                            out[g, b, t, c0 + w] = pre[i, w] * sig[i * LANES + w]
                    for k in range(width - 1):  # history for the next chunk
                        xt[k, :] = xt[nt + k, :]
                for t in range(n_valid, length):
                    out[g, b, t, c0:c0 + nw] = 0


@numba.njit(parallel=True, cache=True, fastmath=FASTMATH)
def _backward_kernel(x, sx, weight, bias, state, use_state, lengths, reverse, length, fast, n_slices,
                     dout, sdout, dx, sdx, shared_x, dweight, dbias, dstate):
    """Gradients of _forward_kernel. dout read as (G, batch, L, C) through sdout; dx like x (summed over
    groups when shared_x); dweight (batch, G, C, K), dbias (batch, G, C) float64, summed over the batch
    by the caller; dstate (batch, G, C, K - 1)."""
    batch = lengths.shape[0]
    n_groups, dim, width = weight.shape
    n_blocks = (dim + LANES - 1) // LANES
    per_slice = (n_blocks + n_slices - 1) // n_slices
    one = x.dtype.type(1)
    for task in numba.prange(batch * n_slices):
        b, first = task // n_slices, (task % n_slices) * per_slice
        n_valid = lengths[b]
        xt = np.zeros((CHUNK + width - 1, LANES), dtype=x.dtype)
        pre = np.zeros((CHUNK, LANES), dtype=x.dtype)
        dp = np.zeros((CHUNK + width - 1, LANES), dtype=x.dtype)  # d pre, then K - 1 rows carried
        carry = np.zeros((width - 1, LANES), dtype=x.dtype)
        row = np.zeros(LANES, dtype=x.dtype)
        sig = np.empty(CHUNK * LANES, dtype=x.dtype)
        bits = np.empty(CHUNK * LANES, dtype=np.int32)
        wt = np.zeros((width, LANES), dtype=x.dtype)
        bias_v = np.zeros(LANES, dtype=x.dtype)
        dw_acc = np.zeros((width, LANES), dtype=np.float64)
        db_acc = np.zeros(LANES, dtype=np.float64)
        for blk in range(first, min(first + per_slice, n_blocks)):
            c0 = blk * LANES
            nw = min(LANES, dim - c0)
            for g in range(n_groups):
                rev = reverse[g]
                accumulate = shared_x and g > 0
                _load_weights(weight, bias, g, c0, nw, wt, bias_v)
                carry[:, :] = 0
                dw_acc[:, :] = 0
                db_acc[:] = 0
                for i0 in range(((n_valid - 1) // CHUNK) * CHUNK, -1, -CHUNK):
                    nt = min(CHUNK, n_valid - i0)
                    for k in range(width - 1):  # the K - 1 inputs before the chunk
                        j = i0 - (width - 1) + k
                        if j >= 0:
                            _gather(x, sx, b, _position(j, n_valid, rev), g, c0, nw, xt[k])
                        elif use_state:
                            for w in range(nw):
                                xt[k, w] = state[b, g, c0 + w, width - 1 + j]
                        else:
                            xt[k, :] = 0
                    for i in range(nt):
                        t = _position(i0 + i, n_valid, rev)
                        _gather(x, sx, b, t, g, c0, nw, xt[width - 1 + i])
                        base = g * sdout[0] + b * sdout[1] + t * sdout[2]
                        for w in range(nw):
                            dp[i, w] = dout[base + (c0 + w) * sdout[3]]
                        for w in range(nw, LANES):
                            dp[i, w] = 0
                    _pre_activation(xt, wt, bias_v, nt, pre)
                    sigmoid_into(pre[:nt].reshape(nt * LANES), sig[:nt * LANES], bits, fast)
                    for i in range(nt):  # d silu(p) / dp = s (1 + p (1 - s))
                        for w in range(LANES):
                            s = sig[i * LANES + w]
                            dp[i, w] *= s * (one + pre[i, w] * (one - s))
                    for k in range(width - 1):
                        dp[nt + k, :] = carry[k, :]
                    for i in range(nt):
                        for w in range(LANES):
                            db_acc[w] += dp[i, w]
                        for k in range(width):
                            for w in range(LANES):
                                dw_acc[k, w] += dp[i, w] * xt[i + k, w]
                        for w in range(LANES):
                            row[w] = 0
                        for k in range(width):
                            for w in range(LANES):
                                row[w] += wt[k, w] * dp[i + width - 1 - k, w]
                        _scatter(dx, sdx, b, _position(i0 + i, n_valid, rev), g, c0, nw, row, accumulate)
                    for k in range(width - 1):
                        carry[k, :] = dp[k, :]
                for p in range(width - 1):  # the initial state's slots: inputs at scanned index p - (K-1)
                    for w in range(LANES):
                        row[w] = 0
                    for k in range(p + 1):
                        for w in range(LANES):
                            row[w] += wt[k, w] * carry[p - k, w]
                    for w in range(nw):
                        dstate[b, g, c0 + w, p] = row[w]
                if not accumulate:
                    row[:] = 0
                    for t in range(n_valid, length):
                        _scatter(dx, sdx, b, t, g, c0, nw, row, False)
                for w in range(nw):
                    dbias[b, g, c0 + w] = db_acc[w]
                    for k in range(width):
                        dweight[b, g, c0 + w, k] = dw_acc[k, w]


def _np_dtype(x):
    return np.float64 if x.dtype == torch.float64 else np.float32


class CausalConvSiLUCPU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, state, lengths, reverse):
        """x (batch, L, 1 or G, C); weight (G, C, K); bias (G, C) or None; state (batch, G, C, K - 1) or
        None; lengths (batch,) int64 or None; reverse (G,) bool or None. Returns (G, batch, L, C)."""
        batch, length, _, dim = x.shape
        n_groups = weight.shape[0]
        dtype = _np_dtype(x)
        lengths = torch.full((batch,), length, dtype=torch.int64) if lengths is None else lengths
        reverse = torch.zeros(n_groups, dtype=torch.bool) if reverse is None else reverse
        bias_ = torch.zeros(n_groups, dim, dtype=x.dtype) if bias is None else bias
        out = torch.empty(n_groups, batch, length, dim, dtype=x.dtype)
        flat, sx = strided(x, 4, dtype)
        _forward_kernel(flat, sx, weight.detach().contiguous().numpy(), bias_.detach().contiguous().numpy(),
                        _state(state, dtype), state is not None, lengths.numpy(), reverse.numpy(), length,
                        dtype == np.float32, _slices(batch, dim), out.numpy())
        ctx.save_for_backward(x, weight, bias, state, lengths, reverse)
        return out

    @staticmethod
    def backward(ctx, dout):
        x, weight, bias, state, lengths, reverse = ctx.saved_tensors
        batch, length, _, dim = x.shape
        n_groups, _, width = weight.shape
        dtype = _np_dtype(x)
        bias_ = torch.zeros(n_groups, dim, dtype=x.dtype) if bias is None else bias
        dx = torch.empty_like(x)
        dweight = torch.empty(batch, n_groups, dim, width, dtype=torch.float64)
        dbias = torch.empty(batch, n_groups, dim, dtype=torch.float64)
        dstate = torch.empty(batch, n_groups, dim, width - 1, dtype=x.dtype)
        flat, sx = strided(x, 4, dtype)
        flat_dout, sdout = strided(dout, 4, dtype)
        flat_dx, sdx = strided(dx, 4, dtype)
        _backward_kernel(flat, sx, weight.detach().contiguous().numpy(), bias_.detach().contiguous().numpy(),
                         _state(state, dtype), state is not None, lengths.numpy(), reverse.numpy(), length,
                         dtype == np.float32, _slices(batch, dim), flat_dout, sdout, flat_dx, sdx,
                         x.shape[2] == 1 and n_groups > 1, dweight.numpy(), dbias.numpy(), dstate.numpy())
        return (dx, dweight.sum(0).to(weight.dtype), dbias.sum(0).to(x.dtype) if bias is not None else None,
                dstate if state is not None else None, None, None)


def _state(state, dtype):
    return np.zeros((1, 1, 1, 1), dtype=dtype) if state is None else state.detach().contiguous().numpy()
