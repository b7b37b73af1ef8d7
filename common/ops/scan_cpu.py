"""Fast CPU selective scan: numba kernels with a hand-written backward, channels in the vector lanes.

Every per-step operand is read through its strides as (batch, L, G, C): G groups of C channels, where
a group is one direction of a bidirectional mixer (or one B/C group of selective_scan's API). So the
kernels take the mixers' channel-last views as they are (no transposes around the scan), and both
directions of ViM / DBM run in one call: a group may scan in reverse within each sequence's valid
length, and the output may be the sum over groups (ViM) instead of one slice per group (DBM).

A task owns LANES consecutive channels of one sequence (and all their groups). Inside, the recurrence
    h_t = exp(dt_t A) h_t-1 + dt_t B_t u_t,   y_t = <h_t, C_t> + D u_t,   out_t = y_t silu(z_t)
advances all LANES channels of one state index at once (AVX lanes), so nothing is reduced across
lanes in the forward pass, and the per-step work (softplus, gate, exp) is vectorised too. Forward
keeps the state at the start of every CHUNK steps; backward walks the chunks in reverse, recomputes
the states and decays inside one chunk from its saved start (memory O(L / CHUNK) states), and runs
the adjoint recurrence dh_t = g_t C_t + exp(dt_t+1 A) dh_t+1. Per-channel sums (dA, dD, d delta_bias)
add up per chunk in the compute dtype and across chunks in float64. B/C gradients are shared by all
channels of a group: each task (a slice of channel blocks) has its own partial buffer, summed
afterwards, so there are no races and no atomics.

Positions at or past a sequence's length are not scanned: their outputs and gradients are zero.
"""
import numba
import numpy as np
import torch

from .cpu_vector import FASTMATH, SOFTPLUS_THRESHOLD, exp_into, sigmoid_into, softplus_into, strided

CHUNK = 64  # steps between saved states
LANES = 32  # channels per task block: 4 AVX2 vectors of float32


@numba.njit(inline="always")
def _position(i, n_valid, reverse):
    """Sequence position of the i-th scanned step: reverse scans valid positions last to first."""
    return n_valid - 1 - i if reverse else i


@numba.njit(inline="always")
def _gather(x, s, b, t, g, c0, nw, row):
    """row = x[b, t, g, c0:c0 + nw] of a strided (batch, L, G, C) operand; lanes past nw get 0."""
    base = b * s[0] + t * s[1] + g * s[2]
    if s[3] == 1:
        for w in range(nw):
            row[w] = x[base + c0 + w]
    else:
        for w in range(nw):
            row[w] = x[base + (c0 + w) * s[3]]
    for w in range(nw, LANES):
        row[w] = 0


@numba.njit(inline="always")
def _scatter(x, s, b, t, g, c0, nw, row, accumulate):
    """x[b, t, g, c0:c0 + nw] = row[:nw] (+= with accumulate)."""
    base = b * s[0] + t * s[1] + g * s[2] + c0 * s[3]
    if accumulate:
        for w in range(nw):
            x[base + w * s[3]] += row[w]
    else:
        for w in range(nw):
            x[base + w * s[3]] = row[w]


@numba.njit(inline="always", fastmath=FASTMATH)
def _load_chunk(u, delta, B, C, s, b, g, c0, nw, i0, nt, n_valid, rev, bias_v, softplus, fast,
                ut, raw, dtt, dtu, Bt, Ct, work, bits):
    """Gathers scanned steps i0 .. i0 + nt into tiles: ut, raw = delta + bias, dtt = the step size
    (softplus(raw) or raw), dtu = dt * u, all (CHUNK, LANES); Bt, Ct (CHUNK, N)."""
    n_state = Bt.shape[1]
    for i in range(nt):
        t = _position(i0 + i, n_valid, rev)
        _gather(u, s[0], b, t, g, c0, nw, ut[i])
        _gather(delta, s[1], b, t, g, c0, nw, raw[i])
        for w in range(LANES):
            raw[i, w] += bias_v[w]
        bb = b * s[3, 0] + t * s[3, 1] + g * s[3, 2]
        cb = b * s[4, 0] + t * s[4, 1] + g * s[4, 2]
        for n in range(n_state):
            Bt[i, n] = B[bb + n * s[3, 3]]
            Ct[i, n] = C[cb + n * s[4, 3]]
    flat_raw, flat_dt = raw[:nt].reshape(nt * LANES), dtt[:nt].reshape(nt * LANES)
    if softplus:
        softplus_into(flat_raw, flat_dt, work[:nt * LANES], bits[:nt * LANES], fast)
    else:
        flat_dt[:] = flat_raw
    for i in range(nt):
        for w in range(LANES):
            dtu[i, w] = dtt[i, w] * ut[i, w]


@numba.njit(inline="always")
def _load_params(A, D, bias, g, c0, nw, At, D_v, bias_v):
    """At (N, LANES) = A[g, c0:c0 + nw].T, D_v, bias_v = D, bias [g, c0:c0 + nw]; lanes past nw get 0."""
    At[:, :] = 0
    D_v[:] = 0
    bias_v[:] = 0
    for w in range(nw):
        D_v[w] = D[g, c0 + w]
        bias_v[w] = bias[g, c0 + w]
        for n in range(A.shape[2]):
            At[n, w] = A[g, c0 + w, n]


@numba.njit(parallel=True, cache=True, fastmath=FASTMATH)
def _forward_kernel(u, delta, z, B, C, s, A, D, bias, h0, lengths, reverse, length, softplus, use_z,
                    use_h0, sum_groups, fast, n_slices, out, chunk_states, last_state):
    """s: (6, 4) element strides of u, delta, z, B, C, out, each read as (batch, L, G, C or N); out's
    group stride is 0 with sum_groups (it receives the sum over groups), z's when it is shared.
    A (G, C, N); D, bias (G, C) (zeros when absent); h0, last_state (batch, G, C, N); lengths (batch,);
    reverse (G,); chunk_states (batch, G, chunks, N, C): the state entering each chunk."""
    batch = lengths.shape[0]
    n_groups, dim, n_state = A.shape
    n_blocks = (dim + LANES - 1) // LANES
    per_slice = (n_blocks + n_slices - 1) // n_slices
    zero = u.dtype.type(0)
    for task in numba.prange(batch * n_slices):
        b, first = task // n_slices, (task % n_slices) * per_slice
        n_valid = lengths[b]
        ut = np.zeros((CHUNK, LANES), dtype=u.dtype)
        raw = np.zeros((CHUNK, LANES), dtype=u.dtype)
        dtt = np.zeros((CHUNK, LANES), dtype=u.dtype)
        dtu = np.zeros((CHUNK, LANES), dtype=u.dtype)
        yt = np.zeros((CHUNK, LANES), dtype=u.dtype)
        zt = np.zeros((CHUNK, LANES), dtype=u.dtype)
        Bt = np.zeros((CHUNK, n_state), dtype=u.dtype)
        Ct = np.zeros((CHUNK, n_state), dtype=u.dtype)
        work = np.empty(max(CHUNK, n_state) * LANES, dtype=u.dtype)
        bits = np.empty(max(CHUNK, n_state) * LANES, dtype=np.int32)
        At = np.zeros((n_state, LANES), dtype=u.dtype)
        h = np.zeros((n_state, LANES), dtype=u.dtype)
        decay = np.empty((n_state, LANES), dtype=u.dtype)
        D_v = np.zeros(LANES, dtype=u.dtype)
        bias_v = np.zeros(LANES, dtype=u.dtype)
        for blk in range(first, min(first + per_slice, n_blocks)):
            c0 = blk * LANES
            nw = min(LANES, dim - c0)
            for g in range(n_groups):
                rev = reverse[g]
                accumulate = sum_groups and g > 0
                _load_params(A, D, bias, g, c0, nw, At, D_v, bias_v)
                h[:, :] = 0
                if use_h0:
                    for w in range(nw):
                        for n in range(n_state):
                            h[n, w] = h0[b, g, c0 + w, n]
                for i0 in range(0, n_valid, CHUNK):
                    nt = min(CHUNK, n_valid - i0)
                    chunk_states[b, g, i0 // CHUNK, :, c0:c0 + nw] = h[:, :nw]
                    _load_chunk(u, delta, B, C, s, b, g, c0, nw, i0, nt, n_valid, rev, bias_v, softplus,
                                fast, ut, raw, dtt, dtu, Bt, Ct, work, bits)
                    for i in range(nt):
                        for n in range(n_state):
                            for w in range(LANES):
                                decay[n, w] = dtt[i, w] * At[n, w]
                        flat = decay.reshape(n_state * LANES)
                        exp_into(flat, flat, bits, fast)
                        for w in range(LANES):
                            yt[i, w] = D_v[w] * ut[i, w]
                        for n in range(n_state):
                            b_n = Bt[i, n]
                            c_n = Ct[i, n]
                            for w in range(LANES):
                                h_n = decay[n, w] * h[n, w] + dtu[i, w] * b_n
                                h[n, w] = h_n
                                yt[i, w] += h_n * c_n
                    if use_z:  # out = y * z * sigmoid(z)
                        for i in range(nt):
                            _gather(z, s[2], b, _position(i0 + i, n_valid, rev), g, c0, nw, zt[i])
                        gate = work[:nt * LANES]
                        sigmoid_into(zt[:nt].reshape(nt * LANES), gate, bits, fast)
                        for i in range(nt):
                            for w in range(LANES):
                                yt[i, w] *= zt[i, w] * gate[i * LANES + w]
                    for i in range(nt):
                        _scatter(out, s[5], b, _position(i0 + i, n_valid, rev), g, c0, nw, yt[i], accumulate)
                if not accumulate:
                    yt[0, :] = zero
                    for t in range(n_valid, length):
                        _scatter(out, s[5], b, t, g, c0, nw, yt[0], False)
                for w in range(nw):
                    for n in range(n_state):
                        last_state[b, g, c0 + w, n] = h[n, w]


@numba.njit(parallel=True, cache=True, fastmath=FASTMATH)
def _backward_kernel(u, delta, z, B, C, dout, s, A, D, bias, chunk_states, lengths, reverse, length,
                     softplus, use_z, shared_z, fast, n_slices, du, ddelta, dz, sd, dA, dD, dbias, dB, dC,
                     dh0):
    """Gradients of _forward_kernel. s: strides of u, delta, z, B, C, dout; sd: strides of du, ddelta,
    dz ((batch, L, G, C) each; dz's group stride 0 when z is shared: it receives the sum over groups).
    dA (batch, G, C, N), dD, dbias (batch, G, C): float64, summed over the batch by the caller.
    dB, dC (slices, batch, L, G, N), zero on entry: one partial per slice, summed by the caller.
    dh0 (batch, G, C, N): the gradient of the initial state."""
    batch = lengths.shape[0]
    n_groups, dim, n_state = A.shape
    n_blocks = (dim + LANES - 1) // LANES
    per_slice = (n_blocks + n_slices - 1) // n_slices
    zero = u.dtype.type(0)
    one = u.dtype.type(1)
    for task in numba.prange(batch * n_slices):
        b, sl = task // n_slices, task % n_slices
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
        dBt = np.zeros((CHUNK, n_state), dtype=u.dtype)
        dCt = np.zeros((CHUNK, n_state), dtype=u.dtype)
        work = np.empty(max(CHUNK, n_state) * LANES, dtype=u.dtype)
        bits = np.empty(max(CHUNK, n_state) * LANES, dtype=np.int32)
        states = np.zeros((CHUNK + 1, n_state, LANES), dtype=u.dtype)
        decays = np.zeros((CHUNK, n_state, LANES), dtype=u.dtype)
        At = np.zeros((n_state, LANES), dtype=u.dtype)
        dh = np.zeros((n_state, LANES), dtype=u.dtype)
        dA_chunk = np.zeros((n_state, LANES), dtype=u.dtype)
        dA_acc = np.zeros((n_state, LANES), dtype=np.float64)
        dD_acc = np.zeros(LANES, dtype=np.float64)
        dbias_acc = np.zeros(LANES, dtype=np.float64)
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
                _load_params(A, D, bias, g, c0, nw, At, D_v, bias_v)
                dh[:, :] = 0
                dA_acc[:, :] = 0
                dD_acc[:] = 0
                dbias_acc[:] = 0
                for i0 in range(((n_valid - 1) // CHUNK) * CHUNK, -1, -CHUNK):
                    nt = min(CHUNK, n_valid - i0)
                    _load_chunk(u, delta, B, C, s, b, g, c0, nw, i0, nt, n_valid, rev, bias_v, softplus,
                                fast, ut, raw, dtt, dtu, Bt, Ct, work, bits)
                    # states and decays inside the chunk, from its saved start; y before the gate
                    states[0, :, :] = 0
                    states[0, :, :nw] = chunk_states[b, g, i0 // CHUNK, :, c0:c0 + nw]
                    for i in range(nt):
                        for n in range(n_state):
                            for w in range(LANES):
                                decays[i, n, w] = dtt[i, w] * At[n, w]
                        flat = decays[i].reshape(n_state * LANES)
                        exp_into(flat, flat, bits, fast)
                        for w in range(LANES):
                            yt[i, w] = D_v[w] * ut[i, w]
                        for n in range(n_state):
                            b_n = Bt[i, n]
                            c_n = Ct[i, n]
                            for w in range(LANES):
                                h_n = decays[i, n, w] * states[i, n, w] + dtu[i, w] * b_n
                                states[i + 1, n, w] = h_n
                                yt[i, w] += h_n * c_n
                    for i in range(nt):
                        _gather(dout, s[5], b, _position(i0 + i, n_valid, rev), g, c0, nw, gt[i])
                    if use_z:  # gt = dout * silu(z); dz = dout * y * silu'(z)
                        for i in range(nt):
                            _gather(z, s[2], b, _position(i0 + i, n_valid, rev), g, c0, nw, zt[i])
                        sig = work[:nt * LANES]
                        sigmoid_into(zt[:nt].reshape(nt * LANES), sig, bits, fast)
                        for i in range(nt):
                            for w in range(LANES):
                                sg = sig[i * LANES + w]
                                zw = zt[i, w]
                                yt[i, w] = gt[i, w] * yt[i, w] * sg * (one + zw * (one - sg))
                                gt[i, w] *= zw * sg
                        for i in range(nt):
                            _scatter(dz, sd[2], b, _position(i0 + i, n_valid, rev), g, c0, nw, yt[i],
                                     accumulate_dz)
                    for i in range(nt - 1, -1, -1):
                        S[:] = 0
                        ddt_A[:] = 0
                        for n in range(n_state):
                            b_n = Bt[i, n]
                            c_n = Ct[i, n]
                            sum_B = zero
                            sum_C = zero
                            for w in range(LANES):
                                dh_n = dh[n, w] + gt[i, w] * c_n
                                sum_C += gt[i, w] * states[i + 1, n, w]
                                sum_B += dh_n * dtu[i, w]
                                S[w] += dh_n * b_n
                                da = dh_n * states[i, n, w] * decays[i, n, w]
                                ddt_A[w] += da * At[n, w]
                                dA_chunk[n, w] += da * dtt[i, w]
                                dh[n, w] = dh_n * decays[i, n, w]
                            dBt[i, n] = sum_B
                            dCt[i, n] = sum_C
                        for w in range(LANES):
                            dut[i, w] = S[w] * dtt[i, w] + gt[i, w] * D_v[w]
                            ddt[i, w] = S[w] * ut[i, w] + ddt_A[w]
                    if softplus:  # d softplus(x) / dx = sigmoid(x), 1 above the threshold
                        sig = work[:nt * LANES]
                        sigmoid_into(raw[:nt].reshape(nt * LANES), sig, bits, fast)
                        for i in range(nt):
                            for w in range(LANES):
                                if raw[i, w] <= SOFTPLUS_THRESHOLD:
                                    ddt[i, w] *= sig[i * LANES + w]
                    for i in range(nt):
                        t = _position(i0 + i, n_valid, rev)
                        _scatter(du, sd[0], b, t, g, c0, nw, dut[i], False)
                        _scatter(ddelta, sd[1], b, t, g, c0, nw, ddt[i], False)
                        for w in range(LANES):
                            dD_acc[w] += gt[i, w] * ut[i, w]
                            dbias_acc[w] += ddt[i, w]
                        for n in range(n_state):
                            dB[sl, b, t, g, n] += dBt[i, n]
                            dC[sl, b, t, g, n] += dCt[i, n]
                    for n in range(n_state):
                        for w in range(LANES):
                            dA_acc[n, w] += dA_chunk[n, w]
                            dA_chunk[n, w] = 0
                dut[0, :] = zero
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


def _slices(batch, dim):
    """Channel-block slices per sequence: enough tasks to keep every thread busy."""
    n_blocks = -(-dim // LANES)
    return max(1, min(n_blocks, -(-2 * numba.get_num_threads() // batch)))


def _np_dtype(x):
    return np.float64 if x.dtype == torch.float64 else np.float32


class SelectiveScanCPU(torch.autograd.Function):
    """The scan over (batch, L, G, C) operands; see the module docstring and `scan_cpu` for the API."""

    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, z, delta_bias, initial_state, softplus, lengths, reverse,
                sum_groups):
        batch, length, n_groups, dim = u.shape
        n_state = A.shape[-1]
        dtype = _np_dtype(u)
        lengths = torch.full((batch,), length, dtype=torch.int64) if lengths is None else lengths
        reverse = torch.zeros(n_groups, dtype=torch.bool) if reverse is None else reverse
        D_ = torch.zeros(n_groups, dim, dtype=u.dtype) if D is None else D
        bias_ = torch.zeros(n_groups, dim, dtype=u.dtype) if delta_bias is None else delta_bias
        out = torch.empty(batch, length, 1 if sum_groups else n_groups, dim, dtype=u.dtype)
        chunk_states = torch.empty(batch, n_groups, -(-length // CHUNK), n_state, dim, dtype=u.dtype)
        last_state = torch.empty(batch, n_groups, dim, n_state, dtype=u.dtype)
        operands = [strided(x, 4, dtype) for x in (u, delta, z, B, C, out)]
        strides = np.stack([st for _, st in operands])
        _forward_kernel(*(flat for flat, _ in operands[:5]), strides, A.detach().contiguous().numpy(),
                        D_.detach().contiguous().numpy(), bias_.detach().contiguous().numpy(),
                        _dense(initial_state, 4, dtype), lengths.numpy(), reverse.numpy(), length, softplus,
                        z is not None, initial_state is not None, sum_groups, dtype == np.float32,
                        _slices(batch, dim), operands[5][0], chunk_states.numpy(), last_state.numpy())
        ctx.save_for_backward(u, delta, A, B, C, D, z, delta_bias, chunk_states, lengths, reverse)
        ctx.flags = (softplus, sum_groups, initial_state is not None)
        ctx.mark_non_differentiable(last_state)
        return out, last_state

    @staticmethod
    def backward(ctx, dout, _dlast_state):
        u, delta, A, B, C, D, z, delta_bias, chunk_states, lengths, reverse = ctx.saved_tensors
        softplus, sum_groups, has_h0 = ctx.flags
        batch, length, n_groups, dim = u.shape
        n_state = A.shape[-1]
        dtype = _np_dtype(u)
        n_slices = _slices(batch, dim)
        D_ = torch.zeros(n_groups, dim, dtype=u.dtype) if D is None else D
        bias_ = torch.zeros(n_groups, dim, dtype=u.dtype) if delta_bias is None else delta_bias
        du, ddelta = torch.empty_like(u), torch.empty_like(delta)
        dz = torch.empty_like(z) if z is not None else None
        dA = torch.empty(batch, n_groups, dim, n_state, dtype=torch.float64)
        dD = torch.empty(batch, n_groups, dim, dtype=torch.float64)
        dbias = torch.empty(batch, n_groups, dim, dtype=torch.float64)
        dB = torch.zeros(n_slices, batch, length, n_groups, n_state, dtype=u.dtype)
        dC = torch.zeros(n_slices, batch, length, n_groups, n_state, dtype=u.dtype)
        dh0 = torch.empty(batch, n_groups, dim, n_state, dtype=u.dtype)
        operands = [strided(x, 4, dtype) for x in (u, delta, z, B, C, dout)]
        strides = np.stack([st for _, st in operands])
        grads = [strided(x, 4, dtype) for x in (du, ddelta, dz)]
        grad_strides = np.stack([st for _, st in grads])
        shared_z = z is not None and z.shape[2] == 1 and n_groups > 1
        _backward_kernel(*(flat for flat, _ in operands), strides, A.detach().contiguous().numpy(),
                         D_.detach().contiguous().numpy(), bias_.detach().contiguous().numpy(),
                         chunk_states.numpy(), lengths.numpy(), reverse.numpy(), length, softplus,
                         z is not None, shared_z, dtype == np.float32, n_slices,
                         *(flat for flat, _ in grads), grad_strides, dA.numpy(), dD.numpy(), dbias.numpy(),
                         dB.numpy(), dC.numpy(), dh0.numpy())
        return (du, ddelta, dA.sum(0).to(A.dtype), dB.sum(0), dC.sum(0),
                dD.sum(0).to(u.dtype) if D is not None else None, dz,
                dbias.sum(0).to(u.dtype) if delta_bias is not None else None,
                dh0 if has_h0 else None, None, None, None, None)


def _dense(x, ndim, dtype):
    """A contiguous numpy copy of a small operand, or a dummy of `ndim` dims when absent."""
    if x is None:
        return np.zeros((1,) * ndim, dtype=dtype)
    return x.detach().contiguous().numpy()


def scan_cpu(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False, initial_state=None):
    """selective_scan's cpu backend. Canonical inputs (see selective_scan._canonical): u, delta, z
    (b, d, l); A (d, n); B, C (d, n) or (b, g, n, l). Returns (out (b, d, l), last_state (b, d, n)).

    Group g of B/C is channel group g of the kernel: every view below is free. Constant B/C (no mixer
    uses them) make every channel its own group: correct, but one lane of each vector does the work."""
    batch, dim, length = u.shape
    if B.dim() == 2 or C.dim() == 2:
        def per_channel(x):
            if x.dim() == 2:
                return x[None, None].expand(batch, length, dim, x.shape[1])
            return x.repeat_interleave(dim // x.shape[1], dim=1).permute(0, 3, 1, 2)

        groups, B_, C_ = dim, per_channel(B), per_channel(C)
    else:
        groups, B_, C_ = B.shape[1], B.permute(0, 3, 1, 2), C.permute(0, 3, 1, 2)

    def channels_last(x):
        return None if x is None else x.transpose(1, 2).unflatten(2, (groups, dim // groups))

    def per_group(x):
        return None if x is None else x.reshape(groups, dim // groups)

    out, last_state = SelectiveScanCPU.apply(
        channels_last(u), channels_last(delta), A.reshape(groups, dim // groups, -1), B_, C_, per_group(D),
        channels_last(z), per_group(delta_bias),
        None if initial_state is None else initial_state.reshape(batch, groups, dim // groups, -1),
        delta_softplus, None, None, False)
    return out.flatten(2).transpose(1, 2), last_state.flatten(1, 2)
