"""TeSTra's ESA (exponential-smoothing attention) kernel, the long-memory compression's first cross-attention,
in batch form and in O(1)-per-tick streaming form.

Batch: position j of the N long-memory tokens (oldest first) gets log(alpha^(N-1-j)) added to its logit, so
its weight is alpha^age exp(q.k_j / sqrt(d)) normalised over the window: alpha = 0.9 is the EK100 kernel,
alpha = 1 the box kernel. (Upstream adds log(alpha^(N-1-j) + 1e-10): at N = 64, alpha = 0.9 that moves a
weight by < 1e-7 relative.)
Streaming, per batch item, head and query: numerator sum_j alpha^age_j exp(s_j - m) v_j and denominator
sum_j alpha^age_j exp(s_j - m). A new token multiplies both by alpha and adds its term; the token leaving the
N-window subtracts its term times alpha^N. m is a running maximum of the logits (keeps exp() in range; the
ratio does not depend on it); the sums are float64, so hours of additions and removals do not drift.
"""
import math

import torch


def log_decay(num_positions, alpha, device=None):
    """(N,) logit offsets (N - 1 - j) log(alpha), j = 0 oldest; zeros for the box kernel (alpha = 1)."""
    age = torch.arange(num_positions - 1, -1, -1, dtype=torch.float32, device=device)
    return age * math.log(alpha)


class ESAWindow:
    """The streaming sums of one sliding window of at most `size` tokens.

    logits (B, heads, Q) are one token's scaled q.k for every query; values (B, heads, d_head) its value
    (shared by the queries). `read()` is the attention output (B, heads, Q, d_head) over the tokens in the window.
    """

    def __init__(self, logits, values, alpha, size):
        self.alpha, self.size, self.count = alpha, size, 1
        self.shift = logits.double()
        self.den = torch.ones_like(self.shift)
        self.num = values.double().unsqueeze(2).expand(-1, -1, logits.shape[-1], -1).clone()

    def push(self, logits, values):
        logits = logits.double()
        shift = torch.maximum(self.shift, logits)
        keep = self.alpha * torch.exp(self.shift - shift)
        weight = torch.exp(logits - shift)
        self.num = self.num * keep.unsqueeze(-1) + weight.unsqueeze(-1) * values.double().unsqueeze(2)
        self.den = self.den * keep + weight
        self.shift = shift
        self.count += 1

    def pop(self, logits, values):
        """Removes the token that was pushed `size` pushes ago (now at age `size`)."""
        weight = self.alpha ** self.size * torch.exp(logits.double() - self.shift)
        self.num = self.num - weight.unsqueeze(-1) * values.double().unsqueeze(2)
        self.den = self.den - weight
        self.count -= 1

    def read(self, dtype=torch.float32):
        return (self.num / self.den.unsqueeze(-1)).to(dtype)

    def nbytes(self):
        return sum(t.numel() * t.element_size() for t in (self.shift, self.den, self.num))
