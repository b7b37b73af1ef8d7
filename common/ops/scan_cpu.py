"""Fast CPU selective scan: numba kernels with a hand-written backward.

Forward runs the recurrence h_t = exp(dt_t A) h_t-1 + dt_t B_t u_t once per (batch, channel),
in parallel over channels, and keeps only the state at the start of every CHUNK steps. Backward
walks the chunks in reverse, recomputes the states inside one chunk from its saved start (so memory
is O(L / CHUNK) states, not O(L)), and runs the adjoint recurrence
    dh_t = g_t C_t + exp(dt_t+1 A) dh_t+1
accumulating every input's gradient on the way. The per-channel sums (dA, dD, d delta_bias)
accumulate in float64.

B/C gradients are shared by all channels of a group, so backward work is split into independent
tasks (batch, group, channel slice), each with its own partial buffer, summed afterwards: no races,
no atomics. Inputs arrive validated and in the canonical layout of `selective_scan._canonical`.
"""
import math
import os
import sys

import common

if common.TORCH_OPENMP_SPINS and "numba" not in sys.modules:
    # torch was loaded before us with busy-waiting workers (see common/__init__.py): a second pool of
    # scan threads would fight them for the cores, so the scan runs on the calling thread alone.
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numba  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

CHUNK = 64
SOFTPLUS_THRESHOLD = 20.0  # as F.softplus: identity above it
# Reassociation lets LLVM vectorise the sums over the state dimension; no-NaN/no-inf flags are left
# out on purpose so a NaN input still shows up as NaN instead of undefined behaviour.
FASTMATH = {"reassoc", "contract", "nsz", "arcp"}


@numba.njit(inline="always")
def _step_size(raw, softplus):
    if softplus and raw <= SOFTPLUS_THRESHOLD:
        return math.log1p(math.exp(raw))
    return raw


@numba.njit(inline="always", fastmath=FASTMATH)
def _exp_into(x, out, bits, fast):
    """out = exp(x) over a short vector. float32 (`fast`): Cody-Waite range reduction, a degree-7
    polynomial and the exponent written as bits, all vectorisable, ~4.5x faster than scalar expf calls
    and within 1e-7 relative; float64: math.exp. NaN stays NaN, underflow gives 0, overflow inf."""
    if not fast:
        for i in range(x.shape[0]):
            out[i] = math.exp(x[i])
        return
    scale = bits.view(np.float32)
    for i in range(x.shape[0]):
        xi = np.float32(x[i])
        xi = np.float32(-87.0) if xi < -87.0 else xi
        xi = np.float32(89.0) if xi > 89.0 else xi
        k = np.floor(xi * np.float32(1.4426950408889634) + np.float32(0.5))
        r = xi - k * np.float32(0.693359375) + k * np.float32(2.12194440e-4)  # ln2 split in two
        p = np.float32(1 / 5040)
        p = p * r + np.float32(1 / 720)
        p = p * r + np.float32(1 / 120)
        p = p * r + np.float32(1 / 24)
        p = p * r + np.float32(1 / 6)
        p = p * r + np.float32(0.5)
        p = p * r + np.float32(1.0)
        out[i] = p * r + np.float32(1.0)
        bits[i] = (np.int32(k) + 127) << 23
    for i in range(x.shape[0]):
        out[i] = 0.0 if x[i] < -87.0 else out[i] * scale[i]


@numba.njit(inline="always")
def _row(x, variable, b, d, dim):
    """(batch, group) index of channel d's B or C rows; constant ones are stored as (1, d, 1, n)."""
    if variable:
        return b, d // (dim // x.shape[1])
    return 0, d


@numba.njit(parallel=True, cache=True, fastmath=FASTMATH)
def _forward_kernel(u, delta, A, B, C, D, z, bias, h0, softplus, var_B, var_C, use_D, use_z,
                    use_bias, use_h0, fast_exp, out, chunk_states, last_state):
    """u, delta, z, out: (b, d, l). A: (d, n). B, C: (b, g, l, n) when variable, else (1, d, 1, n).
    chunk_states: (b, d, n_chunks, n) state entering each chunk. last_state: (b, d, n)."""
    batch, dim, length = u.shape
    n_state = A.shape[1]
    for task in numba.prange(batch * dim):
        b = task // dim
        d = task % dim
        bB, gB = _row(B, var_B, b, d, dim)
        bC, gC = _row(C, var_C, b, d, dim)
        h = np.zeros(n_state, dtype=u.dtype)
        exponents = np.empty(n_state, dtype=u.dtype)
        decay = np.empty(n_state, dtype=u.dtype)
        bits = np.empty(n_state, dtype=np.int32)
        if use_h0:
            h[:] = h0[b, d]
        bias_d = bias[d] if use_bias else 0.0
        for t in range(length):
            if t % CHUNK == 0:
                chunk_states[b, d, t // CHUNK] = h
            dt = _step_size(delta[b, d, t] + bias_d, softplus)
            dtu = dt * u[b, d, t]
            tB = t if var_B else 0
            tC = t if var_C else 0
            for n in range(n_state):
                exponents[n] = dt * A[d, n]
            _exp_into(exponents, decay, bits, fast_exp)
            y = 0.0
            for n in range(n_state):
                b_tn = B[bB, gB, tB, n]
                c_tn = C[bC, gC, tC, n]
                h[n] = decay[n] * h[n] + dtu * b_tn
                y += h[n] * c_tn
            if use_D:
                y += D[d] * u[b, d, t]
            if use_z:
                zt = z[b, d, t]
                y *= zt / (1.0 + math.exp(-zt))
            out[b, d, t] = y
        last_state[b, d] = h


@numba.njit(parallel=True, cache=True, fastmath=FASTMATH)
def _backward_kernel(u, delta, A, B, C, D, z, bias, chunk_states, dout, softplus, var_B, var_C,
                     use_D, use_z, use_bias, fast_exp, n_slices,
                     du, ddelta, dz, dA_part, dD_part, dbias_part, dB_part, dC_part, dh0):
    """Gradients of the forward kernel. *_part buffers get one slot per task and are summed by the
    caller: dA_part (b, d, n), dD_part/dbias_part (b, d), dB_part/dC_part (b, g, slices, l, n) when
    variable else (b, d, 1, 1, n). dh0 (b, d, n) receives the gradient of the initial state."""
    batch, dim, length = u.shape
    n_state = A.shape[1]
    groups = max(B.shape[1] if var_B else 1, C.shape[1] if var_C else 1)
    per_group = dim // groups
    per_slice = (per_group + n_slices - 1) // n_slices
    n_chunks = (length + CHUNK - 1) // CHUNK
    for task in numba.prange(batch * groups * n_slices):
        b = task // (groups * n_slices)
        g = (task // n_slices) % groups
        s = task % n_slices
        d_start = g * per_group + s * per_slice
        d_stop = min(d_start + per_slice, (g + 1) * per_group)
        states = np.empty((CHUNK + 1, n_state), dtype=u.dtype)
        decays = np.empty((CHUNK, n_state), dtype=u.dtype)
        exponents = np.empty(n_state, dtype=u.dtype)
        bits = np.empty(n_state, dtype=np.int32)
        steps = np.empty(CHUNK, dtype=u.dtype)
        dh = np.empty(n_state, dtype=u.dtype)
        dA_acc = np.empty(n_state, dtype=np.float64)
        for d in range(d_start, d_stop):
            bB, gB = _row(B, var_B, b, d, dim)
            bC, gC = _row(C, var_C, b, d, dim)
            # where this channel's dB / dC go: its task's slot if variable, its own row if constant
            gdB, sdB = (g, s) if var_B else (d, 0)
            gdC, sdC = (g, s) if var_C else (d, 0)
            bias_d = bias[d] if use_bias else 0.0
            dh[:] = 0.0
            dA_acc[:] = 0.0
            dD_acc = 0.0
            dbias_acc = 0.0
            for c in range(n_chunks - 1, -1, -1):
                t0 = c * CHUNK
                t1 = min(t0 + CHUNK, length)
                states[0] = chunk_states[b, d, c]
                for t in range(t0, t1):
                    i = t - t0
                    dt = _step_size(delta[b, d, t] + bias_d, softplus)
                    steps[i] = dt
                    dtu = dt * u[b, d, t]
                    tB = t if var_B else 0
                    for n in range(n_state):
                        exponents[n] = dt * A[d, n]
                    _exp_into(exponents, decays[i], bits, fast_exp)
                    for n in range(n_state):
                        states[i + 1, n] = decays[i, n] * states[i, n] + dtu * B[bB, gB, tB, n]
                for t in range(t1 - 1, t0 - 1, -1):
                    i = t - t0
                    dt = steps[i]
                    ut = u[b, d, t]
                    g_out = dout[b, d, t]
                    tB = t if var_B else 0
                    tC = t if var_C else 0
                    if use_z:
                        y = 0.0
                        for n in range(n_state):
                            y += states[i + 1, n] * C[bC, gC, tC, n]
                        if use_D:
                            y += D[d] * ut
                        zt = z[b, d, t]
                        sig = 1.0 / (1.0 + math.exp(-zt))
                        dz[b, d, t] = g_out * y * sig * (1.0 + zt * (1.0 - sig))
                        g_out = g_out * zt * sig
                    du_t = 0.0
                    if use_D:
                        dD_acc += g_out * ut
                        du_t = g_out * D[d]
                    ddt = 0.0
                    for n in range(n_state):
                        a = decays[i, n]
                        b_tn = B[bB, gB, tB, n]
                        c_tn = C[bC, gC, tC, n]
                        dh_n = dh[n] + g_out * c_tn
                        dC_part[b, gdC, sdC, tC, n] += g_out * states[i + 1, n]
                        dB_part[b, gdB, sdB, tB, n] += dh_n * dt * ut
                        du_t += dh_n * dt * b_tn
                        da = dh_n * states[i, n] * a
                        ddt += dh_n * b_tn * ut + da * A[d, n]
                        dA_acc[n] += da * dt
                        dh[n] = dh_n * a
                    if softplus:
                        raw = delta[b, d, t] + bias_d
                        if raw <= SOFTPLUS_THRESHOLD:
                            ddt = ddt / (1.0 + math.exp(-raw))
                    du[b, d, t] = du_t
                    ddelta[b, d, t] = ddt
                    dbias_acc += ddt
            dh0[b, d] = dh
            dA_part[b, d] = dA_acc
            dD_part[b, d] = dD_acc
            dbias_part[b, d] = dbias_acc


def _numpy(x, dtype, ndim=1):
    """A contiguous numpy view, or an `ndim` dummy for an absent optional input (same signature either
    way, so numba compiles one kernel per B/C layout, not per combination of optional inputs)."""
    if x is None:
        return np.zeros((1,) * ndim, dtype=dtype)
    return x.detach().contiguous().numpy()


def _kernel_layout(x):
    """Variable B/C (b, g, n, l) -> (b, g, l, n) so the kernels read one step's n values contiguously;
    constant (d, n) -> (1, d, 1, n) so both kinds index alike."""
    return x.transpose(-1, -2).contiguous() if x.dim() == 4 else x.reshape(1, x.shape[0], 1, x.shape[1])


def _slices_per_group(batch, groups, dim):
    """Enough independent backward tasks to keep every thread busy, at most one per channel."""
    wanted = -(-2 * numba.get_num_threads() // (batch * groups))
    return max(1, min(wanted, dim // groups))


class SelectiveScanCPU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, z, delta_bias, initial_state, delta_softplus):
        dtype = np.float64 if u.dtype == torch.float64 else np.float32
        Bt, Ct = _kernel_layout(B), _kernel_layout(C)
        batch, dim, length = u.shape
        n_state = A.shape[1]
        out = torch.empty_like(u)
        chunk_states = torch.empty(batch, dim, -(-length // CHUNK), n_state, dtype=u.dtype)
        last_state = torch.empty(batch, dim, n_state, dtype=u.dtype)
        args = (_numpy(u, dtype), _numpy(delta, dtype), _numpy(A, dtype), _numpy(Bt, dtype),
                _numpy(Ct, dtype), _numpy(D, dtype), _numpy(z, dtype, 3), _numpy(delta_bias, dtype),
                _numpy(initial_state, dtype, 3))
        _forward_kernel(*args, delta_softplus, B.dim() == 4, C.dim() == 4, D is not None,
                        z is not None, delta_bias is not None, initial_state is not None,
                        dtype == np.float32, out.numpy(), chunk_states.numpy(), last_state.numpy())
        ctx.save_for_backward(u, delta, A, Bt, Ct, D, z, delta_bias, chunk_states)
        ctx.variable = (B.dim() == 4, C.dim() == 4)
        ctx.delta_softplus = delta_softplus
        ctx.has_initial_state = initial_state is not None
        ctx.mark_non_differentiable(last_state)
        return out, last_state

    @staticmethod
    def backward(ctx, dout, _dlast_state):
        u, delta, A, Bt, Ct, D, z, delta_bias, chunk_states = ctx.saved_tensors
        dtype = np.float64 if u.dtype == torch.float64 else np.float32
        batch, dim, length = u.shape
        n_state = A.shape[1]
        var_B, var_C = ctx.variable
        groups = max(Bt.shape[1] if var_B else 1, Ct.shape[1] if var_C else 1)
        n_slices = _slices_per_group(batch, groups, dim)
        du, ddelta = torch.empty_like(u), torch.empty_like(u)
        dz = torch.empty_like(u) if z is not None else None
        dA_part = torch.empty(batch, dim, n_state, dtype=torch.float64)
        dD_part = torch.empty(batch, dim, dtype=torch.float64)
        dbias_part = torch.empty(batch, dim, dtype=torch.float64)

        def partial_grad(var):
            shape = (batch, groups, n_slices, length, n_state) if var else (batch, dim, 1, 1, n_state)
            return torch.zeros(shape, dtype=u.dtype)

        dB_part, dC_part = partial_grad(var_B), partial_grad(var_C)
        dh0 = torch.empty(batch, dim, n_state, dtype=u.dtype)
        _backward_kernel(
            _numpy(u, dtype), _numpy(delta, dtype), _numpy(A, dtype), _numpy(Bt, dtype),
            _numpy(Ct, dtype), _numpy(D, dtype), _numpy(z, dtype, 3), _numpy(delta_bias, dtype),
            chunk_states.numpy(), _numpy(dout, dtype), ctx.delta_softplus, var_B, var_C,
            D is not None, z is not None, delta_bias is not None, dtype == np.float32, n_slices,
            du.numpy(), ddelta.numpy(), _numpy(dz, dtype, 3), dA_part.numpy(), dD_part.numpy(),
            dbias_part.numpy(), dB_part.numpy(), dC_part.numpy(), dh0.numpy())

        def reduce_BC(var, grad_part):
            if not var:
                return grad_part.sum((0, 2, 3))  # (b, d, 1, 1, n) -> (d, n)
            return grad_part.sum(2).transpose(-1, -2)  # (b, g, slices, l, n) -> (b, g, n, l)

        dA = dA_part.sum(0).to(A.dtype)
        dD = dD_part.sum(0).to(D.dtype) if D is not None else None
        dbias = dbias_part.sum(0).to(delta_bias.dtype) if delta_bias is not None else None
        return (du, ddelta, dA, reduce_BC(var_B, dB_part), reduce_BC(var_C, dC_part), dD, dz,
                dbias, dh0 if ctx.has_initial_state else None, None)
