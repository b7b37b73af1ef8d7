"""Functional pieces of ASFormer, batched and mask-aware. Masks are (B, T) bool, True = valid frame,
valid frames first. With a full mask both equal upstream's batch-1 computation."""
import math

import torch
import torch.nn.functional as F


def masked_instance_norm(x: torch.Tensor, mask: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """InstanceNorm1d (no affine, no running stats) with statistics over valid frames only.

    x: (B, C, T), mask: (B, T) -> (B, C, T). This is the one deviation batching needs: upstream
    normalises over the whole (unpadded, batch-1) sequence, which is the same thing.
    """
    m = mask[:, None].to(x.dtype)
    n = m.sum(-1, keepdim=True).clamp_min(1)
    mean = (x * m).sum(-1, keepdim=True) / n
    var = ((x - mean).square() * m).sum(-1, keepdim=True) / n
    return (x - mean) * torch.rsqrt(var + eps)


def window_mask(block: int, device=None) -> torch.Tensor:
    """(block, block + 2 * (block // 2)) 0/1 mask over a block's key window, as upstream builds it.

    Upstream sets columns [i, i + block) for every i in range(block) on ALL rows, so each query
    sees the whole window except its last column (2 * block - 1 keys), not a band of `block` keys.
    Kept: ASFormer checkpoints were trained with it.
    """
    width = block + 2 * (block // 2)
    mask = torch.zeros(block, width, device=device)
    mask[:, : 2 * block - 1] = 1
    return mask


def sliding_window_attention(q, k, v, mask, block: int) -> torch.Tensor:
    """ASFormer's single-head block-wise sliding attention.

    q, k: (B, Ck, T); v: (B, Cv, T); mask: (B, T) -> (B, Cv, T).
    Frames are cut into blocks of `block` queries (T zero-padded to a multiple of `block`); each block
    attends to keys in [start - block // 2, end + block // 2), zeros outside the video. Weights are
    softmax(q.k / sqrt(Ck) + log(mask + 1e-6)) * mask, not renormalised (upstream). Keys and values
    past a video's end are zeroed, so a padded video sees exactly what it sees alone.
    """
    B, Ck, T = q.shape
    half, nb = block // 2, -(-T // block)
    width, tail = block + 2 * half, nb * block - T
    valid = mask[:, None].to(q.dtype)

    def windows(x):  # (B, C, T) -> (B, nb, C, width)
        return F.pad(x, (half, tail + half)).unfold(-1, width, block).transpose(1, 2)

    queries = F.pad(q, (0, tail)).view(B, Ck, nb, block).permute(0, 2, 3, 1)  # (B, nb, block, Ck)
    att_mask = window_mask(block, q.device) * windows(valid)  # (B, nb, block, width)
    energy = queries @ windows(k * valid) / math.sqrt(Ck)
    att = torch.softmax(energy + torch.log(att_mask + 1e-6), dim=-1) * att_mask
    out = att @ windows(v * valid).transpose(-1, -2)  # (B, nb, block, Cv)
    return out.reshape(B, nb * block, -1)[:, :T].transpose(1, 2)
