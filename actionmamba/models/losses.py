"""ActionFormer's losses, summed over elements (the caller divides by the positive-count normaliser)."""
import torch
import torch.nn.functional as F


def sigmoid_focal_loss(logits, targets, alpha=0.25, gamma=2.0):
    """Focal loss on sigmoid outputs (Lin et al. 2017), summed. logits, targets: same shape, targets in [0, 1]."""
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = loss * (alpha * targets + (1 - alpha) * (1 - targets))
    return loss.sum()


def diou_loss_1d(pred, target, eps=1e-8):
    """1-D distance-IoU loss between (left, right) offsets from the same point, summed.

    1 - IoU + (rho / len_c)^2 with rho the distance between the two centres and len_c the length of the
    smallest interval covering both. pred, target: (N, 2), non-negative.
    """
    lp, rp = pred[:, 0], pred[:, 1]
    lg, rg = target[:, 0], target[:, 1]
    inter = torch.min(lp, lg) + torch.min(rp, rg)
    union = (lp + rp) + (lg + rg) - inter
    iou = inter / union.clamp(min=eps)
    len_c = torch.max(lp, lg) + torch.max(rp, rg)
    rho = 0.5 * (rp - lp - rg + lg)
    return (1.0 - iou + (rho / len_c.clamp(min=eps)) ** 2).sum()
