import os

import common  # noqa: F401  (before torch: sets the OpenMP wait policy, see common/__init__.py)
import numba
import pytest
import torch

if os.environ.get("PYTEST_XDIST_WORKER"):  # one thread per test process: the workers share the cores
    torch.set_num_threads(1)
    numba.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "cuda" in item.keywords and not torch.cuda.is_available():
            item.add_marker(skip)


def rel_err(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """max |actual - expected| / max |expected|: one number per tensor, robust to near-zero entries."""
    scale = expected.detach().abs().max().clamp_min(1e-30)
    return ((actual.detach().double() - expected.detach().double()).abs().max() / scale).item()
