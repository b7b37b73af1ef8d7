"""PDVC (Wang et al., ICCV 2021) as an mmengine model: parallel event localisation and captioning.

Features -> pyramid (+ position, duration and level embeddings) -> encoder (deformable, or the suite's
Mamba layer) -> decoder with learnt event queries and iterative box refinement -> per decoder layer a
class head, a box head, an event counter and the shared caption head. Training matches queries to events
(Hungarian) per layer and sums every layer's losses; inference takes the last layer.

With `transformer_input_type="gt_proposals"` (the suite's paragraph-captioning set-up) the decoder's
queries are the video's ground-truth boxes instead, in training and in evaluation alike, without
refinement: the boxes are the predictions, and only the caption loss trains.
"""
import math

import torch
import torch.nn.functional as F
from mmengine.dist import all_reduce, get_world_size
from mmengine.model import BaseModel
from torch import nn

from common.engine import MODELS
from .captioners import caption_nll
from .losses import box_losses, class_loss, counter_loss
from .matcher import HungarianMatcher, box_cl_to_xy
from .transformer import BaseEncoder, DeformableTransformer, clones

NO_CAPTION_SCORE = -1e5  # PDVC's sentence score when no query of a video emits a word


class MLP(nn.Module):
    """Linear layers with ReLU between them (PDVC's box head)."""

    def __init__(self, input_dim, hidden_dim, output_dim, num_layers):
        super().__init__()
        dims = [input_dim] + [hidden_dim] * (num_layers - 1)
        self.layers = nn.ModuleList(nn.Linear(i, o) for i, o in zip(dims, dims[1:] + [output_dim]))

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x) if i == len(self.layers) - 1 else F.relu(layer(x))
        return x


@MODELS.register_module()
class PDVC(BaseModel):
    """forward(inputs, data_samples, mode): inputs (N, L, C) features padded to the longest video;
    data_samples one dict per video from `pdvc_collate` (duration, num_frames; for training boxes,
    labels, captions, caption_lengths).

    mode "loss": the weighted losses of every decoder layer (last layer unsuffixed, layer l < last
    suffixed _l). "predict": one dict per video (queries sorted by score). "tensor": the last layer's
    class logits, boxes and counter logits, and the captions of every query decoded for all
    max_caption_len steps (what FLOP counts see; without data_samples, unpadded videos of 1 frame / s,
    and as ground-truth proposals num_queries boxes tiling the video).

    transformer_input_type: "queries" (PDVC: learnt queries, refined boxes) or "gt_proposals" (each
    video's ground-truth boxes, data_samples' `boxes`, are its queries; the matcher pairs each with its
    own event, and the class and box losses must weigh 0, as PDVC's decide_two_stage sets them; the
    suite's *_gt configs set the counter's to 0 too).
    """

    def __init__(self, feature_dim, vocab_size, captioner, num_queries=10, hidden_dim=512, num_feature_levels=4,
                 transformer=None, num_classes=1, max_eseq_length=10, matcher=None, loss_weights=None,
                 focal_alpha=0.25, focal_gamma=2.0, counter_gaussian_mask=True, counter_beta=1.0,
                 transformer_input_type="queries", data_preprocessor=None):
        super().__init__(data_preprocessor=data_preprocessor)
        if transformer_input_type not in ("queries", "gt_proposals"):
            raise ValueError(f"transformer_input_type must be 'queries' or 'gt_proposals', "
                             f"got {transformer_input_type!r}")
        self.gt_proposals = transformer_input_type == "gt_proposals"
        self.base_encoder = BaseEncoder(num_feature_levels, feature_dim, hidden_dim)
        self.transformer = DeformableTransformer(d_model=hidden_dim, num_feature_levels=num_feature_levels,
                                                 proposal_queries=self.gt_proposals, **(transformer or {}))
        self.caption_head = MODELS.build(captioner, default_args=dict(vocab_size=vocab_size, hidden_dim=hidden_dim))
        self.query_embed = nn.Embedding(num_queries, hidden_dim * 2)
        num_layers = len(self.transformer.decoder.layers)
        class_head = nn.Linear(hidden_dim, num_classes)
        nn.init.constant_(class_head.bias, -math.log((1 - 0.01) / 0.01))  # prior probability 0.01
        bbox_head = MLP(hidden_dim, hidden_dim, 2, 3)
        nn.init.zeros_(bbox_head.layers[-1].weight)
        nn.init.zeros_(bbox_head.layers[-1].bias)
        self.class_head = clones(class_head, num_layers)
        self.count_head = clones(nn.Linear(hidden_dim, max_eseq_length + 1), num_layers)
        self.bbox_head = clones(bbox_head, num_layers)
        nn.init.constant_(self.bbox_head[0].layers[-1].bias[1:], -2.0)  # first layer starts with short events

        self.matcher = HungarianMatcher(**(matcher or {}))
        self.loss_weights = dict(dict(ce=2.0, bbox=0.0, giou=4.0, counter=0.5, caption=2.0), **(loss_weights or {}))
        trained = [k for k in ("ce", "bbox", "giou") if self.loss_weights[k]]
        if self.gt_proposals and trained:
            raise ValueError(f"transformer_input_type 'gt_proposals': the boxes are the ground truth's, so "
                             f"loss_weights {trained} must be 0 (PDVC's decide_two_stage sets them to 0)")
        self.focal_alpha, self.focal_gamma = focal_alpha, focal_gamma
        self.counter_gaussian_mask, self.counter_beta = counter_gaussian_mask, counter_beta

    # ------------------------------------------------------------------------------------------------
    def run(self, feats, data_samples):
        """Encoder, decoder and heads. Returns per decoder layer: hidden states, input references, boxes,
        class logits, counter logits; and the captioner's context."""
        n, length, _ = feats.shape
        num_frames = torch.tensor([s.get("num_frames", length) for s in data_samples], device=feats.device)
        padding_mask = torch.arange(length, device=feats.device)[None] >= num_frames[:, None]
        duration = torch.tensor([s["duration"] for s in data_samples], dtype=torch.float32, device=feats.device)
        srcs, masks, pos = self.base_encoder(feats, padding_mask, duration)
        src, mask, pos, shapes, valid_ratios = self.transformer.flatten(srcs, masks, pos)
        memory = self.transformer.encode(src, pos, shapes, valid_ratios, mask)
        if self.gt_proposals:
            proposals, query_mask = self.proposals(data_samples, feats.device)
            queries, bbox_heads = self.transformer.proposal_queries(proposals), None
        else:
            query_mask, bbox_heads = None, self.bbox_head
            queries = self.transformer.learnt_queries(self.query_embed.weight, n)
        hidden, references, boxes = self.transformer.decode(*queries, memory, shapes, valid_ratios, mask, bbox_heads,
                                                            query_mask)
        logits = [head(h) for head, h in zip(self.class_head, hidden)]
        if query_mask is not None:  # the counter max-pools the real queries only
            pooled = [h.masked_fill(~query_mask[..., None], float("-inf")) for h in hidden]
        else:
            pooled = hidden
        counts = [head(h.max(dim=1)[0]) for head, h in zip(self.count_head, pooled)]
        ctx = dict(memory=memory, shapes=shapes, padding_mask=mask, valid_ratios=valid_ratios)
        return dict(hidden=hidden, references=references, boxes=boxes, logits=logits, counts=counts, ctx=ctx,
                    duration=duration, query_mask=query_mask)

    @staticmethod
    def proposals(data_samples, device):
        """Each video's ground-truth boxes as queries: (N, E, 2) padded with zeros to the batch's most events
        E, and the mask (N, E), True at real boxes."""
        counts = [len(s["boxes"]) for s in data_samples]
        boxes = torch.zeros(len(data_samples), max(counts), 2, device=device)
        for b, s in enumerate(data_samples):
            boxes[b, :counts[b]] = s["boxes"].to(device)
        return boxes, torch.arange(max(counts), device=device)[None] < torch.tensor(counts, device=device)[:, None]

    def forward(self, inputs, data_samples=None, mode="tensor"):
        if data_samples is None:
            if mode != "tensor":
                raise ValueError(f"mode {mode!r} needs data_samples (each video's duration, events, ...)")
            q = self.query_embed.num_embeddings
            tiling = torch.stack([(torch.arange(q) + 0.5) / q, torch.full((q,), 1 / q)], 1)
            data_samples = [dict(duration=float(inputs.shape[1]), boxes=tiling)] * len(inputs)  # FLOP counts
        out = self.run(inputs, data_samples)
        if mode == "loss":
            return self.loss(out, data_samples)
        if mode == "predict":
            return self.predict(out, data_samples)
        if mode == "tensor":
            seq, logprobs = self.caption_all(out, early_stop=False)
            return out["logits"][-1], out["boxes"][-1], out["counts"][-1], seq, logprobs
        raise ValueError(f"unknown mode {mode!r} (expected 'tensor', 'loss' or 'predict')")

    # ------------------------------------------------------------------------------------------------
    def loss(self, out, data_samples):
        device = out["logits"][0].device
        targets = [dict(boxes=s["boxes"].to(device), labels=s["labels"].to(device)) for s in data_samples]
        num_boxes = torch.tensor(float(sum(len(t["boxes"]) for t in targets)), device=device)
        all_reduce(num_boxes)
        num_boxes = max(num_boxes.item() / get_world_size(), 1.0)
        captions, lengths = self.batch_captions(data_samples, device)

        w, losses, last = self.loss_weights, {}, len(out["hidden"]) - 1
        for layer in range(last + 1):
            logits, boxes = out["logits"][layer], out["boxes"][layer]
            indices = self.matcher(logits, boxes, targets, out["query_mask"])
            terms = dict(ce=w["ce"] * class_loss(logits, targets, indices, num_boxes, self.focal_alpha,
                                                 self.focal_gamma),
                         counter=w["counter"] * counter_loss(out["counts"][layer], targets, self.counter_gaussian_mask,
                                                             self.counter_beta))
            l1, giou = box_losses(boxes, targets, indices, num_boxes)
            terms["giou"] = w["giou"] * giou
            if w["bbox"]:
                terms["bbox"] = w["bbox"] * l1
            if w["caption"]:
                video, query, event = self.matched_pairs(indices, data_samples, device)
                logprobs = self.caption_head(out["hidden"][layer][video, query], out["references"][layer][video, query],
                                             video, out["ctx"], captions[event])
                terms["caption"] = w["caption"] * caption_nll(logprobs, captions[event], lengths[event]).mean()
            suffix = "" if layer == last else f"_{layer}"
            losses.update({f"loss_{k}{suffix}": v for k, v in terms.items()})
        return losses

    @staticmethod
    def batch_captions(data_samples, device):
        """Every event's caption ids as one (E, T) tensor and their lengths (E,), in batch order."""
        width = max(s["captions"].shape[1] for s in data_samples)
        captions = torch.cat([F.pad(s["captions"], (0, width - s["captions"].shape[1])) for s in data_samples])
        lengths = torch.cat([s["caption_lengths"] for s in data_samples])
        return captions.to(device), lengths.to(device)

    @staticmethod
    def matched_pairs(indices, data_samples, device):
        """(video, query, event) of every matched pair; events index the batch's caption rows."""
        offsets = torch.tensor([0] + [len(s["captions"]) for s in data_samples]).cumsum(0)
        video = torch.cat([torch.full_like(q, b) for b, (q, _) in enumerate(indices)])
        query = torch.cat([q for q, _ in indices])
        event = torch.cat([e + offsets[b] for b, (_, e) in enumerate(indices)])
        return video.to(device), query.to(device), event.to(device)

    # ------------------------------------------------------------------------------------------------
    def caption_all(self, out, early_stop=True):
        """Greedy captions of every query of the last layer: seq (N, Q, T), log-probabilities (N, Q, T)."""
        hidden, reference = out["hidden"][-1], out["references"][-1]
        n, q, _ = hidden.shape
        video = torch.arange(n, device=hidden.device).repeat_interleave(q)
        seq, logprobs = self.caption_head.sample(hidden.flatten(0, 1), reference.flatten(0, 1), video, out["ctx"],
                                                 early_stop=early_stop)
        return seq.reshape(n, q, seq.shape[1]), logprobs.reshape(n, q, seq.shape[1])

    @torch.no_grad()
    def predict(self, out, data_samples):
        """PDVC's PostProcess, per video: queries sorted by sigmoid score; boxes (start, end) clamped to
        [0, 1] x duration; caption = word ids, sentence score = summed log-probabilities of its words
        (NO_CAPTION_SCORE for every query when none of the video's queries emits a word); the event
        count = argmax of the counter, at least 1. With ground-truth proposals, a video's own boxes only."""
        logits, boxes, counts = out["logits"][-1], out["boxes"][-1], out["counts"][-1]
        n, q, num_classes = logits.shape
        probs = logits.sigmoid().cpu()
        spans = box_cl_to_xy(boxes).clamp(0, 1) * out["duration"][:, None, None]
        seq, logprobs = self.caption_all(out)
        caption_scores = ((seq > 0) * logprobs).sum(-1)
        event_count = counts.argmax(-1).clamp(min=1)
        valid = [q] * n if out["query_mask"] is None else out["query_mask"].sum(1).tolist()
        results = []
        for b, sample in enumerate(data_samples):
            scores, order = probs[b, :valid[b]].flatten().topk(valid[b])  # the best (query, class) pairs
            picked = order // num_classes
            words = seq[b].cpu()[picked]
            sentence_scores = caption_scores[b].cpu()[picked]
            if not (words > 0).any():
                sentence_scores = torch.full_like(sentence_scores, NO_CAPTION_SCORE)
            results.append(dict(video_id=sample["video_id"], duration=float(out["duration"][b]),
                                scores=scores, labels=order % num_classes,
                                timestamps=spans[b].cpu()[picked], query_ids=picked, words=words,
                                sentence_scores=sentence_scores, event_count=int(event_count[b])))
        return results
