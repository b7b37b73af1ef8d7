"""UniVTG (Lin et al., ICCV 2023) as an mmengine model, with a pluggable interaction encoder.

Text tokens and video clips are projected (LayerNorm -> Dropout -> Linear [-> ReLU] layers) and tagged with a
token-type embedding; the video gets a normalised sine position code. The interaction encoder (the UniVTG
Transformer, or the suite's ViM / DBM stack) turns them into a video memory, from which two 3-layer conv
heads predict per clip the foreground probability and the distances to the moment's start and end. The
saliency score of a clip is the cosine between its projected token (before the encoder) and the
attention-pooled query, as upstream.

Padding: the video memory is zeroed at padded clips and after every head conv layer, so a padded query's
outputs equal its outputs alone (upstream's heads read the encoder's outputs at padded clips); the two are
identical without padding.
"""
import math

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import nn

from common.engine import MODELS
from common.segments import segment_iou
from ..datasets import pad_stack
from .losses import boundary_losses, foreground_loss, saliency_losses

DEFAULT_TEST_CFG = dict(nms_thd=0.7, max_before_nms=1000, max_after_nms=10, eval_mode="add")
DEFAULT_LOSS_WEIGHTS = dict(loss_b=10.0, loss_g=1.0, loss_f=10.0, loss_s_inter=0.01, loss_s_intra=0.05)


class ProjectionLayer(nn.Module):
    """UniVTG's LinearLayer: LayerNorm -> Dropout -> Linear, then ReLU unless it is the last layer."""

    def __init__(self, in_dim, out_dim, dropout, relu):
        super().__init__()
        self.norm = nn.LayerNorm(in_dim)
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(in_dim, out_dim)
        self.relu = relu

    def forward(self, x):
        x = self.linear(self.dropout(self.norm(x)))
        return F.relu(x) if self.relu else x


def projection(in_dim, hidden_dim, num_layers, dropout):
    return nn.Sequential(*[ProjectionLayer(in_dim if i == 0 else hidden_dim, hidden_dim, dropout, i < num_layers - 1)
                           for i in range(num_layers)])


class ConvHead(nn.Module):
    """UniVTG's Conv: num_layers Conv1d (kernel k, same padding), ReLU between; masked after every layer."""

    def __init__(self, in_dim, hidden_dim, out_dim, num_layers=3, kernel_size=3):
        super().__init__()
        dims = [in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
        self.layers = nn.ModuleList(nn.Conv1d(a, b, kernel_size, padding=kernel_size // 2)
                                    for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, x, mask):
        """x (B, L, C), mask (B, L) -> (B, L, out_dim)."""
        x, keep = x.transpose(1, 2), mask[:, None].to(x.dtype)
        for i, layer in enumerate(self.layers):
            x = layer(x)
            x = (F.relu(x) if i < len(self.layers) - 1 else x) * keep
        return x.transpose(1, 2)


class WeightedPool(nn.Module):
    """Attention pooling of the text tokens with one learned scoring vector (padding masked out)."""

    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(nn.init.xavier_uniform_(torch.empty(dim, 1)))

    def forward(self, x, mask):
        logits = x @ self.weight + (1.0 - mask[..., None].float()) * -1e30
        return (x * torch.softmax(logits, dim=1)).sum(1)


def sine_position_embedding(mask, dim, temperature=10000.0):
    """DETR's 1-D sine code of the valid positions, normalised to [0, 2 pi]: (B, L) -> (B, L, dim)."""
    x = mask.cumsum(1, dtype=torch.float32)
    x = x / (x[:, -1:] + 1e-6) * 2 * math.pi
    freq = torch.arange(dim, dtype=torch.float32, device=mask.device)
    freq = temperature ** (2 * torch.div(freq, 2).int() / dim)
    angles = x[:, :, None] / freq
    return torch.stack((angles[:, :, 0::2].sin(), angles[:, :, 1::2].cos()), dim=3).flatten(2)


def temporal_nms(windows, nms_thd, max_after_nms):
    """UniVTG's temporal_nms on [start, end, score] rows: greedy by score, dropping windows whose overlap with
    a kept one exceeds nms_thd (upstream's overlap intersection / (max end - min start), 0 / 0 = 0: the tIoU of
    common.segments)."""
    if len(windows) == 1:
        return windows
    remaining, kept = sorted(windows, key=lambda w: w[2], reverse=True), []
    while len(remaining) > 1 and len(kept) < max_after_nms:
        top = remaining.pop(0)
        overlap = segment_iou(top[:2], [w[:2] for w in remaining])[0]
        remaining = [w for w, o in zip(remaining, overlap) if o <= nms_thd]
        kept.append(top)
    if len(kept) < max_after_nms and remaining:
        kept.append(remaining[0])
    return kept


@MODELS.register_module()
class UniVTG(BaseModel):
    """UniVTG with the interaction network `encoder` (a MODELS config; d_model is filled in).

    forward(inputs, data_samples, mode): inputs from `moment_collate` (text, text_mask, video, video_mask).
    mode "tensor": (foreground prob (B, L), span offsets (B, L, 2) as (-left, right), saliency (B, L));
    "loss": the weighted loss dict; "predict": one submission line per query (qid, query, vid, ranked
    pred_relevant_windows [st, ed, score] in seconds after NMS, pred_saliency_scores per clip, duration).
    query_blind: the reference model that never sees the query (every query becomes one all-zero token).
    """

    def __init__(self, video_dim, text_dim=512, hidden_dim=1024, encoder=None, n_input_proj=2, input_dropout=0.5,
                 head_layers=3, head_kernel_size=3, loss_weights=None, eos_coef=0.1, temperature=0.07,
                 query_blind=False, test_cfg=None, data_preprocessor=None):
        super().__init__(data_preprocessor=data_preprocessor)
        self.input_txt_proj = projection(text_dim, hidden_dim, n_input_proj, input_dropout)
        self.input_vid_proj = projection(video_dim, hidden_dim, n_input_proj, input_dropout)
        self.token_type_embeddings = nn.Embedding(2, hidden_dim)
        nn.init.normal_(self.token_type_embeddings.weight, std=0.02)
        self.encoder = MODELS.build(dict(encoder or dict(type="TransformerInteractionEncoder")),
                                    default_args=dict(d_model=hidden_dim))
        self.class_embed = ConvHead(hidden_dim, hidden_dim, 1, head_layers, head_kernel_size)
        self.span_embed = ConvHead(hidden_dim, hidden_dim, 2, head_layers, head_kernel_size)
        self.weightedpool = WeightedPool(hidden_dim)
        self.hidden_dim, self.eos_coef, self.temperature = hidden_dim, eos_coef, temperature
        self.loss_weights = dict(DEFAULT_LOSS_WEIGHTS, **(loss_weights or {}))
        self.query_blind = query_blind
        self.test_cfg = dict(DEFAULT_TEST_CFG, **(test_cfg or {}))

    def forward_heads(self, text, text_mask, video, video_mask):
        if self.query_blind:
            text, text_mask = text.new_zeros(len(text), 1, text.shape[-1]), text_mask.new_ones(len(text), 1)
        text_mask, video_mask = text_mask.bool(), video_mask.bool()
        src_vid = self.input_vid_proj(video) + self.token_type_embeddings.weight[1]
        src_txt = self.input_txt_proj(text) + self.token_type_embeddings.weight[0]
        pos_vid = sine_position_embedding(video_mask, self.hidden_dim)
        memory = self.encoder(src_vid, video_mask, pos_vid, src_txt, text_mask, torch.zeros_like(src_txt))
        memory = memory * video_mask[..., None]
        prob = self.class_embed(memory, video_mask).sigmoid()[..., 0]
        offsets = self.span_embed(memory, video_mask).sigmoid() * prob.new_tensor([-1.0, 1.0])
        text_pooled = self.weightedpool(src_txt, text_mask)
        saliency = F.cosine_similarity(src_vid, text_pooled[:, None], dim=-1) + (video_mask + 1e-45).log()
        return prob, offsets, saliency, src_vid, text_pooled

    def forward(self, inputs, data_samples=None, mode="tensor"):
        prob, offsets, saliency, src_vid, text_pooled = self.forward_heads(
            inputs["text"], inputs["text_mask"], inputs["video"], inputs["video_mask"])
        if mode == "tensor":
            return prob, offsets, saliency
        mask = inputs["video_mask"].bool()
        if mode == "loss":
            return self.loss(prob, offsets, src_vid, text_pooled, mask, data_samples)
        if mode == "predict":
            return self.predict(prob, offsets, saliency, mask, data_samples)
        raise ValueError(f"unknown mode {mode!r} (expected 'tensor', 'loss' or 'predict')")

    def loss(self, prob, offsets, src_vid, text_pooled, mask, data_samples):
        def stacked(key):
            return pad_stack([s[key] for s in data_samples])[0].to(prob.device)

        timestamp, window, saliency = stacked("timestamp"), stacked("timestamp_window"), stacked("saliency_scores")
        loss_b, loss_g = boundary_losses(timestamp[..., None] + offsets, stacked("span_labels_nn"), window)
        losses = dict(loss_b=loss_b, loss_g=loss_g, loss_f=foreground_loss(prob, window, mask, self.eos_coef))
        if saliency.sum() == 0:  # upstream skips both saliency terms for such a batch
            losses.update(loss_s_inter=prob.new_zeros(()), loss_s_intra=prob.new_zeros(()))
        else:
            positive = torch.tensor([s["saliency_pos"] for s in data_samples], device=prob.device)
            losses["loss_s_inter"], losses["loss_s_intra"] = saliency_losses(
                src_vid, text_pooled, saliency, positive, mask, self.temperature)
        return {k: self.loss_weights[k] * v for k, v in losses.items()}

    @torch.no_grad()
    def predict(self, prob, offsets, saliency, mask, data_samples):
        cfg = self.test_cfg
        scores = prob.masked_fill(~mask, 0)
        clip_saliency = saliency.half().float() + (scores if cfg["eval_mode"] == "add" else 0)
        results = []
        for b, sample in enumerate(data_samples):
            n_clips, duration = int(mask[b].sum()), sample["duration"]
            timestamp = (torch.arange(n_clips, device=prob.device) + sample["clip_len"] / 2) / n_clips
            spans = ((timestamp[:, None] + offsets[b, :n_clips]) * duration).clamp(0, duration)
            ranked = sorted(torch.cat([spans, scores[b, :n_clips, None]], dim=1).tolist(),
                            key=lambda w: w[2], reverse=True)
            ranked = [[float(f"{v:.4f}") for v in w] for w in ranked]
            if cfg["nms_thd"] > 0:
                ranked = temporal_nms(ranked[:cfg["max_before_nms"]], cfg["nms_thd"], cfg["max_after_nms"])
            results.append(dict(qid=sample["qid"], query=sample["query"], vid=sample["vid"], duration=duration,
                                pred_relevant_windows=ranked,
                                pred_saliency_scores=clip_saliency[b, :n_clips].tolist()))
        return results
