"""TeSTra's losses on multi-hot per-frame targets (rows flattened, column 0 = background).

Both drop the background column and average over the rows whose target is not background only
(upstream's MCE / MCE_EQL with ignore_index 0); a batch with only background rows gives 0.
"""
import torch
import torch.nn.functional as F


def _foreground_mean(per_row, target):
    foreground = target[:, 0] != 1
    return per_row[foreground].mean() if foreground.any() else (per_row * 0).sum()


def multilabel_cross_entropy(logits, target):
    """Upstream's MCE: -sum_c target_c log softmax(logits)_c over the classes, (rows, 1 + C) inputs."""
    per_row = -(target[:, 1:] * F.log_softmax(logits[:, 1:], dim=-1)).sum(-1)
    return _foreground_mean(per_row, target)


def equalization_cross_entropy(logits, target, rare, gamma=0.95):
    """Upstream's MCE_EQL (equalisation loss): for each rare class (`rare` (C,) bool, training frequency
    < lambda) that is not a target of the row, with probability gamma its logit is pushed down by
    log(1e-8) (about -18.4), i.e. it is left out of the softmax; then MCE."""
    target_fg = target[:, 1:]
    dropped = (torch.rand_like(target_fg) < gamma) & rare & (target_fg == 0)
    adjusted = logits[:, 1:] + torch.log(1 - dropped.to(logits.dtype) + 1e-8)
    per_row = -(target_fg * F.log_softmax(adjusted, dim=-1)).sum(-1)
    return _foreground_mean(per_row, target)
