"""Numba kernels of the CPU path: the selective scan and the causal depthwise conv + SiLU (forward and
backward each), with the vector math and operand plumbing they share. Torch-side glue (autograd
functions) lives in scan_cpu.py and conv_cpu.py. One module on purpose: numba's on-disk cache checks
only the file that defines a kernel, so helpers kept in another file could change without the cached
kernels being recompiled.

Layout: channels go in the vector lanes. Every per-step operand is read through its strides as
(batch, L, G, C): G groups of C channels, a group being one direction of a bidirectional mixer (or one
B/C group of selective_scan's API). A scan task owns LANES consecutive channels of one sequence and all
their groups (a conv task: a stretch of positions, every channel and group), so what groups share (an
input, a summed output) needs no synchronisation. A group may scan in
reverse: its i-th step is position n_valid - 1 - i, where n_valid is the sequence's valid length.
Positions at or past n_valid are not computed: their outputs and gradients are zero.

Vector math: scalar functions that LLVM vectorises inside the lane loops. float32 gets a polynomial exp
(no libm call per element); float64 (the tests' gradchecks) keeps math.exp / math.log1p, exact but not
vectorised.
"""
import math
import os
import sys

import common

if common.TORCH_OPENMP_SPINS and "numba" not in sys.modules:
    # torch was loaded before us with busy-waiting workers (see common/__init__.py): a second pool of
    # kernel threads would fight them for the cores, so the kernels run on the calling thread alone.
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numba  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from llvmlite import ir  # noqa: E402
from numba.core import types  # noqa: E402
from numba.extending import intrinsic, overload  # noqa: E402

# Reassociation lets LLVM vectorise sums; no-NaN/no-inf flags are left out on purpose so a NaN input
# still shows up as NaN instead of undefined behaviour. numpy's error model: a division is IEEE (no
# zero check raising ZeroDivisionError), which is what lets LLVM vectorise a loop holding one.
FASTMATH = {"reassoc", "contract", "nsz", "arcp"}
JIT = dict(fastmath=FASTMATH, error_model="numpy")
SOFTPLUS_THRESHOLD = 20.0  # as F.softplus: identity above it
CHUNK = 64  # scan steps between saved states; the tiles' height
LANES = 32  # channels per task block: 4 AVX2 vectors of float32


@intrinsic
def _float32_from_bits(typingctx, bits):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())
    return types.float32(types.int32), codegen


def _exp_float32(x):
    """exp(x) within 1e-7 relative: Cody-Waite range reduction (ln 2 split in two), a degree-7
    polynomial, 2^k written as exponent bits. NaN stays NaN, underflow gives 0, overflow inf."""
    xi = np.float32(-87.0) if x < -87.0 else x
    xi = np.float32(89.0) if xi > 89.0 else xi
    k = np.floor(xi * np.float32(1.4426950408889634) + np.float32(0.5))
    r = xi - k * np.float32(0.693359375) + k * np.float32(2.12194440e-4)
    p = np.float32(1 / 5040)
    p = p * r + np.float32(1 / 720)
    p = p * r + np.float32(1 / 120)
    p = p * r + np.float32(1 / 24)
    p = p * r + np.float32(1 / 6)
    p = p * r + np.float32(0.5)
    p = p * r + np.float32(1.0)
    p = p * r + np.float32(1.0)
    bits = (np.int32(k) + np.int32(127)) << np.int32(23)
    return p * _float32_from_bits(bits if x >= -87.0 else np.int32(0))


def vexp(x):
    """exp(x); vectorisable for float32."""
    return math.exp(x)


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def softplus(x):
    """log1p(exp(x)) as F.softplus: identity above SOFTPLUS_THRESHOLD."""
    return x if x > SOFTPLUS_THRESHOLD else math.log1p(math.exp(x))


@overload(vexp, jit_options=JIT)
def _vexp(x):
    if x == types.float32:
        return _exp_float32
    return lambda x: math.exp(x)


@overload(sigmoid, jit_options=JIT)
def _sigmoid(x):
    one = np.float32(1) if x == types.float32 else 1.0
    return lambda x: one / (one + vexp(-x))


@overload(softplus, jit_options=JIT)
def _softplus(x):
    """max(x, 0) + log1p(e), e = exp(-|x|) in (0, 1]. float32: log1p(e) = 2 atanh(s), s = e / (2 + e)
    <= 1/3, an odd series converging fast there (7 terms: 1e-8 relative), no cancellation for small e."""
    if x != types.float32:
        return lambda x: x if x > SOFTPLUS_THRESHOLD else max(x, 0.0) + math.log1p(math.exp(-abs(x)))

    def impl(x):
        e = vexp(-abs(x))
        s = e / (np.float32(2) + e)
        s2 = s * s
        p = np.float32(1 / 13)
        p = p * s2 + np.float32(1 / 11)
        p = p * s2 + np.float32(1 / 9)
        p = p * s2 + np.float32(1 / 7)
        p = p * s2 + np.float32(1 / 5)
        p = p * s2 + np.float32(1 / 3)
        log1p_e = np.float32(2) * s * (p * s2 + np.float32(1))
        return x if x > SOFTPLUS_THRESHOLD else max(x, np.float32(0)) + log1p_e
    return impl


def strided(x: torch.Tensor | None, ndim: int, dtype) -> tuple[np.ndarray, np.ndarray]:
    """(flat 1-D numpy array over x's elements, element strides (ndim,) int64): flat[sum(i_k *
    strides[k])] is x[i_0, ..., i_k], whatever x's layout, with no copy. A dimension of size 1 gets
    stride 0, so it broadcasts (an operand shared by all groups, an output that sums them). None gives a
    1-element dummy, so a kernel has one signature whether an optional operand is present or not."""
    if x is None:
        return np.zeros(1, dtype=dtype), np.zeros(ndim, dtype=np.int64)
    if x.dim() != ndim:
        raise ValueError(f"expected a {ndim}-d operand, got shape {tuple(x.shape)}")
    x = x.detach()
    span = 1 + sum((size - 1) * stride for size, stride in zip(x.shape, x.stride())) if x.numel() else 0
    flat = x.as_strided((span,), (1,), x.storage_offset()).numpy()
    return flat, np.array([0 if size == 1 else stride for size, stride in zip(x.shape, x.stride())],
                          dtype=np.int64)


def dense(x, ndim, dtype):
    """A contiguous numpy array of a small operand, or a dummy of `ndim` dims when it is absent."""
    if x is None:
        return np.zeros((1,) * ndim, dtype=dtype)
    return x.detach().contiguous().numpy()


def n_slices(batch, dim):
    """The scan's channel-block slices per sequence: enough tasks to keep every thread busy (an empty
    batch has no tasks; 1 keeps the partial-gradient buffers well-formed)."""
    n_blocks = -(-dim // LANES)
    return max(1, min(n_blocks, -(-2 * numba.get_num_threads() // max(batch, 1))))


# ----------------------------------------------------------------------------------------------------
# Operand plumbing


@numba.njit(inline="always", **JIT)
def _position(i, n_valid, reverse):
    """Sequence position of the i-th scanned step: reverse scans valid positions last to first."""
    return n_valid - 1 - i if reverse else i


@numba.njit(inline="always", **JIT)
def _gather(x, s, b, t, g, c0, nw, row):
    """row = x[b, t, g, c0:c0 + nw] of a strided (batch, L, G, C) operand; lanes past nw get 0."""
    base = b * s[0] + t * s[1] + g * s[2]
    if s[3] == 1:  # a slice copy: vectorised, unlike the strided loop
        row[:nw] = x[base + c0:base + c0 + nw]
    else:
        for w in range(nw):
            row[w] = x[base + (c0 + w) * s[3]]
    row[nw:] = 0


@numba.njit(inline="always", **JIT)
def _scatter(x, s, b, t, g, c0, nw, row, accumulate):
    """x[b, t, g, c0:c0 + nw] = row[:nw] (+= with accumulate)."""
    base = b * s[0] + t * s[1] + g * s[2] + c0 * s[3]
    if accumulate:
        for w in range(nw):
            x[base + w * s[3]] += row[w]
    elif s[3] == 1:
        x[base:base + nw] = row[:nw]
    else:
        for w in range(nw):
            x[base + w * s[3]] = row[w]


@numba.njit(inline="always", **JIT)
def _lanes(x, g, c0, nw, out):
    """out = x[g, c0:c0 + nw] of a small (G, C) operand; lanes past nw get 0."""
    out[:] = 0
    for w in range(nw):
        out[w] = x[g, c0 + w]


@numba.njit(inline="always", **JIT)
def _lanes_transposed(x, g, c0, nw, out):
    """out (K, LANES) = x[g, c0:c0 + nw, :].T of a small (G, C, K) operand; lanes past nw get 0."""
    out[:, :] = 0
    for w in range(nw):
        for k in range(x.shape[2]):
            out[k, w] = x[g, c0 + w, k]


# ----------------------------------------------------------------------------------------------------
# Selective scan
#   h_t = exp(dt_t A) h_t-1 + dt_t B_t u_t,  y_t = <h_t, C_t> + D u_t,  out_t = y_t silu(z_t),
#   dt_t = softplus(delta_t + bias) (or delta_t + bias).
# Each step advances LANES channels of one state index at once, so the forward pass reduces nothing
# across lanes. Forward keeps the state entering every CHUNK steps; backward walks the chunks in
# reverse, recomputes states and decays inside one chunk from its saved start (memory O(L / CHUNK)
# states) and runs the adjoint dh_t = g_t C_t + exp(dt_t+1 A) dh_t+1. Per-channel sums (dA, dD,
# d bias) add up per chunk in the compute dtype and across chunks in float64. B/C gradients are
# shared by a group's channels: each slice of channel blocks has its own partial, summed by the caller.


@numba.njit(inline="always", **JIT)
def _load_chunk(u, delta, B, C, s, b, g, c0, nw, i0, nt, n_valid, rev, bias_v, use_softplus,
                ut, raw, dtt, dtu, Bt, Ct):
    """Tiles of scanned steps i0 .. i0 + nt: ut, raw = delta + bias, dtt = the step size, dtu = dt u
    (CHUNK, LANES); Bt, Ct (CHUNK, N)."""
    n_state = Bt.shape[1]
    for i in range(nt):
        t = _position(i0 + i, n_valid, rev)
        _gather(u, s[0], b, t, g, c0, nw, ut[i])
        _gather(delta, s[1], b, t, g, c0, nw, raw[i])
        bb = b * s[3, 0] + t * s[3, 1] + g * s[3, 2]
        cb = b * s[4, 0] + t * s[4, 1] + g * s[4, 2]
        for n in range(n_state):
            Bt[i, n] = B[bb + n * s[3, 3]]
            Ct[i, n] = C[cb + n * s[4, 3]]
    for i in range(nt):
        for w in range(LANES):
            x = raw[i, w] + bias_v[w]
            raw[i, w] = x
            dt = softplus(x) if use_softplus else x
            dtt[i, w] = dt
            dtu[i, w] = dt * ut[i, w]


@numba.njit(parallel=True, cache=True, **JIT)
def scan_forward(u, delta, z, B, C, s, A, D, bias, h0, lengths, reverse, length, use_softplus, use_z,
                 use_h0, sum_groups, slices, out, chunk_states, last_state):
    """s: (6, 4) element strides of u, delta, z, B, C, out, each read as (batch, L, G, C or N); out's
    group stride is 0 with sum_groups (it receives the sum over groups), z's when all groups share it.
    A (G, C, N); D, bias (G, C), zeros when absent; h0, last_state (batch, G, C, N); lengths (batch,);
    reverse (G,); chunk_states (batch, G, chunks, N, C): the state entering each chunk."""
    batch = lengths.shape[0]
    n_groups, dim, n_state = A.shape
    n_blocks = (dim + LANES - 1) // LANES
    per_slice = (n_blocks + slices - 1) // slices
    for task in numba.prange(batch * slices):
        b, first = task // slices, (task % slices) * per_slice
        n_valid = lengths[b]
        ut = np.zeros((CHUNK, LANES), dtype=u.dtype)
        raw = np.zeros((CHUNK, LANES), dtype=u.dtype)
        dtt = np.zeros((CHUNK, LANES), dtype=u.dtype)
        dtu = np.zeros((CHUNK, LANES), dtype=u.dtype)
        yt = np.zeros((CHUNK, LANES), dtype=u.dtype)
        zt = np.zeros((CHUNK, LANES), dtype=u.dtype)
        Bt = np.zeros((CHUNK, n_state), dtype=u.dtype)
        Ct = np.zeros((CHUNK, n_state), dtype=u.dtype)
        At = np.zeros((n_state, LANES), dtype=u.dtype)
        h = np.zeros((n_state, LANES), dtype=u.dtype)
        D_v = np.zeros(LANES, dtype=u.dtype)
        bias_v = np.zeros(LANES, dtype=u.dtype)
        for blk in range(first, min(first + per_slice, n_blocks)):
            c0 = blk * LANES
            nw = min(LANES, dim - c0)
            for g in range(n_groups):
                rev = reverse[g]
                accumulate = sum_groups and g > 0
                _lanes_transposed(A, g, c0, nw, At)
                _lanes(D, g, c0, nw, D_v)
                _lanes(bias, g, c0, nw, bias_v)
                _lanes_transposed(h0[b if use_h0 else 0], g, c0, nw if use_h0 else 0, h)
                for i0 in range(0, n_valid, CHUNK):
                    nt = min(CHUNK, n_valid - i0)
                    chunk_states[b, g, i0 // CHUNK, :, c0:c0 + nw] = h[:, :nw]
                    _load_chunk(u, delta, B, C, s, b, g, c0, nw, i0, nt, n_valid, rev, bias_v, use_softplus,
                                ut, raw, dtt, dtu, Bt, Ct)
                    for i in range(nt):
                        for w in range(LANES):
                            yt[i, w] = D_v[w] * ut[i, w]
                        for n in range(n_state):
                            b_n = Bt[i, n]
                            c_n = Ct[i, n]
                            for w in range(LANES):
                                h_n = vexp(dtt[i, w] * At[n, w]) * h[n, w] + dtu[i, w] * b_n
                                h[n, w] = h_n
                                yt[i, w] += h_n * c_n
                    for i in range(nt):
                        t = _position(i0 + i, n_valid, rev)
                        if use_z:  # out = y z sigmoid(z)
                            _gather(z, s[2], b, t, g, c0, nw, zt[i])
                            for w in range(LANES):
                                yt[i, w] *= zt[i, w] * sigmoid(zt[i, w])
                        _scatter(out, s[5], b, t, g, c0, nw, yt[i], accumulate)
                if not accumulate:
                    yt[0, :] = 0
                    for t in range(n_valid, length):
                        _scatter(out, s[5], b, t, g, c0, nw, yt[0], False)
                for w in range(nw):
                    for n in range(n_state):
                        last_state[b, g, c0 + w, n] = h[n, w]


@numba.njit(parallel=True, cache=True, **JIT)
def scan_backward(u, delta, z, B, C, dout, s, A, D, bias, chunk_states, lengths, reverse, length,
                  use_softplus, use_z, shared_z, slices, du, ddelta, dz, sd, dA, dD, dbias, dB, dC, dh0):
    """Gradients of scan_forward. s: strides of u, delta, z, B, C, dout; sd: strides of du, ddelta, dz
    ((batch, L, G, C) each; dz's group stride is 0 when z is shared: it receives the sum over groups).
    dA (batch, G, C, N), dD, dbias (batch, G, C): float64, summed over the batch by the caller.
    dB, dC (slices, batch, L, G, N), zero on entry: one partial per slice, summed by the caller.
    dh0 (batch, G, C, N): the gradient of the initial state."""
    batch = lengths.shape[0]
    n_groups, dim, n_state = A.shape
    n_blocks = (dim + LANES - 1) // LANES
    per_slice = (n_blocks + slices - 1) // slices
    one = u.dtype.type(1)
    for task in numba.prange(batch * slices):
        b, sl = task // slices, task % slices
        first = sl * per_slice
        n_valid = lengths[b]
        ut = np.zeros((CHUNK, LANES), dtype=u.dtype)
        raw = np.zeros((CHUNK, LANES), dtype=u.dtype)
        dtt = np.zeros((CHUNK, LANES), dtype=u.dtype)
        dtu = np.zeros((CHUNK, LANES), dtype=u.dtype)
        gt = np.zeros((CHUNK, LANES), dtype=u.dtype)
        zt = np.zeros((CHUNK, LANES), dtype=u.dtype)
        yt = np.zeros((CHUNK, LANES), dtype=u.dtype)
        dut = np.zeros((CHUNK, LANES), dtype=u.dtype)
        ddt = np.zeros((CHUNK, LANES), dtype=u.dtype)
        Bt = np.zeros((CHUNK, n_state), dtype=u.dtype)
        Ct = np.zeros((CHUNK, n_state), dtype=u.dtype)
        states = np.zeros((CHUNK + 1, n_state, LANES), dtype=u.dtype)
        decays = np.zeros((CHUNK, n_state, LANES), dtype=u.dtype)
        At = np.zeros((n_state, LANES), dtype=u.dtype)
        dh = np.zeros((n_state, LANES), dtype=u.dtype)
        dA_chunk = np.zeros((n_state, LANES), dtype=u.dtype)
        dA_acc = np.zeros((n_state, LANES), dtype=np.float64)
        dD_acc = np.zeros(LANES, dtype=np.float64)
        dbias_acc = np.zeros(LANES, dtype=np.float64)
        dD_chunk = np.zeros(LANES, dtype=u.dtype)
        dbias_chunk = np.zeros(LANES, dtype=u.dtype)
        D_v = np.zeros(LANES, dtype=u.dtype)
        bias_v = np.zeros(LANES, dtype=u.dtype)
        S = np.zeros(LANES, dtype=u.dtype)
        ddt_A = np.zeros(LANES, dtype=u.dtype)
        for blk in range(first, min(first + per_slice, n_blocks)):
            c0 = blk * LANES
            nw = min(LANES, dim - c0)
            for g in range(n_groups):
                rev = reverse[g]
                accumulate_dz = shared_z and g > 0
                _lanes_transposed(A, g, c0, nw, At)
                _lanes(D, g, c0, nw, D_v)
                _lanes(bias, g, c0, nw, bias_v)
                dh[:, :] = 0
                dA_acc[:, :] = 0
                dD_acc[:] = 0
                dbias_acc[:] = 0
                for i0 in range(((n_valid - 1) // CHUNK) * CHUNK, -1, -CHUNK):
                    nt = min(CHUNK, n_valid - i0)
                    _load_chunk(u, delta, B, C, s, b, g, c0, nw, i0, nt, n_valid, rev, bias_v, use_softplus,
                                ut, raw, dtt, dtu, Bt, Ct)
                    # states and decays inside the chunk from its saved start, and y before the gate
                    states[0, :, :] = 0
                    states[0, :, :nw] = chunk_states[b, g, i0 // CHUNK, :, c0:c0 + nw]
                    for i in range(nt):
                        for w in range(LANES):
                            yt[i, w] = D_v[w] * ut[i, w]
                        for n in range(n_state):
                            b_n = Bt[i, n]
                            c_n = Ct[i, n]
                            for w in range(LANES):
                                a = vexp(dtt[i, w] * At[n, w])
                                decays[i, n, w] = a
                                h_n = a * states[i, n, w] + dtu[i, w] * b_n
                                states[i + 1, n, w] = h_n
                                yt[i, w] += h_n * c_n
                    for i in range(nt):
                        t = _position(i0 + i, n_valid, rev)
                        _gather(dout, s[5], b, t, g, c0, nw, gt[i])
                        if use_z:  # gt = dout silu(z); dz = dout y silu'(z), silu' = sig (1 + z (1 - sig))
                            _gather(z, s[2], b, t, g, c0, nw, zt[i])
                            for w in range(LANES):
                                zw = zt[i, w]
                                sg = sigmoid(zw)
                                yt[i, w] = gt[i, w] * yt[i, w] * sg * (one + zw * (one - sg))
                                gt[i, w] *= zw * sg
                            _scatter(dz, sd[2], b, t, g, c0, nw, yt[i], accumulate_dz)
                    for i in range(nt - 1, -1, -1):
                        S[:] = 0
                        ddt_A[:] = 0
                        for n in range(n_state):
                            b_n = Bt[i, n]
                            c_n = Ct[i, n]
                            sum_B = u.dtype.type(0)
                            sum_C = u.dtype.type(0)
                            for w in range(LANES):
                                dh_n = dh[n, w] + gt[i, w] * c_n
                                sum_C += gt[i, w] * states[i + 1, n, w]
                                sum_B += dh_n * dtu[i, w]
                                S[w] += dh_n * b_n
                                da = dh_n * states[i, n, w] * decays[i, n, w]
                                ddt_A[w] += da * At[n, w]
                                dA_chunk[n, w] += da * dtt[i, w]
                                dh[n, w] = dh_n * decays[i, n, w]
                            dB[sl, b, _position(i0 + i, n_valid, rev), g, n] += sum_B
                            dC[sl, b, _position(i0 + i, n_valid, rev), g, n] += sum_C
                        for w in range(LANES):
                            dut[i, w] = S[w] * dtt[i, w] + gt[i, w] * D_v[w]
                            d_dt = S[w] * ut[i, w] + ddt_A[w]
                            if use_softplus and raw[i, w] <= SOFTPLUS_THRESHOLD:  # softplus' = sigmoid
                                d_dt *= sigmoid(raw[i, w])
                            ddt[i, w] = d_dt
                    dD_chunk[:] = 0
                    dbias_chunk[:] = 0
                    for i in range(nt):
                        t = _position(i0 + i, n_valid, rev)
                        _scatter(du, sd[0], b, t, g, c0, nw, dut[i], False)
                        _scatter(ddelta, sd[1], b, t, g, c0, nw, ddt[i], False)
                        for w in range(LANES):
                            dD_chunk[w] += gt[i, w] * ut[i, w]
                            dbias_chunk[w] += ddt[i, w]
                    for w in range(LANES):
                        dD_acc[w] += dD_chunk[w]
                        dbias_acc[w] += dbias_chunk[w]
                        for n in range(n_state):
                            dA_acc[n, w] += dA_chunk[n, w]
                            dA_chunk[n, w] = 0
                dut[0, :] = 0
                for t in range(n_valid, length):
                    _scatter(du, sd[0], b, t, g, c0, nw, dut[0], False)
                    _scatter(ddelta, sd[1], b, t, g, c0, nw, dut[0], False)
                    if use_z and not accumulate_dz:
                        _scatter(dz, sd[2], b, t, g, c0, nw, dut[0], False)
                for w in range(nw):
                    dD[b, g, c0 + w] = dD_acc[w]
                    dbias[b, g, c0 + w] = dbias_acc[w]
                    for n in range(n_state):
                        dA[b, g, c0 + w, n] = dA_acc[n, w]
                        dh0[b, g, c0 + w, n] = dh[n, w]


# ----------------------------------------------------------------------------------------------------
# Causal depthwise conv + SiLU, group g with its own weights:
#   out_t = silu(bias + sum_k w_k x_p(i - (K-1) + k)),  p(i) the i-th position in the group's direction.
# Input read as (batch, L, G or 1, C) (a size-1 group is shared by all: ViM's directions convolve the
# same projection); output (G, batch, L, C) contiguous: the layout per-group projections read as one
# matmul each. Backward recomputes the pre-activation instead of keeping it.
# The conv carries nothing across steps but K - 1 inputs, so a task owns a stretch of one sequence's
# positions with every channel and group (for a reversed group, the steps that land on them): each step
# reads and writes whole rows (contiguous channels, streamed), where a channel block walking the rows
# would touch a new page at every step; groups sharing an input add into rows no other task writes.


def time_slices(batch, length):
    """Stretches of positions per sequence for the conv kernels: enough tasks to balance the threads."""
    return max(1, min(-(-length // CHUNK), -(-4 * numba.get_num_threads() // max(batch, 1))))


@numba.njit(inline="always", **JIT)
def _steps_at(p0, p1, n_valid, reverse):
    """(first, end) of the scanned steps that land on valid positions p0 .. p1."""
    a, e = min(p0, n_valid), min(p1, n_valid)
    return (n_valid - e, n_valid - a) if reverse else (a, e)


@numba.njit(inline="always", **JIT)
def _conv_input(x, sx, state, use_state, b, g, i, n_valid, rev, row):
    """row = group g's input at scanned step i: x at position p(i), or for i < 0 the initial state's slot
    (zeros without one)."""
    if i >= 0:
        _gather(x, sx, b, _position(i, n_valid, rev), g, 0, row.shape[0], row)
    elif use_state:
        row[:] = state[b, g, :, state.shape[3] + i]
    else:
        row[:] = 0


@numba.njit(inline="always", **JIT)
def _conv_pre(xs, slot, weight, bias, g, pre):
    """pre = bias + sum_k w_k x(i - (K-1) + k): xs a ring of the last K inputs, step i in row `slot`."""
    width = weight.shape[1]
    pre[:] = bias[g]
    for k in range(width):
        r = (slot + 1 + k) % width
        for c in range(pre.shape[0]):
            pre[c] += weight[g, k, c] * xs[r, c]


@numba.njit(parallel=True, cache=True, **JIT)
def conv_forward(x, sx, weight, bias, state, use_state, lengths, reverse, length, slices, out):
    """x read as (batch, L, G or 1, C) through strides sx; weight (G, K, C); bias (G, C), zeros when
    absent; state (batch, G, C, K - 1): the inputs before position 0 (zeros without use_state);
    out (G, batch, L, C). Tasks: `slices` stretches of positions per sequence."""
    batch = lengths.shape[0]
    n_groups, width, dim = weight.shape
    per_slice = (length + slices - 1) // slices
    for task in numba.prange(batch * slices):
        b = task // slices
        p0 = (task % slices) * per_slice
        p1 = min(p0 + per_slice, length)
        n_valid = lengths[b]
        xs = np.zeros((width, dim), dtype=x.dtype)  # ring of inputs: step i in row (i - start) % width
        pre = np.zeros(dim, dtype=x.dtype)
        for g in range(n_groups):
            rev = reverse[g]
            lo, hi = _steps_at(p0, p1, n_valid, rev)
            start = lo - (width - 1)
            for i in range(start, hi):
                slot = (i - start) % width
                _conv_input(x, sx, state, use_state, b, g, i, n_valid, rev, xs[slot])
                if i >= lo:
                    _conv_pre(xs, slot, weight, bias, g, pre)
                    for c in range(dim):
                        pre[c] *= sigmoid(pre[c])
                    out[g, b, _position(i, n_valid, rev)] = pre
            for t in range(max(p0, n_valid), p1):
                out[g, b, t] = 0


@numba.njit(parallel=True, cache=True, **JIT)
def conv_backward(x, sx, weight, bias, state, use_state, lengths, reverse, length, slices, dout, sdout,
                  dx, sdx, shared_x, dweight, dbias, dstate):
    """Gradients of conv_forward. dout read as (batch, L, G, C) through sdout; dx like x (receiving the
    sum over groups when shared_x); dweight (tasks, G, K, C), dbias (tasks, G, C): float64 partials per
    task, summed by the caller; dstate (batch, G, C, K - 1), written by each sequence's first task."""
    batch = lengths.shape[0]
    n_groups, width, dim = weight.shape
    per_slice = (length + slices - 1) // slices
    one = x.dtype.type(1)
    for task in numba.prange(batch * slices):
        b = task // slices
        p0 = (task % slices) * per_slice
        p1 = min(p0 + per_slice, length)
        n_valid = lengths[b]
        xs = np.zeros((width, dim), dtype=x.dtype)  # rings: step i in row (i - start) % width
        dps = np.zeros((width, dim), dtype=x.dtype)
        pre = np.zeros(dim, dtype=x.dtype)
        row = np.zeros(dim, dtype=x.dtype)
        dw_chunk = np.zeros((width, dim), dtype=x.dtype)
        db_chunk = np.zeros(dim, dtype=x.dtype)
        for g in range(n_groups):
            rev = reverse[g]
            accumulate = shared_x and g > 0
            dweight[task, g] = 0
            dbias[task, g] = 0
            lo, hi = _steps_at(p0, p1, n_valid, rev)  # the steps whose dx this task writes
            start = lo - (width - 1)
            for i in range(start, hi + width - 1):
                slot = (i - start) % width
                if i < n_valid:
                    _conv_input(x, sx, state, use_state, b, g, i, n_valid, rev, xs[slot])
                dp = dps[slot]
                dp[:] = 0
                if lo <= i < n_valid:  # d pre = dout silu'(pre), silu' = sig (1 + pre (1 - sig))
                    _conv_pre(xs, slot, weight, bias, g, pre)
                    _gather(dout, sdout, b, _position(i, n_valid, rev), g, 0, dim, dp)
                    for c in range(dim):
                        sg = sigmoid(pre[c])
                        dp[c] *= sg * (one + pre[c] * (one - sg))
                if lo <= i < hi:  # the weights' gradient sums over this task's steps only
                    for c in range(dim):
                        db_chunk[c] += dp[c]
                    for k in range(width):
                        r = (slot + 1 + k) % width
                        for c in range(dim):
                            dw_chunk[k, c] += dp[c] * xs[r, c]
                    if (i - lo) % CHUNK == CHUNK - 1 or i == hi - 1:  # chunk sums into float64
                        for c in range(dim):
                            dbias[task, g, c] += db_chunk[c]
                            db_chunk[c] = 0
                            for k in range(width):
                                dweight[task, g, k, c] += dw_chunk[k, c]
                                dw_chunk[k, c] = 0
                s = i - (width - 1)  # every d pre reaching step s is known: dx_s = sum_k w_k dp(s + K-1 - k)
                if s >= lo or (lo == 0 and use_state and -width < s < 0):
                    row[:] = 0
                    for k in range(width):
                        r = (slot - k + width) % width
                        for c in range(dim):
                            row[c] += weight[g, k, c] * dps[r, c]
                    if s >= 0:
                        _scatter(dx, sdx, b, _position(s, n_valid, rev), g, 0, dim, row, accumulate)
                    else:
                        dstate[b, g, :, width - 1 + s] = row
            if not accumulate:
                row[:] = 0
                for t in range(max(p0, n_valid), p1):
                    _scatter(dx, sdx, b, t, g, 0, dim, row, False)
