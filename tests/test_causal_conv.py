import pytest
import torch
import torch.nn.functional as F

from common.ops import causal_conv1d


@pytest.mark.parametrize("width", [2, 3, 4])
@pytest.mark.parametrize("activation", [None, "silu"])
def test_matches_padded_conv1d_reference(width, activation):
    torch.manual_seed(0)
    x = torch.randn(2, 6, 17, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(6, 1, width, dtype=torch.float64, requires_grad=True)  # Mamba's (d, 1, w)
    bias = torch.randn(6, dtype=torch.float64, requires_grad=True)
    ref = F.conv1d(x, weight, bias, padding=width - 1, groups=6)[..., :17]
    ref = F.silu(ref) if activation else ref
    out = causal_conv1d(x, weight, bias, activation=activation)
    assert torch.allclose(out, ref, atol=1e-12)
    g_out = torch.autograd.grad(out.sum(), [x, weight, bias])
    g_ref = torch.autograd.grad(ref.sum(), [x, weight, bias])
    assert all(torch.allclose(a, b, atol=1e-12) for a, b in zip(g_out, g_ref))


def test_initial_state_continues_the_sequence():
    torch.manual_seed(0)
    x = torch.randn(1, 3, 12)
    weight = torch.randn(3, 4)
    full = causal_conv1d(x, weight)
    tail = causal_conv1d(x[..., 5:], weight, initial_state=x[..., 2:5])
    assert torch.allclose(tail, full[..., 5:], atol=1e-6)


def test_rejects_unknown_activation():
    with pytest.raises(ValueError, match="activation"):
        causal_conv1d(torch.zeros(1, 1, 3), torch.zeros(1, 2), activation="relu")
