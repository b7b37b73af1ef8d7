"""Batch-level mixup / cutmix with soft targets, as timm's `Mixup(mode="batch")` that the suite's EK100 action
recognition uses (mixup 0.8, cutmix 1.0, prob 1, switch prob 0.5, label smoothing 0.1): one draw per batch, the
batch mixed with itself reversed.

    with probability `prob`: cutmix with probability `switch_prob` (when both alphas are > 0), else mixup;
        lam ~ Beta(alpha, alpha) of the chosen one
        mixup:  x = lam x + (1 - lam) x[::-1]
        cutmix: a box of side sqrt(1 - lam) (H, W) centred uniformly, clipped to the frame, is pasted from x[::-1]
                into every frame of each clip; lam = 1 - box area / (H W)
    target = lam y + (1 - lam) y[::-1], y the one-hot labels smoothed to (1 - s + s / C, s / C)

One deliberate difference: upstream applies timm's image cutmix, `x[:, :, yl:yh, xl:xh]`, to clips (B, C, T, H, W),
so its box cuts frames yl:yh and rows xl:xh across the whole width, while lam is the box's share of H x W; here the
box is spatial in every frame, so the pasted share of each clip is the lam its target says. The draws use torch's
random generator (timm's numpy), which the engine saves and restores on resume.
"""
import math

import torch


def smoothed_one_hot(labels: torch.Tensor, num_classes: int, smoothing: float) -> torch.Tensor:
    off = smoothing / num_classes
    target = torch.full((len(labels), num_classes), off, device=labels.device)
    return target.scatter_(1, labels[:, None], 1.0 - smoothing + off)


class BatchMixup:
    def __init__(self, num_classes: int, mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0, switch_prob=0.5,
                 label_smoothing=0.1):
        if mixup_alpha <= 0 and cutmix_alpha <= 0:
            raise ValueError("mixup needs mixup_alpha > 0 or cutmix_alpha > 0")
        self.num_classes, self.label_smoothing = num_classes, label_smoothing
        self.mixup_alpha, self.cutmix_alpha, self.prob, self.switch_prob = mixup_alpha, cutmix_alpha, prob, switch_prob

    def __call__(self, clips: torch.Tensor, labels: torch.Tensor):
        """clips (B, C, T, H, W), labels (B,) int64 -> (mixed clips, soft targets (B, num_classes)); B even."""
        if len(clips) % 2:
            raise ValueError(f"mixup pairs each clip with its mirror in the batch: the batch size must be even, "
                             f"got {len(clips)} (drop the last incomplete batch)")
        lam, cutmix = self.draw()
        if cutmix:
            clips, lam = self.paste_box(clips, lam)
        elif lam < 1:
            clips = lam * clips + (1 - lam) * clips.flip(0)
        y = smoothed_one_hot(labels, self.num_classes, self.label_smoothing)
        return clips, lam * y + (1 - lam) * y.flip(0)

    def draw(self):
        """(lam, whether cutmix): lam = 1 (no mixing) with probability 1 - prob."""
        if torch.rand(()) >= self.prob:
            return 1.0, False
        cutmix = self.mixup_alpha <= 0 or (self.cutmix_alpha > 0 and torch.rand(()) < self.switch_prob)
        alpha = self.cutmix_alpha if cutmix else self.mixup_alpha
        return torch.distributions.Beta(alpha, alpha).sample().item(), cutmix

    @staticmethod
    def paste_box(clips, lam):
        height, width = clips.shape[-2:]
        ratio = math.sqrt(1 - lam)
        cut_h, cut_w = int(height * ratio), int(width * ratio)
        cy, cx = torch.randint(height, ()).item(), torch.randint(width, ()).item()
        top, bottom = max(cy - cut_h // 2, 0), min(cy + cut_h // 2, height)
        left, right = max(cx - cut_w // 2, 0), min(cx + cut_w // 2, width)
        mixed = clips.clone()
        mixed[..., top:bottom, left:right] = clips.flip(0)[..., top:bottom, left:right]
        return mixed, 1 - (bottom - top) * (right - left) / (height * width)
