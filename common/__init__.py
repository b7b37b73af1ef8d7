"""Shared Mamba toolkit: the selective scan (ops), sequence mixers, blocks, FLOP counting, engine."""
import os
import sys

# Two OpenMP runtimes share the cores: torch's and numba's (the CPU scan). Workers that busy-wait
# after a parallel region starve the other runtime's (a Mamba layer ran 25x slower on 2 cores), so
# both should wait passively. A runtime reads the policy when it loads: importing this package before
# torch (as every tool here does) is enough. Where torch came first and spins, the scan keeps to one
# numba thread instead (see ops/scan_cpu.py).
TORCH_OPENMP_SPINS = "torch" in sys.modules and os.environ.get("OMP_WAIT_POLICY", "").upper() != "PASSIVE"
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .mixers import build_mixer  # noqa: E402
from .ops import causal_conv1d, selective_scan  # noqa: E402

__all__ = ["selective_scan", "causal_conv1d", "build_mixer"]
