"""UniVTG's losses (SetCriterion with losses spans, labels, saliency), as upstream computes them.

Shapes: B queries, L clips. mask (B, L) valid clips; window (B, L) 1 on clips inside their ground-truth
window (timestamp_window); every loss is a batch-level mean, as upstream.
"""
import torch
import torch.nn.functional as F

LOG_EPS = 1e-45  # upstream's (mask + 1e-45).log(): about -103 on masked entries in float32


def generalized_iou_paired(spans1, spans2):
    """Row-wise generalised tIoU of (N, 2) [start, end] spans (the diagonal of upstream's N x N matrix)."""
    inter = (torch.min(spans1[:, 1], spans2[:, 1]) - torch.max(spans1[:, 0], spans2[:, 0])).clamp(min=0)
    union = (spans1[:, 1] - spans1[:, 0]) + (spans2[:, 1] - spans2[:, 0]) - inter
    enclosing = (torch.max(spans1[:, 1], spans2[:, 1]) - torch.min(spans1[:, 0], spans2[:, 0])).clamp(min=0)
    return inter / union - (enclosing - union) / enclosing


def boundary_losses(spans, span_targets, window):
    """Smooth-L1 on the (start, end) of every in-window clip's span (sum / #clips), and mean 1 - GIoU.
    spans, span_targets (B, L, 2) normalised; window (B, L)."""
    inside = window.bool()
    loss_b = (F.smooth_l1_loss(spans, span_targets, reduction="none") * window[..., None]).sum() / inside.sum()
    loss_g = (1 - generalized_iou_paired(spans[inside], span_targets[inside])).mean()
    return loss_b, loss_g


def foreground_loss(prob, window, mask, eos_coef):
    """Binary cross-entropy of the foreground probability, clips outside windows weighted eos_coef."""
    weights = torch.where(window.bool(), 1.0, eos_coef) * mask
    bce = F.binary_cross_entropy(prob, window.float(), weight=weights, reduction="none") * mask
    return bce.sum() / mask.sum()


def cosine_matrix(a, b, eps=1e-8):
    """(N, D) x (M, D) -> (N, M) cosine similarity (upstream's sim_matrix)."""
    a = a / torch.max(a.norm(dim=1, keepdim=True), eps * torch.ones_like(a[:, :1]))
    b = b / torch.max(b.norm(dim=1, keepdim=True), eps * torch.ones_like(b[:, :1]))
    return a @ b.t()


def saliency_losses(video_tokens, text_pooled, saliency, positive, mask, temperature):
    """UniVTG's two contrastive saliency losses.

    inter: the positive clip of each query against the pooled text of every query in the batch, both ways.
    intra: within the video, the positive clip against the clips scored lower than it (padding excluded),
    softmax over clips and, as upstream, also over the batch at the positive's clip index.
    video_tokens (B, L, D) (the projected clips, before the interaction encoder), text_pooled (B, D),
    saliency (B, L), positive (B,) clip indices.
    """
    rows = torch.arange(len(video_tokens), device=video_tokens.device)
    sim = cosine_matrix(video_tokens[rows, positive], text_pooled)
    inter = -(torch.diag(F.log_softmax(sim / temperature, dim=1)).mean()
              + torch.diag(F.log_softmax(sim.t() / temperature, dim=1)).mean())

    candidates = saliency < saliency[rows, positive][:, None]
    candidates[rows, positive] = True
    sim_in = F.cosine_similarity(video_tokens, text_pooled[:, None], dim=-1)
    sim_in = sim_in + ((candidates & mask) + LOG_EPS).log()
    over_clips = F.log_softmax(sim_in / temperature, dim=1)[rows, positive]
    over_batch = F.log_softmax(sim_in.t() / temperature, dim=1)[positive, rows]
    intra = -(over_clips.mean() + over_batch.mean())
    return inter, intra
