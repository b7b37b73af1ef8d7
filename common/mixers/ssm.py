"""The selective-SSM branch that Mamba, ViM and DBM share, with mamba_ssm's parameterisation.

A branch is conv1d -> SiLU -> x_proj -> (dt, B, C) -> dt_proj -> selective scan (D skip, SiLU(z)
gate). Its parameters sit directly on the mixer under mamba_ssm's names (conv1d, x_proj, dt_proj,
A_log, D; ViM's backward branch adds conv1d_b, x_proj_b, dt_proj_b, A_b_log, D_b) so upstream
state_dicts load with strict=True.

Two ways to run the branches, same numbers:
  `branch`       one direction at a time through causal_conv1d and selective_scan (any device and
                 backend); bidirectional mixers reverse their inputs and outputs around it.
  `branches_cpu` fp32/fp64 CPU tensors with the cpu scan backend: every direction in one conv kernel
                 and one scan kernel (ops/conv_cpu.py, ops/scan_cpu.py), which read the projections'
                 channel-last views as they are and reverse within each valid length themselves, so
                 there is no transpose, flip or concatenation around them.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from ..ops import causal_conv1d, resolve_backend, selective_scan
from .padding import valid_lengths


class SelectiveSSMMixer(nn.Module):
    """Base of the Mamba-family mixers: holds the hyperparameters, builds and runs branches.
    Constructor arguments as mamba_ssm's Mamba (use_fast_path and layer_idx are accepted for config
    compatibility; the scan backend is chosen by `scan_backend`, see common.ops.selective_scan)."""

    def __init__(self, d_model, d_state=16, d_conv=4, expand=2, dt_rank="auto", dt_min=0.001,
                 dt_max=0.1, dt_init="random", dt_scale=1.0, dt_init_floor=1e-4, conv_bias=True,
                 bias=False, use_fast_path=True, layer_idx=None, device=None, dtype=None,
                 scan_backend="auto"):
        super().__init__()
        if dt_init not in ("random", "constant"):
            raise ValueError(f"dt_init must be 'random' or 'constant', got {dt_init!r}")
        self.d_model, self.d_state, self.d_conv, self.expand = d_model, d_state, d_conv, expand
        self.d_inner = int(expand * d_model)
        self.dt_rank = math.ceil(d_model / 16) if dt_rank == "auto" else dt_rank
        self.layer_idx, self.scan_backend = layer_idx, scan_backend
        self._dt_init = dict(dt_min=dt_min, dt_max=dt_max, dt_init=dt_init, dt_scale=dt_scale,
                             dt_init_floor=dt_init_floor)
        self._conv_bias, self._bias = conv_bias, bias
        self._factory = dict(device=device, dtype=dtype)

    def add_branch(self, suffix: str = ""):
        """Creates conv1d{s}, x_proj{s}, dt_proj{s}, A{s}_log, D{s} with mamba_ssm's initialisation."""
        d_inner, factory = self.d_inner, self._factory
        setattr(self, "conv1d" + suffix, nn.Conv1d(d_inner, d_inner, self.d_conv, groups=d_inner,
                                                   padding=self.d_conv - 1, bias=self._conv_bias, **factory))
        setattr(self, "x_proj" + suffix, nn.Linear(d_inner, self.dt_rank + 2 * self.d_state, bias=False,
                                                   **factory))
        dt_proj = nn.Linear(self.dt_rank, d_inner, bias=True, **factory)
        init_dt_proj(dt_proj, self.dt_rank, **self._dt_init)
        setattr(self, "dt_proj" + suffix, dt_proj)
        A = torch.arange(1, self.d_state + 1, dtype=torch.float32, device=factory["device"])
        A_log = nn.Parameter(torch.log(A).repeat(d_inner, 1))  # S4D-real: A = -(1..N), kept fp32
        D = nn.Parameter(torch.ones(d_inner, device=factory["device"]))
        A_log._no_weight_decay = D._no_weight_decay = True
        setattr(self, f"A{suffix}_log", A_log)
        setattr(self, "D" + suffix, D)

    def branch(self, suffix, x, z, conv_state=None, ssm_state=None):
        """x, z: (B, d_inner, L) -> y (B, d_inner, L). With states (streaming) also returns the
        final ssm state; conv_state (B, d_inner, d_conv - 1) holds the inputs before x."""
        conv = getattr(self, "conv1d" + suffix)
        x = causal_conv1d(x, conv.weight, conv.bias, activation="silu", initial_state=conv_state)
        dt, B, C = getattr(self, "x_proj" + suffix)(x.transpose(1, 2)).split(
            [self.dt_rank, self.d_state, self.d_state], dim=-1)
        dt_proj = getattr(self, "dt_proj" + suffix)
        dt = F.linear(dt, dt_proj.weight).transpose(1, 2)  # the bias enters the scan as delta_bias
        A = -torch.exp(getattr(self, f"A{suffix}_log").float())
        backend = self.scan_backend
        if ssm_state is not None and resolve_backend(backend, x.device, x.dtype) == "cuda":
            backend = "torch"  # mamba-ssm's kernel cannot start from a given state
        return selective_scan(x, dt, A, B.transpose(1, 2), C.transpose(1, 2),
                              getattr(self, "D" + suffix).float(), z=z,
                              delta_bias=dt_proj.bias.float(), delta_softplus=True,
                              return_last_state=ssm_state is not None, backend=backend,
                              initial_state=ssm_state)

    def fused_cpu(self, x) -> bool:
        """Whether `branches_cpu` runs this input: fp32/fp64 on CPU with the scan backend resolving to cpu."""
        return x.dtype in (torch.float32, torch.float64) and resolve_backend(self.scan_backend, x.device) == "cpu"

    def branches_cpu(self, x, z, lengths, suffixes=("",), reverse=(False,), sum_directions=False,
                     conv_state=None, ssm_state=None):
        """Every direction's branch at once on CPU. x, z (B, L, 1 or G, d_inner), any strides (1: shared
        by the G = len(reverse) directions); direction g uses the parameters of suffixes[g], or all the
        one branch when a single suffix is given (DBM), and scans each sequence's valid positions
        (lengths (B,) or None) last to first where reverse[g]. conv_state (B, G, d_inner, d_conv - 1) and
        ssm_state (B, G, d_inner, N) continue a sequence (forward direction only).
        Returns y (B, L, 1 if sum_directions else G, d_inner), zero past each length, and the last ssm
        state (B, G, d_inner, N)."""
        from ..ops.conv_cpu import CausalConvSiLUCPU
        from ..ops.scan_cpu import SelectiveScanCPU
        groups = len(reverse)
        branches = [dict(conv=getattr(self, "conv1d" + s), x_proj=getattr(self, "x_proj" + s),
                         dt_proj=getattr(self, "dt_proj" + s), A_log=getattr(self, f"A{s}_log"),
                         D=getattr(self, "D" + s)) for s in suffixes]

        def per_group(get):
            """(G, ...) of a parameter: stacked per direction, or the shared one broadcast."""
            params = [get(branch) for branch in branches]
            stacked = params[0].unsqueeze(0) if len(params) == 1 else torch.stack(params)
            return stacked.expand(groups, *stacked.shape[1:])

        def project(inputs, weight_of):
            """(G, B, L, k) @ each direction's weight^T: one matmul (shared) or one batched matmul."""
            if len(branches) == 1:
                return F.linear(inputs, weight_of(branches[0]))
            weights = torch.stack([weight_of(branch) for branch in branches]).transpose(1, 2)
            return torch.matmul(inputs.flatten(1, 2), weights).view(*inputs.shape[:3], weights.shape[-1])

        conv_bias = per_group(lambda b: b["conv"].bias) if self._conv_bias else None
        reverse = torch.tensor(reverse)
        xc = CausalConvSiLUCPU.apply(x, per_group(lambda b: b["conv"].weight[:, 0]), conv_bias, conv_state,
                                     lengths, reverse)                               # (G, B, L, d_inner)
        dt, B, C = project(xc, lambda b: b["x_proj"].weight).split([self.dt_rank, self.d_state, self.d_state],
                                                                     dim=-1)
        delta = project(dt, lambda b: b["dt_proj"].weight)
        dtype = xc.dtype

        def channels_last(t):  # (G, B, L, k) -> (B, L, G, k), a view
            return t.permute(1, 2, 0, 3)

        A = -torch.exp(per_group(lambda b: b["A_log"]).float())  # fp32 as mamba_ssm has them, like `branch`
        return SelectiveScanCPU.apply(
            channels_last(xc), channels_last(delta), A.to(dtype), channels_last(B), channels_last(C),
            per_group(lambda b: b["D"]).float().to(dtype), z, per_group(lambda b: b["dt_proj"].bias).float().to(dtype),
            ssm_state, True, lengths, reverse, sum_directions)

    def masked_input(self, x, mask):
        """Validates the mask, zeroes padded inputs whatever they hold (NaN included); returns
        (x, lengths, mask as (B, L, 1) bool or None)."""
        lengths = valid_lengths(mask, x)
        if lengths is None:
            return x, None, None
        keep = mask.bool().unsqueeze(-1)
        return x.masked_fill(~keep, 0.0), lengths, keep


def init_dt_proj(dt_proj, dt_rank, dt_min, dt_max, dt_init, dt_scale, dt_init_floor):
    """mamba_ssm's dt initialisation: weight uniform in +-dt_rank^-0.5 * dt_scale (or constant);
    bias = softplus^-1(dt), dt log-uniform in [dt_min, dt_max] and >= dt_init_floor."""
    std = dt_rank ** -0.5 * dt_scale
    with torch.no_grad():
        if dt_init == "constant":
            dt_proj.weight.fill_(std)
        else:
            dt_proj.weight.uniform_(-std, std)
        dt = torch.exp(torch.rand(dt_proj.out_features, device=dt_proj.bias.device)
                       * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)).clamp(min=dt_init_floor)
        dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
    dt_proj.bias._no_reinit = True
