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


@pytest.fixture
def toy_dir(tmp_path, monkeypatch):
    """A working directory holding the engine toy task's data at the configs' relative data_root."""
    import engine_toy
    monkeypatch.chdir(tmp_path)
    engine_toy.make_toy_data(engine_toy.TASK.toy_data_root)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny model: a second thread only adds contention on 2 cores
    yield tmp_path
    torch.set_num_threads(threads)
