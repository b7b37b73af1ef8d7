"""Selective scan in plain PyTorch for any device (a GPU without mamba-ssm, or a CPU without numba).

The discretisation, the readout and the gates are ordinary tensor ops under autograd; only the linear
recurrence h_t = a_t * h_t-1 + b_t is a custom autograd function. It scans chunks of CHUNK steps in
parallel (Hillis-Steele, log2(CHUNK) passes over the whole tensor), then carries the state across
chunks in a short loop. Its backward is the same scan run in reverse on the adjoint
dh_t = g_t + a_t+1 dh_t+1. Products of decays stay <= 1, so unlike log-space/cumsum tricks this never
overflows. Memory is O(b d l n): fine on a GPU at realistic sizes, the CPU backend is leaner.
"""
import torch
import torch.nn.functional as F

CHUNK = 64


def _scan_within_chunks(a, b):
    """Inclusive scan of h_t = a_t h_t-1 + b_t inside each chunk of the time axis (dim -2), starting
    from zero. a, b: (..., n_chunks, chunk, n). Returns (decay product, h) of the same shape."""
    step = 1
    while step < a.shape[-2]:
        b = torch.cat([b[..., :step, :], b[..., step:, :] + a[..., step:, :] * b[..., :-step, :]], dim=-2)
        a = torch.cat([a[..., :step, :], a[..., step:, :] * a[..., :-step, :]], dim=-2)
        step *= 2
    return a, b


def linear_scan(a, b, h0):
    """h_t = a_t * h_t-1 + b_t over dim -2 with h_-1 = h0. a, b: (..., l, n); h0: (..., n)."""
    length = a.shape[-2]
    pad = -length % CHUNK
    if pad:  # identity steps (a = 1, b = 0) at the end
        a = F.pad(a, (0, 0, 0, pad), value=1.0)
        b = F.pad(b, (0, 0, 0, pad))
    shape = a.shape[:-2] + (a.shape[-2] // CHUNK, CHUNK, a.shape[-1])
    decay, h = _scan_within_chunks(a.reshape(shape), b.reshape(shape))
    carry = h0
    starts = []
    for c in range(shape[-3]):
        starts.append(carry)
        carry = decay[..., c, -1, :] * carry + h[..., c, -1, :]
    h = h + decay * torch.stack(starts, dim=-2).unsqueeze(-2)
    return h.reshape(a.shape)[..., :length, :]


class LinearScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b, h0):
        h = linear_scan(a, b, h0)
        ctx.save_for_backward(a, h, h0)
        return h

    @staticmethod
    def backward(ctx, grad_h):
        a, h, h0 = ctx.saved_tensors
        # Adjoint: lam_t = g_t + a_t+1 lam_t+1, a scan over reversed time with shifted decays.
        a_next = torch.cat([a[..., 1:, :], torch.zeros_like(a[..., :1, :])], dim=-2)
        lam = linear_scan(a_next.flip(-2), grad_h.flip(-2), torch.zeros_like(h0)).flip(-2)
        h_prev = torch.cat([h0.unsqueeze(-2), h[..., :-1, :]], dim=-2)
        return lam * h_prev, lam, a[..., 0, :] * lam[..., 0, :]


def _per_channel_time_major(x, dim):
    """(b, g, n, l) -> (b, d, l, n); (d, n) -> (d, 1, n) to broadcast over batch and time."""
    if x.dim() == 2:
        return x.unsqueeze(1)
    return x.repeat_interleave(dim // x.shape[1], dim=1).transpose(-1, -2)


def scan_torch(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
               initial_state=None):
    """Returns (out (b, d, l), last_state (b, d, n)) in the compute dtype. Canonical inputs as in
    `selective_scan._canonical`."""
    batch, dim, _ = u.shape
    if delta_bias is not None:
        delta = delta + delta_bias[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    dt = delta.unsqueeze(-1)                                               # (b, d, l, 1)
    a = torch.exp(dt * A.unsqueeze(1))                                     # (b, d, l, n)
    b = dt * _per_channel_time_major(B, dim) * u.unsqueeze(-1)
    h0 = u.new_zeros(batch, dim, A.shape[1]) if initial_state is None else initial_state
    h = LinearScan.apply(a, b, h0)
    out = (h * _per_channel_time_major(C, dim)).sum(-1)
    if D is not None:
        out = out + D[:, None] * u
    if z is not None:
        out = out * F.silu(z)
    return out, h[..., -1, :].detach()
