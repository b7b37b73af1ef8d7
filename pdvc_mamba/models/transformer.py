"""PDVC's feature pyramid, deformable Transformer encoder / decoder, and the suite's Mamba encoder layer.

Shapes: N videos, L frames, S = sum of the pyramid's level lengths, Q event queries, d = d_model.
Masks follow PDVC inside the model: `padding_mask` is True at padded positions.
"""
import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from common import build_mixer
from .deformable import MSDeformAttn


def inverse_sigmoid(x, eps=1e-5):
    x = x.clamp(min=0, max=1)
    return torch.log(x.clamp(min=eps) / (1 - x).clamp(min=eps))


def proposal_pos_embed(logits, num_pos_feats, temperature=10000):
    """Deformable DETR's two-stage proposal embedding, as PDVC's get_proposal_pos_embed: boxes given as
    logits (N, Q, 2) (inverse_sigmoid of (centre, length)) -> (N, Q, 2 * num_pos_feats). Each coordinate
    x = sigmoid(logit) * 2 pi gets num_pos_feats features: sin(x / t_0), cos(x / t_1), sin(x / t_2), ...
    with t_k = temperature ** (2 (k // 2) / num_pos_feats); centre's features first, then length's.
    Upstream hard-codes num_pos_feats 256 for d_model 512; here it is d_model // 2."""
    dim_t = torch.arange(num_pos_feats, dtype=torch.float32, device=logits.device)
    dim_t = temperature ** (2 * (dim_t // 2) / num_pos_feats)
    pos = (logits.sigmoid() * (2 * math.pi))[..., None] / dim_t  # (N, Q, 2, F)
    return torch.stack((pos[..., 0::2].sin(), pos[..., 1::2].cos()), dim=-1).flatten(2)


def clones(module, n):
    return nn.ModuleList([copy.deepcopy(module) for _ in range(n)])


class PositionEmbeddingSine(nn.Module):
    """PDVC's position embedding, (N, d, T): d // 2 channels of normalised sine / cosine over the valid
    frames, then a Linear on a thermometer code of the video's duration in whole seconds (capped at
    `max_duration`) for the other channels. Upstream hard-codes 256 + 256 for d = 512; same here."""

    def __init__(self, d_model, max_duration=256, temperature=10000):
        super().__init__()
        self.num_pos_feats, self.temperature, self.max_duration = d_model // 2, temperature, max_duration
        self.duration_embed_layer = nn.Linear(max_duration, d_model - d_model // 2)

    def forward(self, padding_mask, duration):
        """padding_mask (N, T) bool, duration (N,) seconds."""
        x = (~padding_mask).cumsum(1, dtype=torch.float32)
        x = (x - 0.5) / (x[:, -1:] + 1e-6) * (2 * math.pi)
        dim_t = torch.arange(self.num_pos_feats, dtype=torch.float32, device=x.device)
        dim_t = self.temperature ** (2 * (dim_t // 2) / self.num_pos_feats)
        pos = x[:, :, None] / dim_t
        pos = torch.stack((pos[:, :, 0::2].sin(), pos[:, :, 1::2].cos()), dim=3).flatten(2)
        steps = torch.arange(self.max_duration, device=x.device)
        thermometer = (steps < duration.int()[:, None]).float()
        dur = self.duration_embed_layer(thermometer)[:, None].expand(-1, pos.shape[1], -1)
        return torch.cat((pos, dur), dim=2).permute(0, 2, 1)


class BaseEncoder(nn.Module):
    """PDVC's pyramid: level 0 a 1x1 conv of the features, level 1 a stride-2 conv of the features, each
    further level a stride-2 conv of the previous one; GroupNorm(32) after each conv (its statistics
    include padded frames, as upstream). Level masks are nearest-resized from the frame mask."""

    def __init__(self, num_feature_levels, feature_dim, hidden_dim):
        super().__init__()
        self.pos_embed = PositionEmbeddingSine(hidden_dim)
        convs = [nn.Conv1d(feature_dim, hidden_dim, kernel_size=1)]
        for level in range(1, num_feature_levels):
            convs.append(nn.Conv1d(feature_dim if level == 1 else hidden_dim, hidden_dim, 3, stride=2, padding=1))
        self.input_proj = nn.ModuleList([nn.Sequential(conv, nn.GroupNorm(32, hidden_dim)) for conv in convs])
        for proj in self.input_proj:
            nn.init.xavier_uniform_(proj[0].weight, gain=1)
            nn.init.zeros_(proj[0].bias)

    def forward(self, feats, padding_mask, duration):
        """feats (N, L, C), padding_mask (N, L), duration (N,) -> per level (N, d, T_l), (N, T_l), (N, d, T_l)."""
        feats = feats.transpose(1, 2)
        srcs, masks, pos = [], [], []
        for level, proj in enumerate(self.input_proj):
            src = proj(feats if level <= 1 else srcs[-1])
            mask = padding_mask if level == 0 else \
                F.interpolate(padding_mask[None].float(), size=src.shape[-1])[0].bool()
            srcs.append(src)
            masks.append(mask)
            pos.append(self.pos_embed(mask, duration).to(src.dtype))
        return srcs, masks, pos


class PostNormLayer(nn.Module):
    """A layer ending in PDVC's post-norm FFN, its parameters under upstream's names (linear1, linear2 and
    norm2 / norm3): norm(x + dropout(linear2(dropout(relu(linear1(x))))))."""

    def add_ffn(self, d_model, d_ffn, dropout, norm):
        self.linear1, self.linear2 = nn.Linear(d_model, d_ffn), nn.Linear(d_ffn, d_model)
        self.ffn_dropout = nn.ModuleList([nn.Dropout(dropout), nn.Dropout(dropout)])
        self.ffn_norm = norm
        setattr(self, norm, nn.LayerNorm(d_model))

    def ffn(self, x):
        inner, out = self.ffn_dropout
        x = x + out(self.linear2(inner(F.relu(self.linear1(x)))))
        return getattr(self, self.ffn_norm)(x)


class DeformableEncoderLayer(PostNormLayer):
    """Post-norm: norm1(src + dropout(MSDeformAttn(src + pos, references, src))), then the FFN."""

    def __init__(self, d_model, d_ffn, dropout, n_levels, n_heads, n_points):
        super().__init__()
        self.self_attn = MSDeformAttn(d_model, n_levels, n_heads, n_points)
        self.dropout1, self.norm1 = nn.Dropout(dropout), nn.LayerNorm(d_model)
        self.add_ffn(d_model, d_ffn, dropout, "norm2")

    def forward(self, src, pos, reference_points, shapes, padding_mask):
        src = self.norm1(src + self.dropout1(self.self_attn(src + pos, reference_points, src, shapes, padding_mask)))
        return self.ffn(src)


class MambaEncoderLayer(PostNormLayer):
    """The suite's MambaEncoderLayer: the deformable self-attention replaced by a sequence mixer over the
    flattened pyramid (all levels, finest first); pos enters the mixer's input only:
    norm1(src + dropout(mixer(src + pos))), then PDVC's FFN. Reference points are not used.

    Padding (never present when every video is resized to one length, as PDVC does): the suite scans
    padded tokens too; here each video's valid tokens are packed to the front, scanned with the mixer's
    prefix mask and put back, so padding never enters a valid token's scan."""

    def __init__(self, d_model, d_ffn, dropout, mixer):
        super().__init__()
        mixer = dict(mixer)
        self.self_attn = build_mixer(mixer.pop("kind"), d_model, **mixer)
        self.dropout1, self.norm1 = nn.Dropout(dropout), nn.LayerNorm(d_model)
        self.add_ffn(d_model, d_ffn, dropout, "norm2")

    def mix(self, x, padding_mask):
        if padding_mask is None or not padding_mask.any():
            return self.self_attn(x)
        order = padding_mask.int().argsort(dim=1, stable=True)  # valid tokens first, in order
        index = order[..., None].expand_as(x)
        packed = self.self_attn(x.gather(1, index), ~padding_mask.gather(1, order))
        return torch.zeros_like(x).scatter(1, index, packed)

    def forward(self, src, pos, reference_points, shapes, padding_mask):
        src = self.norm1(src + self.dropout1(self.mix(src + pos, padding_mask)))
        return self.ffn(src)


class DeformableDecoderLayer(PostNormLayer):
    """Post-norm: query self-attention (norm2), deformable cross-attention into the memory (norm1), FFN (norm3)."""

    def __init__(self, d_model, d_ffn, dropout, n_levels, n_heads, n_points):
        super().__init__()
        self.cross_attn = MSDeformAttn(d_model, n_levels, n_heads, n_points)
        self.dropout1, self.norm1 = nn.Dropout(dropout), nn.LayerNorm(d_model)
        self.self_attn = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.dropout2, self.norm2 = nn.Dropout(dropout), nn.LayerNorm(d_model)
        self.add_ffn(d_model, d_ffn, dropout, "norm3")

    def forward(self, tgt, query_pos, reference_points, memory, shapes, padding_mask, query_mask=None):
        """query_mask (N, Q) True at real queries (ground-truth proposals padded to the batch's most), or None."""
        q = tgt + query_pos
        keys_ignored = None if query_mask is None else ~query_mask
        tgt = self.norm2(tgt + self.dropout2(
            self.self_attn(q, q, tgt, key_padding_mask=keys_ignored, need_weights=False)[0]))
        tgt = self.norm1(tgt + self.dropout1(
            self.cross_attn(tgt + query_pos, reference_points, memory, shapes, padding_mask)))
        return self.ffn(tgt)


class DeformableTransformer(nn.Module):
    """PDVC's DeformableTransformer: level embeddings, the encoder over the flattened pyramid, the decoder
    with iterative (centre, length) refinement. `encoder_mixer` (a common mixer config, e.g.
    dict(kind="dbm", expand=1, d_conv=4)) swaps every encoder layer for the suite's Mamba layer.
    `proposal_queries` builds pos_trans / pos_trans_norm, which turn boxes into decoder queries
    (`proposal_queries()`, PDVC's transformer_input_type gt_proposals); upstream builds them in every
    configuration, here only where they are used, so the learnt-query layout holds nothing unused."""

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=512,
                 dropout=0.1, num_feature_levels=4, dec_n_points=4, enc_n_points=4, encoder_mixer=None,
                 proposal_queries=False):
        super().__init__()
        self.d_model = d_model
        if encoder_mixer is None:
            layer = DeformableEncoderLayer(d_model, dim_feedforward, dropout, num_feature_levels, nhead, enc_n_points)
        else:
            layer = MambaEncoderLayer(d_model, dim_feedforward, dropout, encoder_mixer)
        self.encoder = nn.Module()
        self.encoder.layers = clones(layer, num_encoder_layers)
        self.decoder = nn.Module()
        self.decoder.layers = clones(
            DeformableDecoderLayer(d_model, dim_feedforward, dropout, num_feature_levels, nhead, dec_n_points),
            num_decoder_layers)
        self.level_embed = nn.Parameter(torch.empty(num_feature_levels, d_model))
        if proposal_queries:
            self.pos_trans, self.pos_trans_norm = nn.Linear(d_model, 2 * d_model), nn.LayerNorm(2 * d_model)
        self.reference_points = nn.Linear(d_model, 1)
        # Upstream's init: xavier on every matrix, then the deformable attentions' own. In the suite the loop
        # also reaches the Mamba mixers' matrices, A_log included (A ~ -1 for every state, not -(1..N)).
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        for m in self.modules():
            if isinstance(m, MSDeformAttn):
                m.reset_parameters()
        nn.init.xavier_uniform_(self.reference_points.weight, gain=1.0)
        nn.init.zeros_(self.reference_points.bias)
        nn.init.normal_(self.level_embed)

    def flatten(self, srcs, masks, pos):
        """Levels -> (N, S, d) memory input, (N, S) padding mask, (N, S, d) pos + level embedding,
        the level lengths, and the (N, L) valid ratios."""
        shapes = [src.shape[-1] for src in srcs]
        src = torch.cat([s.transpose(1, 2) for s in srcs], 1)
        mask = torch.cat(masks, 1)
        pos = torch.cat([p.transpose(1, 2) + self.level_embed[lvl].view(1, 1, -1) for lvl, p in enumerate(pos)], 1)
        valid_ratios = torch.stack([(~m).sum(1).float() / m.shape[1] for m in masks], 1)
        return src, mask, pos, shapes, valid_ratios

    @staticmethod
    def encoder_reference_points(shapes, valid_ratios):
        """Each token's centre, in each level's valid-ratio-scaled coordinates: (N, S, L, 1)."""
        refs = []
        for lvl, length in enumerate(shapes):
            ref = torch.linspace(0.5, length - 0.5, length, dtype=torch.float32, device=valid_ratios.device)
            refs.append(ref[None] / (valid_ratios[:, None, lvl] * length))
        return (torch.cat(refs, 1)[:, :, None] * valid_ratios[:, None])[..., None]

    def encode(self, src, pos, shapes, valid_ratios, padding_mask):
        reference_points = self.encoder_reference_points(shapes, valid_ratios)
        for layer in self.encoder.layers:
            src = layer(src, pos, reference_points, shapes, padding_mask)
        return src

    def learnt_queries(self, query_embed, n):
        """The learnt queries (Q, 2d) -> position embedding and target (N, Q, d), and the initial reference,
        a point (N, Q, 1) predicted from the position embedding."""
        query_pos, tgt = query_embed.chunk(2, dim=1)
        query_pos, tgt = query_pos[None].expand(n, -1, -1), tgt[None].expand(n, -1, -1)
        return query_pos, tgt, self.reference_points(query_pos).sigmoid()

    def proposal_queries(self, boxes):
        """Boxes (N, Q, 2) as (centre, length) in [0, 1] -> position embedding and target (N, Q, d), the two
        halves of pos_trans_norm(pos_trans(proposal_pos_embed(inverse_sigmoid(boxes)))), and the boxes
        themselves as the reference."""
        embed = self.pos_trans_norm(self.pos_trans(proposal_pos_embed(inverse_sigmoid(boxes), self.d_model // 2)))
        query_pos, tgt = embed.chunk(2, dim=-1)
        return query_pos, tgt, boxes

    def decode(self, query_pos, tgt, reference, memory, shapes, valid_ratios, padding_mask, bbox_heads=None,
               query_mask=None):
        """With `bbox_heads`, iterative refinement: layer l's box = sigmoid(bbox_head[l](h_l) +
        inverse_sigmoid(reference_l)), where a 1-value reference (the learnt initial point) refines only the
        centre; the detached box is the next layer's reference. Without (ground-truth proposals), every
        layer reads the initial reference and its boxes are that reference. Returns per layer the hidden
        states (N, Q, d), the reference the layer read ((N, Q, 1) for a point, else (N, Q, 2)) and its boxes
        (N, Q, 2) as (centre, length)."""
        hidden, references, boxes = [], [], []
        for i, layer in enumerate(self.decoder.layers):
            if reference.shape[-1] == 2:
                ref_input = reference[:, :, None] * torch.stack([valid_ratios, valid_ratios], -1)[:, None]
            else:
                ref_input = reference[:, :, None] * valid_ratios[:, None, :, None]
            tgt = layer(tgt, query_pos, ref_input, memory, shapes, padding_mask, query_mask)
            hidden.append(tgt)
            references.append(reference)
            if bbox_heads is None:
                boxes.append(reference)
                continue
            delta = bbox_heads[i](tgt)
            if reference.shape[-1] == 1:
                box = torch.cat([delta[..., :1] + inverse_sigmoid(reference), delta[..., 1:]], -1).sigmoid()
            else:
                box = (delta + inverse_sigmoid(reference)).sigmoid()
            boxes.append(box)
            reference = box.detach()
        return hidden, references, boxes
