import pytest
import torch
from torch import nn

from common import build_mixer, selective_scan
from common.flops import count_flops


class ScanOnly(nn.Module):
    def __init__(self, backend):
        super().__init__()
        self.backend = backend

    def forward(self, u, delta, A, B, C, D, z):
        return selective_scan(u, delta, A, B, C, D, z, delta_softplus=True, backend=self.backend)


@pytest.mark.parametrize("backend", ["cpu", "torch"])
def test_scan_is_counted_by_formula(backend):
    b, d, l, n = 2, 8, 30, 4
    inputs = (torch.randn(b, d, l), torch.rand(b, d, l), -torch.rand(d, n), torch.randn(b, n, l),
              torch.randn(b, n, l), torch.ones(d), torch.randn(b, d, l))
    assert count_flops(ScanOnly(backend), inputs) == b * d * l * (5 * n + 3)


def test_global_attention_counts_the_attention_matrix():
    d, h, l = 32, 4, 50
    mixer = build_mixer("attn", d, n_head=h)
    linears = l * d * 3 * d + l * d * d
    assert count_flops(mixer, (torch.randn(1, l, d),)) == linears + 2 * h * l * l * (d // h)


def test_mamba_mixer_count_includes_projections_and_scan():
    d, l = 32, 40
    mixer = build_mixer("mamba", d)
    di, r, n = 2 * d, 2, 16
    # the depthwise conv is elementwise products on CPU, which fvcore (like for any model) skips
    expected = l * d * 2 * di + l * di * (r + 2 * n) + l * r * di + l * di * d + di * l * (5 * n + 3)
    assert count_flops(mixer, (torch.randn(1, l, d),)) == expected
