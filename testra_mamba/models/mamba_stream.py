"""Beyond the suite: one causal Mamba stream over the whole history, long and short memory in one scan.

Every 4 fps tick is one token (the concatenated streams -> Linear + ReLU -> dropout); a stack of mamba_ssm
Blocks (RMSNorm, fp32 residual carried from block to block as mamba_ssm's MixerModel does, final RMSNorm)
scans them causally, so the state after tick t (per layer: the conv's last d_conv - 1 inputs and the
(d_inner, d_state) SSM state) summarises the whole video so far in constant size. To anticipate, the Q
learned anticipation queries continue the scan from that state without changing it; the heads read their
outputs. Work rows (training only) read the outputs at the work-memory ticks, as TeSTra's rows.

Training scans the same history as TeSTra ([e - H, e), H = history_ticks, default long + work span) then the
queries; evaluation streams each video from its first tick (`Mamba.stream`, chunks of any size give the
one-pass result) and reads out at every window end.
"""
from dataclasses import dataclass

import torch
from torch import nn

from common.blocks import AddNormBlock, RMSNorm
from common.mixers import MambaState
from common.engine import MODELS
from .base import AnticipationModel, FeatureHead


@dataclass
class MambaStreamState:
    """seen: ticks consumed; layers: each layer's MambaState (conv inputs and SSM state), None before tick 0."""
    seen: int
    layers: list | None = None

    def nbytes(self):
        return sum(t.numel() * t.element_size() for s in self.layers or () for t in (s.conv, s.ssm))


@MODELS.register_module()
class MambaStreamAnticipator(AnticipationModel):
    """history_ticks: the training window (evaluation reads whole videos). mixer_cfg: Mamba's arguments.
    Other arguments: see AnticipationModel."""

    def __init__(self, annotations, history_ticks, input_dims=(1024, 1024), d_model=1024, num_layers=2,
                 mixer_cfg=dict(d_state=16, d_conv=4, expand=2), norm_eps=1e-5, dropout=0.1, cls_dropout=0.8,
                 work_memory=dict(ticks=20, stride=2), anticipation=dict(ticks=8, stride=4), anticipation_gap_ticks=4,
                 eql=dict(gamma=0.95, lambda_=3e-3), data_preprocessor=None):
        super().__init__(annotations, d_model, cls_dropout, work_memory, anticipation, anticipation_gap_ticks, eql,
                         data_preprocessor)
        if history_ticks < self.work_ticks:
            raise ValueError(f"history_ticks={history_ticks} is shorter than the work memory ({self.work_ticks})")
        self.history_ticks = history_ticks
        self.feature_head = FeatureHead(sum(input_dims), d_model)
        self.dropout = nn.Dropout(dropout)
        self.dec_query = nn.Embedding(self.num_queries, d_model)
        self.layers = nn.ModuleList(AddNormBlock(d_model, "mamba", mixer_cfg, "rms", norm_eps)
                                    for _ in range(num_layers))
        self.norm_f = RMSNorm(d_model, norm_eps)

    def tokens(self, features):
        return self.dropout(self.feature_head(features))

    def queries(self, batch):
        return self.dropout(self.dec_query.weight.expand(batch, -1, -1))

    def scan(self, x, states=None):
        """x (B, L, D) continuing from per-layer states (None: the sequence starts here) -> (outputs, states)."""
        states = states or [None] * len(self.layers)
        residual, new_states = None, []
        for layer, state in zip(self.layers, states):
            x, residual, state = layer.stream(x, state, residual)
            new_states.append(state)
        return self.norm_f(x + residual), new_states

    def forward_window(self, history, start):
        if history.shape[1] != self.history_ticks:
            raise ValueError(f"history of {history.shape[1]} ticks; this model reads {self.history_ticks}")
        x = torch.cat([self.tokens(history), self.queries(len(history))], dim=1)
        residual = None
        for layer in self.layers:
            x, residual = layer(x, residual)
        out = self.norm_f(x + residual)
        rows = torch.cat([torch.arange(self.history_ticks - self.work_ticks, self.history_ticks, self.work_stride),
                          torch.arange(self.history_ticks, self.history_ticks + self.num_queries)])
        return out[:, rows.to(out.device)]

    def anticipate(self, features, ends, group=256):
        """One scan over the video, keeping the state at each window end (P,); the queries then continue
        from those states, `group` of them batched at a time -> hidden of the evaluated query (P, D)."""
        tokens = self.tokens(features)[None]
        hidden = torch.empty(len(ends), self.d_model, device=features.device)
        states, done, pending = None, 0, []
        for i in torch.argsort(ends).tolist():
            end = int(ends[i])
            if end > done:
                _, states = self.scan(tokens[:, done:end], states)
                done = end
            pending.append((i, states))
            if len(pending) == group:
                self._read_queries(pending, hidden)
                pending = []
        if pending:
            self._read_queries(pending, hidden)
        return hidden

    def _read_queries(self, pending, hidden):
        """Runs the queries from the states of `pending` [(row, per-layer states)] as one batch."""
        layers = [MambaState(conv=torch.cat([states[j].conv for _, states in pending]),
                             ssm=torch.cat([states[j].ssm for _, states in pending])) for j in range(len(self.layers))]
        out = self.scan(self.queries(len(pending)), layers)[0]
        hidden[[i for i, _ in pending]] = out[:, self.eval_row - self.num_work_rows]

    # -- streaming -----------------------------------------------------------------------------------------
    def stream_init(self, batch, device=None):
        return MambaStreamState(seen=0)

    @torch.no_grad()
    def stream_step(self, x, state):
        """Consumes the next tick's features x (B, C)."""
        _, layers = self.scan(self.tokens(x[:, None]), state.layers)
        return MambaStreamState(seen=state.seen + 1, layers=layers)

    @torch.no_grad()
    def stream_readout(self, state):
        """Logits of the anticipation rows of the window ending at the last tick consumed (B, Q, classes + 1)."""
        return self.heads(self.scan(self.queries(len(state.layers[0].ssm)), state.layers)[0])
