"""TeSTra (Zhao & Kraehenbuehl, ECCV 2022) for EK100 action anticipation, and the suite's Mamba variant.

The window ending at tick e reads the history [e - H, e), H = long span + work span W:
  long memory   N = long_ticks / stride tokens of the span before the work memory, no positional encoding.
                Training samples them at floor(j (long_ticks - 1) / (N - 1)) (upstream's linspace sampler),
                evaluation at the stride, ending `stride` ticks before the work memory. Ticks before 0 read
                tick 0 and are masked, except the last such position (upstream's key padding mask).
  compression   16 learned queries, one decoder layer whose cross-attention has the ESA kernel (decay 0.9;
                1.0 = the box kernel), then 16 more queries x 2 plain decoder layers over those 16 tokens.
  work memory   W / w_stride tokens (positions 0..9) and the anticipation queries (positions 10, 11).
  decoder       2 decoder layers, causal self-attention, cross-attention to [compressed ; work + queries]
                (causal on the latter). Without long memory (the suite's runs): a causal Transformer encoder
                (`decoder.type="transformer"`, the suite's "short attention" TeSTra) or Mamba blocks
                (`"mamba"`: the suite's variant, see MambaDecoder).
  heads         action / verb / noun linear layers, each behind its own dropout (0.8), background first.
Streaming (stream_step / stream_readout, eval mode) keeps one ESA window per phase of the long-memory stride
(the evaluation layout shifts by one tick per step, so each phase's window moves every `stride` ticks) and
updates it in O(1); everything after the first cross-attention works on 16 + 12 tokens and is recomputed.
"""
from dataclasses import dataclass, field

import torch
from torch import nn

from common.blocks import AddNormBlock, RMSNorm
from common.engine import MODELS
from .base import AnticipationModel, FeatureHead
from .esa import ESAWindow, log_decay
from .transformer import DecoderLayer, EncoderLayer, PositionalEncoding, TransformerStack, causal_bias


class MambaDecoder(nn.Module):
    """The suite's replacement of the work-memory Transformer: mamba_ssm Blocks (RMSNorm eps 1e-5, fp32
    residual, Mamba d_state 16 / d_conv 4 / expand 2) and a final RMSNorm: norm_f(h + residual).
    As upstream's loop, each block restarts the residual from its input (`layer(output)` without the
    previous residual): identical to mamba_ssm's stacking for the suite's one layer."""

    def __init__(self, d_model, num_layers=1, mixer_cfg=None, norm_eps=1e-5):
        super().__init__()
        self.mamba_modules = nn.ModuleList(AddNormBlock(d_model, "mamba", mixer_cfg, "rms", norm_eps)
                                           for _ in range(num_layers))
        self.norm_f = RMSNorm(d_model, norm_eps)

    def forward(self, x):
        for block in self.mamba_modules:
            x, residual = block(x)
        return self.norm_f(x + residual)


@dataclass
class TeSTraStreamState:
    """What TeSTra's stream keeps between ticks; its size does not grow with the video.

    seen: ticks consumed (the current window ends there). work: ring of the last W raw features.
    logits / values: ring of the last long + W + stride ticks' ESA logits (B, heads, Q) and values (B, heads,
    d_head). windows: one ESAWindow per stride phase (float64 sums). queries / compress_tgt: the first compression
    layer's projected queries and self-attention output, fixed in eval mode."""
    seen: int
    work: torch.Tensor
    logits: torch.Tensor | None = None
    values: torch.Tensor | None = None
    queries: torch.Tensor | None = None
    compress_tgt: torch.Tensor | None = None
    windows: list = field(default_factory=list)

    def nbytes(self):
        tensors = [t for t in (self.work, self.logits, self.values, self.queries, self.compress_tgt) if t is not None]
        return sum(t.numel() * t.element_size() for t in tensors) + sum(w.nbytes() for w in self.windows)


@MODELS.register_module()
class TeSTra(AnticipationModel):
    """long_memory: dict(ticks, stride, queries=(16, 16), layers=(1, 2), decay) or None (off).
    decoder: dict(type="transformer", num_layers) or dict(type="mamba", num_layers, mixer_cfg) (no long memory).
    Other arguments: see AnticipationModel. Parameter names are upstream's (LSTR) where it has the module."""

    def __init__(self, annotations, input_dims=(1024, 1024), d_model=2048, num_heads=8, dim_feedforward=2048,
                 dropout=0.1, cls_dropout=0.8, long_memory=None, work_memory=dict(ticks=20, stride=2),
                 anticipation=dict(ticks=8, stride=4), anticipation_gap_ticks=4,
                 decoder=dict(type="transformer", num_layers=2), eql=dict(gamma=0.95, lambda_=3e-3),
                 data_preprocessor=None):
        super().__init__(annotations, d_model, cls_dropout, work_memory, anticipation, anticipation_gap_ticks, eql,
                         data_preprocessor)
        in_dim = sum(input_dims)
        layer_args = (d_model, num_heads, dim_feedforward, dropout)
        self.long = dict(long_memory) if long_memory else None
        self.history_ticks = (self.long["ticks"] if self.long else 0) + self.work_ticks
        self.pos_encoding = PositionalEncoding(d_model, dropout)
        self.feature_head_work = FeatureHead(in_dim, d_model)
        self.dec_query = nn.Embedding(self.num_queries, d_model)
        decoder = dict(decoder)
        kind = decoder.pop("type")
        if self.long:
            if kind != "transformer":
                raise ValueError(f"decoder type {kind!r} needs long_memory=None (the suite runs Mamba without it)")
            if self.long["layers"][0] != 1:
                raise ValueError("the ESA compression stage has one layer (upstream streams only that case)")
            self.num_long = self.long["ticks"] // self.long["stride"]
            self.feature_head_long = FeatureHead(in_dim, d_model)
            self.enc_queries = nn.ModuleList(nn.Embedding(n, d_model) for n in self.long["queries"])
            self.enc_modules = nn.ModuleList(TransformerStack(DecoderLayer(*layer_args), n, d_model)
                                             for n in self.long["layers"])
            self.dec_modules = TransformerStack(DecoderLayer(*layer_args), decoder["num_layers"], d_model)
        elif kind == "transformer":
            self.dec_modules = TransformerStack(EncoderLayer(*layer_args), decoder["num_layers"], d_model)
        elif kind == "mamba":
            self.mamba_decoder = MambaDecoder(d_model, **decoder)
            for module in self.mamba_decoder.modules():  # upstream's weights_init: Conv1d weight and bias ~ N(0, 1)
                if isinstance(module, nn.Conv1d):
                    nn.init.normal_(module.weight)
                    nn.init.normal_(module.bias)
        else:
            raise ValueError(f"decoder type must be 'transformer' or 'mamba', got {kind!r}")

    # -- the window computation --------------------------------------------------------------------------
    def targets(self, work):
        """Raw work-memory features (B, W / w_stride, C) -> [work tokens ; anticipation queries] (B, R, D)."""
        work = self.pos_encoding(self.feature_head_work(work))
        queries = self.pos_encoding(self.dec_query.weight.expand(len(work), -1, -1), offset=self.num_work_rows)
        return torch.cat([work, queries], dim=1)

    def long_offsets(self, device):
        """Positions of the long-memory tokens in the history (see the module docstring)."""
        ticks, n = self.long["ticks"], self.num_long
        if self.training:
            return torch.arange(n, device=device) * (ticks - 1) // (n - 1)
        return torch.arange(0, ticks, self.long["stride"], device=device)

    def long_bias(self, start, offsets):
        """(B, 1, 1, N): -inf where upstream's key padding mask masks, plus the ESA log-decay."""
        at_zero = (start[:, None] + offsets) <= 0
        masked = torch.arange(len(offsets), device=offsets.device) < at_zero.sum(1, keepdim=True) - 1
        bias = torch.zeros(masked.shape, device=offsets.device).masked_fill(masked, float("-inf"))
        return (bias + log_decay(len(offsets), self.long["decay"], offsets.device))[:, None, None, :]

    def second_stage(self, first):
        """The compression after its first layer: the first stage's final norm, then the later stages."""
        x = self.enc_modules[0].norm(first)
        for queries, stage in zip(self.enc_queries[1:], self.enc_modules[1:]):
            x = stage(queries.weight.expand(len(x), -1, -1), x)
        return x

    def decode(self, tgt, compressed):
        causal = causal_bias(tgt.shape[1], tgt.device)
        if self.long:
            memory = torch.cat([compressed, tgt], dim=1)
            memory_bias = torch.cat([causal.new_zeros(len(causal), compressed.shape[1]), causal], dim=1)
            return self.dec_modules(tgt, memory, tgt_bias=causal, memory_bias=memory_bias)
        if hasattr(self, "dec_modules"):
            return self.dec_modules(tgt, causal)
        return self.mamba_decoder(tgt)

    def forward_window(self, history, start):
        if history.shape[1] != self.history_ticks:
            raise ValueError(f"history of {history.shape[1]} ticks; this model reads {self.history_ticks} "
                             "(long + work memory): set the data set's history_ticks to match")
        tgt = self.targets(history[:, history.shape[1] - self.work_ticks::self.work_stride])
        compressed = None
        if self.long:
            offsets = self.long_offsets(history.device)
            long = self.feature_head_long(history[:, offsets])
            queries = self.enc_queries[0].weight.expand(len(long), -1, -1)
            first = self.enc_modules[0].layers[0](queries, long, memory_bias=self.long_bias(start.to(offsets), offsets))
            compressed = self.second_stage(first)
        return self.decode(tgt, compressed)

    def anticipate(self, features, ends, chunk=64):
        """Windows at every end, in chunks: (P,) -> hidden of the evaluated row (P, D)."""
        hidden = []
        for part in ends.split(chunk):
            ticks = (part[:, None] - self.history_ticks + torch.arange(self.history_ticks, device=part.device))
            rows = self.forward_window(features[ticks.clamp(min=0)], part - self.history_ticks)
            hidden.append(rows[:, self.eval_row])
        return torch.cat(hidden)

    # -- streaming -----------------------------------------------------------------------------------------
    @torch.no_grad()
    def stream_init(self, batch, device=None):
        device = device or self.dec_query.weight.device
        in_dim = self.feature_head_work.input_linear[0].in_features
        state = TeSTraStreamState(seen=0, work=torch.zeros(batch, self.work_ticks, in_dim, device=device))
        if self.long:
            layer = self.enc_modules[0].layers[0]
            queries = self.enc_queries[0].weight.expand(batch, -1, -1)
            state.compress_tgt = layer.self_block(queries)
            attn = layer.multihead_attn
            state.queries = attn.project(state.compress_tgt, 0) * (attn.d_model // attn.num_heads) ** -0.5
            ring = self.long["ticks"] + self.work_ticks + self.long["stride"]
            heads, n_queries = state.queries.shape[1:3]
            state.logits = torch.zeros(batch, ring, heads, n_queries, device=device)
            state.values = torch.zeros(batch, ring, heads, attn.d_model // heads, device=device)
        return state

    @torch.no_grad()
    def stream_step(self, x, state):
        """Consumes the next tick's features x (B, C); O(1) in the video's length."""
        tick = state.seen
        state.work[:, tick % self.work_ticks] = x
        state.seen = tick + 1
        if not self.long:
            return state
        attn = self.enc_modules[0].layers[0].multihead_attn
        h = self.feature_head_long(x)[:, None]
        key, value = attn.project(h, 1)[:, :, 0], attn.project(h, 2)[:, :, 0]
        ring, stride = state.logits.shape[1], self.long["stride"]
        state.logits[:, tick % ring] = torch.einsum("bhqd,bhd->bhq", state.queries, key)
        state.values[:, tick % ring] = value
        if tick == 0:  # every phase's window starts as tick 0 alone (upstream's padding of the first windows)
            state.windows = [ESAWindow(state.logits[:, 0], state.values[:, 0], self.long["decay"], self.num_long)
                             for _ in range(stride)]
            return state
        newest = state.seen - self.work_ticks - stride  # the newest long-memory tick of the current window
        if newest >= 1:
            window = state.windows[newest % stride]
            window.push(state.logits[:, newest % ring], state.values[:, newest % ring])
            if window.count > self.num_long:
                oldest = max(newest - self.num_long * stride, 0)
                window.pop(state.logits[:, oldest % ring], state.values[:, oldest % ring])
        return state

    @torch.no_grad()
    def stream_readout(self, state):
        """Logits of the anticipation rows of the window ending at the last tick consumed (B, Q, classes + 1)."""
        ticks = torch.arange(state.seen - self.work_ticks, state.seen, self.work_stride).clamp(min=0)
        tgt = self.targets(state.work[:, ticks % self.work_ticks])
        compressed = None
        if self.long:
            layer = self.enc_modules[0].layers[0]
            newest = state.seen - self.work_ticks - self.long["stride"]
            attended = layer.multihead_attn.merge(state.windows[newest % self.long["stride"]].read())
            compressed = self.second_stage(layer.output_block(state.compress_tgt, attended))
        return self.heads(self.decode(tgt, compressed)[:, self.num_work_rows:])
