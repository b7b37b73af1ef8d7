"""The dual encoder's losses (egocentric-understanding/avion/losses/losses.py) and the classifier's soft-target
cross-entropy. Both dual-encoder losses see the global batch: under DDP every process gathers the features of all
processes with their gradient (`all_gather_with_grad`, upstream's gather_with_grad=True, local_loss=False), so each
process computes the same loss, and DDP's averaged parameter gradients equal those of one process holding the whole
batch. Features arrive L2-normalised.
"""
import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn
import torch.nn.functional as F
from torch import nn

from common.engine import MODELS


def all_gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """(n, ...) on each process -> (world_size n, ...) in rank order; the backward pass returns to each process the
    summed gradient of its own rows. Every process must hold the same n (DDP's sampler pads to equal shares).
    Outside a process group: x itself."""
    if not dist.is_available() or not dist.is_initialized() or dist.get_world_size() == 1:
        return x
    return torch.cat(dist_fn.all_gather(x.contiguous()), dim=0)


@MODELS.register_module()
class ClipInfoNCELoss(nn.Module):
    """Symmetric InfoNCE (upstream's ClipLoss): logits = scale V T^T over the global batch, the i-th clip and the
    i-th caption a pair; loss = (CE(rows) + CE(columns)) / 2. Also returns clip_acc, the video-to-text top-1 within
    the batch in %, as upstream logs it (logged, not optimised)."""

    def forward(self, video, text, logit_scale):
        """video, text (n, D) normalised, logit_scale: the multiplier (1 / temperature)."""
        video, text = all_gather_with_grad(video), all_gather_with_grad(text)
        logits = logit_scale * video @ text.T
        labels = torch.arange(len(logits), device=logits.device)
        loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
        accuracy = (logits.detach().argmax(1) == labels).float().mean() * 100
        return dict(loss=loss, clip_acc=accuracy)


@MODELS.register_module()
class MaxMarginRankingLoss(nn.Module):
    """Upstream's MaxMarginRankingLoss(margin, fix_norm=True), for EK100 MIR fine-tuning: with X the cosine matrix
    of captions (rows) against clips over the global batch, every off-diagonal pair in both directions contributes
    relu(margin - (X_ii - X_ij)) and relu(margin - (X_ii - X_ji)); the loss is their mean over the 2 n (n - 1)
    terms. The scale is not used (upstream's relevancy weight, handed to it and ignored, is not taken at all)."""

    def __init__(self, margin: float = 0.2):
        super().__init__()
        self.margin = margin

    def forward(self, video, text, logit_scale=None):
        video, text = all_gather_with_grad(video), all_gather_with_grad(text)
        if len(video) < 2:
            raise ValueError(f"the max-margin ranking loss needs at least 2 pairs in the global batch, got "
                             f"{len(video)}")
        x = text @ video.T
        positive = x.diagonal()[:, None]
        off_diagonal = ~torch.eye(len(x), dtype=torch.bool, device=x.device)
        terms = torch.cat([F.relu(self.margin - (positive - x))[off_diagonal],
                           F.relu(self.margin - (positive - x.T))[off_diagonal]])
        return dict(loss=terms.mean())


def soft_target_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """mean over the batch of -sum_c target_c log softmax(logits)_c (timm's SoftTargetCrossEntropy);
    logits, target (B, C), each target row a distribution."""
    return torch.sum(-target * F.log_softmax(logits, dim=-1), dim=-1).mean()
