import os
import sys

import common  # noqa: F401  (before torch: sets the OpenMP wait policy, see common/__init__.py)
import numba
import pytest
import torch

import cuda_standin
from common.ops import causal_conv, scan_cuda

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


@pytest.fixture(scope="module")
def one_thread():
    """Training tests run many small ops: on a shared 2-core machine one thread beats two by far.
    A module opts in with `pytestmark = pytest.mark.usefixtures("one_thread")`."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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


@pytest.fixture
def standin_kernels(monkeypatch):
    """Runs the cuda backend on CPU tensors: kernels on device "cpu", and mamba-ssm / causal-conv1d (the
    real packages, installed without their CUDA build by `make install`) imported against the stand-ins
    of tests/cuda_standin.py. Yields the stand-in's call counter."""
    if not cuda_standin.installed():
        message = "mamba-ssm / causal-conv1d are not installed (make install puts them in .venv)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    try:
        modules = cuda_standin.interface_modules()
    except RuntimeError as err:  # the real kernels were imported in this process (a GPU machine)
        pytest.skip(str(err))
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(scan_cuda, "KERNEL_DEVICE", "cpu")
    caches = (scan_cuda.load_selective_scan_fn, causal_conv._load_causal_conv1d_fn)
    for cache in caches:
        cache.cache_clear()
    cuda_standin.calls.clear()
    yield cuda_standin.calls
    for cache in caches:
        cache.cache_clear()
