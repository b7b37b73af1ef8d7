"""MS-TCN / ASFormer training loss: per stage, cross-entropy plus a truncated MSE smoothing term."""
from typing import Dict

import torch
import torch.nn.functional as F

from asmamba.datasets import IGNORE_INDEX


def segmentation_loss(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor,
                      smooth_weight: float = 0.15, smooth_clamp: float = 16.0) -> Dict[str, torch.Tensor]:
    """Summed over stages: CE (mean over valid frames) and smooth_weight * truncated MSE.

    logits: (S, B, C, T) stage outputs; labels: (B, T) with -100 padding; mask: (B, T) bool.
    The smoothing term is mean(clamp((log_softmax(p)[t] - log_softmax(p)[t-1].detach())^2, 0,
    tau^2) * mask[t]) with the mean over all B * C * (T - 1) entries, as upstream (tau = 4); a batch of
    1-frame videos has no step to smooth (upstream's mean of nothing is NaN), so the term is 0.
    """
    valid = mask[:, None, 1:].to(logits.dtype)
    ce = logits.new_zeros(())
    smooth = logits.new_zeros(())
    for p in logits:
        ce = ce + F.cross_entropy(p, labels, ignore_index=IGNORE_INDEX)
        if p.shape[-1] < 2:
            continue
        step = F.log_softmax(p[:, :, 1:], dim=1) - F.log_softmax(p.detach()[:, :, :-1], dim=1)
        smooth = smooth + torch.mean(torch.clamp(step.square(), 0, smooth_clamp) * valid)
    return dict(loss_ce=ce, loss_smooth=smooth_weight * smooth)
