"""Post-processing in plain PyTorch/NumPy: Gaussian soft-NMS, per-class batching and boundary voting.

Upstream ActionFormer compiles these as a C++ extension, its users' most common install failure; here
they are a few vectorised NumPy loops. Segments are (N, 2) [start, end] in any unit.
"""
import numpy as np
import torch

NMS_LENGTH_EPS = 1e-6  # ActionFormer's soft-NMS measures a segment as end - start + 1e-6


def soft_nms(segs, scores, sigma=0.5, min_score=1e-3, max_num=None):
    """Gaussian soft-NMS (Bodla et al. 2017) on 1-D segments.

    Repeatedly takes the highest-scoring remaining segment and multiplies every other remaining score by
    exp(-IoU^2 / sigma); segments whose score falls below `min_score` are dropped. Stops after `max_num`.
    segs (N, 2), scores (N,) as NumPy arrays. Returns (indices in selection order, their decayed scores).
    """
    segs, scores = np.asarray(segs), np.array(scores, copy=True)
    lengths = segs[:, 1] - segs[:, 0] + NMS_LENGTH_EPS
    remaining = np.flatnonzero(scores >= min_score)
    picked = []
    while remaining.size and (max_num is None or len(picked) < max_num):
        best = remaining[np.argmax(scores[remaining])]
        picked.append(best)
        remaining = remaining[remaining != best]
        inter = (np.minimum(segs[remaining, 1], segs[best, 1]) - np.maximum(segs[remaining, 0], segs[best, 0])).clip(0)
        iou = inter / (lengths[remaining] + lengths[best] - inter)
        scores[remaining] *= np.exp(-(iou * iou) / sigma)
        remaining = remaining[scores[remaining] >= min_score]
    picked = np.array(picked, dtype=np.int64)
    return picked, scores[picked]


def segment_voting(nms_segs, all_segs, all_scores, iou_threshold, iou_weighted=False):
    """Refine each kept segment to the score-weighted mean of all candidates overlapping it by at least
    `iou_threshold` (itself included). nms_segs (K, 2), all_segs (N, 2), all_scores (N,).

    The video suite weights by score (its fork of ActionFormer, which ActionMamba's numbers come from);
    ActionFormer's own release by score * IoU (`iou_weighted=True`).
    """
    inter = (np.minimum(nms_segs[:, None, 1], all_segs[None, :, 1])
             - np.maximum(nms_segs[:, None, 0], all_segs[None, :, 0])).clip(0)
    union = (nms_segs[:, None, 1] - nms_segs[:, None, 0]) + (all_segs[None, :, 1] - all_segs[None, :, 0]) - inter
    iou = inter / union
    weights = (iou >= iou_threshold) * all_scores[None, :] * (iou if iou_weighted else 1.0)
    return weights @ all_segs / weights.sum(axis=1, keepdims=True)


def batched_nms(segs, scores, labels, sigma=0.5, min_score=1e-3, max_seg_num=200, multiclass=True,
                voting_thresh=0.0, voting_iou_weighted=False):
    """ActionFormer's post-processing of one video's candidates.

    multiclass: soft-NMS within each class, at most max_seg_num per class. Otherwise one class-agnostic
    soft-NMS, then boundary voting (see segment_voting) when voting_thresh > 0. Finally the max_seg_num
    best overall.
    segs (N, 2), scores (N,), labels (N,) tensors; returns the same, sorted by score.
    """
    segs_np, scores_np, labels_np = segs.numpy(), scores.numpy(), labels.numpy()
    if multiclass:
        keep, kept_scores = [], []
        for c in np.unique(labels_np):
            members = np.flatnonzero(labels_np == c)
            idx, s = soft_nms(segs_np[members], scores_np[members], sigma, min_score, max_seg_num)
            keep.append(members[idx])
            kept_scores.append(s)
        keep = np.concatenate(keep) if keep else np.zeros(0, dtype=np.int64)
        kept_scores = np.concatenate(kept_scores) if kept_scores else np.zeros(0, dtype=scores_np.dtype)
        new_segs = segs_np[keep]
    else:
        keep, kept_scores = soft_nms(segs_np, scores_np, sigma, min_score, max_seg_num)
        new_segs = segs_np[keep]
        if voting_thresh > 0 and keep.size:
            new_segs = segment_voting(new_segs, segs_np, scores_np, voting_thresh,
                                      voting_iou_weighted).astype(segs_np.dtype)
    order = np.argsort(-kept_scores, kind="stable")[:max_seg_num]
    return (torch.from_numpy(np.ascontiguousarray(new_segs[order])), torch.from_numpy(kept_scores[order]),
            torch.from_numpy(labels_np[keep][order]))
