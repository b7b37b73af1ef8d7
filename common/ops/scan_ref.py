"""Plain sequential selective scan: the obviously correct reference the tests compare against.

Autograd runs through the Python loop over time, which is fine at test sizes and hopeless at real
ones (see tools/bench_scan.py). Inputs arrive already validated and in the canonical layout (see
`selective_scan._canonical`): u, delta, z (b, d, l); A (d, n); B, C either (d, n) or (b, g, n, l).
"""
import torch
import torch.nn.functional as F


def _per_channel(x, dim):
    """(b, g, n, l) -> (b, d, n, l): channel d reads group d // (dim / g)."""
    return x.repeat_interleave(dim // x.shape[1], dim=1)


def scan_ref(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
             initial_state=None):
    """Returns (out (b, d, l), last_state (b, d, n)), both in the compute dtype."""
    batch, dim, length = u.shape
    if delta_bias is not None:
        delta = delta + delta_bias[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    variable_B, variable_C = B.dim() == 4, C.dim() == 4
    if variable_B:
        B = _per_channel(B, dim)
    if variable_C:
        C = _per_channel(C, dim)
    h = u.new_zeros(batch, dim, A.shape[1]) if initial_state is None else initial_state
    ys = []
    for t in range(length):
        dt = delta[:, :, t, None]                                       # (b, d, 1)
        B_t = B[..., t] if variable_B else B                            # (b, d, n) or (d, n)
        C_t = C[..., t] if variable_C else C
        h = torch.exp(dt * A) * h + dt * B_t * u[:, :, t, None]
        ys.append((h * C_t).sum(-1))
    out = torch.stack(ys, dim=-1)
    if D is not None:
        out = out + D[:, None] * u
    if z is not None:
        out = out * F.silu(z)
    return out, h
