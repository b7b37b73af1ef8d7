"""What the numba CPU kernels share: the thread policy, vectorisable math, strided operands.

Vector math works on short contiguous arrays (one tile of channels), so LLVM turns each loop into AVX
instructions: no scalar libm call per element. float32 gets the polynomial exp; float64 (the tests'
gradchecks) keeps math.exp, which is exact but not vectorised.

Operands are passed as a flat 1-D array over the tensor's storage plus its element strides: one
compiled kernel serves every layout (contiguous, transposed views of a projection's output, a view
broadcast over directions with stride 0), with no copy before the call.
"""
import math
import os
import sys

import common

if common.TORCH_OPENMP_SPINS and "numba" not in sys.modules:
    # torch was loaded before us with busy-waiting workers (see common/__init__.py): a second pool of
    # kernel threads would fight them for the cores, so the kernels run on the calling thread alone.
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numba  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

# Reassociation lets LLVM vectorise sums; no-NaN/no-inf flags are left out on purpose so a NaN input
# still shows up as NaN instead of undefined behaviour.
FASTMATH = {"reassoc", "contract", "nsz", "arcp"}
SOFTPLUS_THRESHOLD = 20.0  # as F.softplus: identity above it


@numba.njit(inline="always", fastmath=FASTMATH)
def exp_into(x, out, bits, fast):
    """out = exp(x) over 1-D arrays (out may be x). float32 (`fast`): Cody-Waite range reduction, a degree-7 polynomial
    and the exponent written as bits, all vectorisable, ~4.5x faster than scalar expf calls and within
    1e-7 relative; float64: math.exp. NaN stays NaN, underflow gives 0, overflow inf."""
    if not fast:
        for i in range(x.shape[0]):
            out[i] = math.exp(x[i])
        return
    scale = bits.view(np.float32)
    for i in range(x.shape[0]):
        x0 = np.float32(x[i])
        xi = np.float32(-87.0) if x0 < -87.0 else x0
        xi = np.float32(89.0) if xi > 89.0 else xi
        k = np.floor(xi * np.float32(1.4426950408889634) + np.float32(0.5))
        r = xi - k * np.float32(0.693359375) + k * np.float32(2.12194440e-4)  # ln2 split in two
        p = np.float32(1 / 5040)
        p = p * r + np.float32(1 / 720)
        p = p * r + np.float32(1 / 120)
        p = p * r + np.float32(1 / 24)
        p = p * r + np.float32(1 / 6)
        p = p * r + np.float32(0.5)
        p = p * r + np.float32(1.0)
        out[i] = p * r + np.float32(1.0)
        bits[i] = (np.int32(k) + 127) << 23 if x0 >= -87.0 else 0  # 2^k, or 0 (underflow; NaN stays NaN)
    for i in range(x.shape[0]):
        out[i] = out[i] * scale[i]


@numba.njit(inline="always", fastmath=FASTMATH)
def softplus_into(x, out, work, bits, fast):
    """out = softplus(x) = log1p(exp(x)), identity above SOFTPLUS_THRESHOLD as F.softplus. Written as
    max(x, 0) + log1p(e) with e = exp(-|x|) in (0, 1]; for float32, log1p(e) = 2 atanh(s) with
    s = e / (2 + e) <= 1/3, an odd series that converges fast there (7 terms: 1e-8 relative), with no
    cancellation for small e and vectorisable. float64 keeps math.log1p."""
    one, two = x.dtype.type(1), x.dtype.type(2)
    for i in range(x.shape[0]):
        work[i] = -abs(x[i])
    exp_into(work, work, bits, fast)
    if fast:
        for i in range(x.shape[0]):
            s = work[i] / (two + work[i])
            s2 = s * s
            p = np.float32(1 / 13)
            p = p * s2 + np.float32(1 / 11)
            p = p * s2 + np.float32(1 / 9)
            p = p * s2 + np.float32(1 / 7)
            p = p * s2 + np.float32(1 / 5)
            p = p * s2 + np.float32(1 / 3)
            work[i] = two * s * (p * s2 + one)
    else:
        for i in range(x.shape[0]):
            work[i] = math.log1p(work[i])
    for i in range(x.shape[0]):
        xi = x[i]
        sp = max(xi, x.dtype.type(0)) + work[i]
        out[i] = xi if xi > SOFTPLUS_THRESHOLD else sp


@numba.njit(inline="always", fastmath=FASTMATH)
def sigmoid_into(x, out, bits, fast):
    """out = 1 / (1 + exp(-x)); out may be x."""
    one = x.dtype.type(1)
    for i in range(x.shape[0]):
        out[i] = -x[i]
    exp_into(out, out, bits, fast)
    for i in range(x.shape[0]):
        out[i] = one / (one + out[i])


def strided(x: torch.Tensor | None, ndim: int, dtype) -> tuple[np.ndarray, np.ndarray]:
    """(flat 1-D numpy array over x's elements, element strides (ndim,) int64). Indexing
    flat[sum(i_k * strides[k])] reads x[i_0, ..., i_k]; a dimension of size 1 gets stride 0, so it
    broadcasts (an operand shared by all groups, an output that sums them). None gives a 1-element dummy
    with zero strides, so a kernel has one signature whether an optional operand is present or not."""
    if x is None:
        return np.zeros(1, dtype=dtype), np.zeros(ndim, dtype=np.int64)
    if x.dim() != ndim:
        raise ValueError(f"expected a {ndim}-d operand, got shape {tuple(x.shape)}")
    x = x.detach()
    span = 1 + sum((size - 1) * stride for size, stride in zip(x.shape, x.stride())) if x.numel() else 0
    flat = x.as_strided((span,), (1,), x.storage_offset()).numpy()
    return flat, np.array([0 if size == 1 else stride for size, stride in zip(x.shape, x.stride())],
                          dtype=np.int64)
