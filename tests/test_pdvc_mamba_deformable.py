"""Multi-scale deformable attention in plain PyTorch against a direct sum, against grid_sample's two
padding modes (zeros = PDVC's CUDA kernel, border = its CPU fallback and its captioner), gradients, devices."""
import pytest
import torch
import torch.nn.functional as F

from pdvc_mamba.models.deformable import (MSDeformAttn, deformable_attention, init_offset_bias, sample_levels,
                                          sampling_locations)

SHAPES = (7, 4, 2)  # coarse levels: many locations fall beyond an edge


def direct_sample(value, shapes, locations, padding):
    """Linear interpolation written as a sum over every step with the hat weight max(0, 1 - |x - t|)."""
    n, q, m, n_levels, p = locations.shape
    out = torch.zeros(n, q, m, n_levels, p, value.shape[-1], dtype=value.dtype)
    start = 0
    for level, length in enumerate(shapes):
        for b in range(n):
            for i in range(q):
                for h in range(m):
                    for k in range(p):
                        x = float(locations[b, i, h, level, k]) * length - 0.5
                        if padding == "border":
                            x = min(max(x, 0.0), length - 1.0)
                        for t in range(length):
                            out[b, i, h, level, k] += max(0.0, 1 - abs(x - t)) * value[b, start + t, h]
        start += length
    return out


def grid_sample_levels(value, shapes, locations, padding):
    """PDVC's 2-D formulation: each level a 1 x T_l map, sampled at (x = u, y = 0.5) by F.grid_sample."""
    n, q, m, n_levels, p = locations.shape
    d = value.shape[-1]
    out = []
    for level, value_l in enumerate(value.split(list(shapes), dim=1)):
        image = value_l.permute(0, 2, 3, 1).reshape(n * m, d, 1, -1)
        x = 2 * locations[:, :, :, level] - 1
        grid = torch.stack([x, torch.zeros_like(x)], -1).permute(0, 2, 1, 3, 4).reshape(n * m, q, p, 2)
        sampled = F.grid_sample(image, grid, mode="bilinear", padding_mode=padding, align_corners=False)
        out.append(sampled.view(n, m, d, q, p).permute(0, 3, 1, 4, 2))
    return torch.stack(out, 3)


def case(dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    value = torch.randn(2, sum(SHAPES), 2, 3, generator=g, dtype=dtype)
    locations = torch.rand(2, 3, 2, len(SHAPES), 4, generator=g, dtype=dtype) * 1.8 - 0.4  # [-0.4, 1.4]
    locations[0, 0, 0, 0, :3] = torch.tensor([-1 / 14, 1.0 + 1 / 14, 0.5 / 7], dtype=dtype)  # x = -1, x = T, x = 0
    weights = torch.rand(2, 3, 2, len(SHAPES), 4, generator=g, dtype=dtype)
    return value, locations, weights


@pytest.mark.parametrize("padding", ["zeros", "border"])
def test_sampling_equals_the_direct_sum(padding):
    value, locations, _ = case()
    expected = direct_sample(value, SHAPES, locations, padding)
    torch.testing.assert_close(sample_levels(value, SHAPES, locations, padding), expected, rtol=0, atol=1e-12)


def test_zero_padding_reads_nothing_beyond_an_edge_and_border_repeats_it():
    value = torch.arange(1.0, 5.0).view(1, 4, 1, 1)  # one level: 1, 2, 3, 4
    u = torch.tensor([-0.25, -0.125, 0.0, 0.125, 0.5, 0.875, 1.0, 1.25]).view(1, -1, 1, 1, 1)  # x = u * 4 - 0.5
    zeros = sample_levels(value, [4], u, "zeros").flatten().tolist()
    border = sample_levels(value, [4], u, "border").flatten().tolist()
    # x = -1.5 -1 -0.5 0 1.5 3 3.5 4.5: the kernel keeps the in-range neighbour's share only
    assert zeros == pytest.approx([0, 0, 0.5, 1, 2.5, 4, 2, 0])
    assert border == pytest.approx([1, 1, 1, 1, 2.5, 4, 4, 4])


@pytest.mark.parametrize("padding", ["zeros", "border"])
def test_attention_matches_grid_sample_with_the_same_padding(padding):
    value, locations, weights = case()
    expected = (grid_sample_levels(value, SHAPES, locations, padding) * weights[..., None]).sum((3, 4)).flatten(2)
    got = deformable_attention(value, SHAPES, locations, weights, padding)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)


def test_the_two_paddings_differ_near_edges():
    value, locations, weights = case()
    zeros = deformable_attention(value, SHAPES, locations, weights, "zeros")
    border = deformable_attention(value, SHAPES, locations, weights, "border")
    assert (zeros - border).abs().max() > 0.1


def test_gradients_match_the_direct_formulation():
    value, locations, weights = case()
    value.requires_grad_(True)
    locations.requires_grad_(True)
    weights.requires_grad_(True)
    inside = locations.detach() * torch.tensor(SHAPES, dtype=torch.float64)[:, None] - 0.5
    locations.data[(inside - inside.round()).abs() < 1e-3] += 1e-3  # keep clear of the kinks
    ours = deformable_attention(value, SHAPES, locations, weights)
    grads = torch.autograd.grad(ours.pow(2).sum(), (value, locations, weights))
    ref = (grid_sample_levels(value, SHAPES, locations, "zeros") * weights[..., None]).sum((3, 4)).flatten(2)
    ref_grads = torch.autograd.grad(ref.pow(2).sum(), (value, locations, weights))
    for g, r in zip(grads, ref_grads):
        torch.testing.assert_close(g, r, rtol=1e-9, atol=1e-9)


def test_box_references_spread_points_over_the_box():
    """PDVC: a (centre, length) reference puts point offsets in units of length / (2 n_points)."""
    offsets = torch.tensor([-4.0, -2.0, 2.0, 4.0]).view(1, 1, 1, 1, 4)
    box = torch.tensor([0.5, 0.4]).view(1, 1, 1, 2)
    assert sampling_locations(box, offsets, [10], 4).flatten().tolist() == pytest.approx([0.3, 0.4, 0.6, 0.7])
    point = torch.tensor([0.5]).view(1, 1, 1, 1)
    assert sampling_locations(point, offsets, [10], 4).flatten().tolist() == pytest.approx([0.1, 0.3, 0.7, 0.9])


def test_offset_init_is_deformable_detrs_line():
    bias = init_offset_bias(n_heads=4, n_levels=2, n_points=3).view(4, 2, 3)
    # heads at 0, 90, 180, 270 degrees: cos / max(|cos|, |sin|) = 1, ~0, -1, ~0; point i at i + 1 steps
    assert bias[0, 1].tolist() == pytest.approx([1, 2, 3])
    assert bias[2, 0].tolist() == pytest.approx([-1, -2, -3])
    assert bias[1].abs().max() < 1e-6
    centred = init_offset_bias(n_heads=4, n_levels=2, n_points=3, centred=True).view(4, 2, 3)
    assert centred[0, 0].tolist() == pytest.approx([-1, 0, 1])


def test_module_ignores_padded_memory():
    torch.manual_seed(0)
    attn = MSDeformAttn(d_model=8, n_levels=2, n_heads=2, n_points=2).double()
    for p in attn.parameters():  # move off the init (zero offset weights)
        p.data.normal_(0, 0.3)
    memory = torch.randn(1, 9, 8, dtype=torch.float64)
    padding = torch.zeros(1, 9, dtype=torch.bool)
    padding[0, [5, 8]] = True
    query, refs = torch.randn(1, 3, 8, dtype=torch.float64), torch.rand(1, 3, 2, 1, dtype=torch.float64)
    out = attn(query, refs, memory, [6, 3], padding)
    memory[0, [5, 8]] = 1e6
    torch.testing.assert_close(attn(query, refs, memory, [6, 3], padding), out)


@pytest.mark.cuda
def test_runs_on_cuda_like_on_cpu():
    value, locations, weights = case(torch.float32)
    cpu = deformable_attention(value, SHAPES, locations, weights)
    gpu = deformable_attention(value.cuda(), SHAPES, locations.cuda(), weights.cuda())
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(sample_levels(value.cuda(), SHAPES, locations.cuda(), "border").cpu(),
                               sample_levels(value, SHAPES, locations, "border"), rtol=1e-5, atol=1e-5)
