"""Selective-scan speed: every backend side by side with two reference approaches, one run.

  python tools/bench_scan.py                 full run (includes ~4 min of upstream-style reference)
  python tools/bench_scan.py --skip-ref      without autograd through the reference loop
  python tools/bench_scan.py --quick         small sizes, for a smoke run
  python tools/bench_scan.py --gpu           CUDA only: mamba-ssm's kernel vs our torch backend over L

Shape: batch 2, dim 512, L 2304, N 16, variable B/C, z, D, delta_bias, softplus (ActionMamba THUMOS).
References (written here, not part of the library):
  ref+autograd  upstream selective_scan_ref's approach: materialise exp(delta A) and delta B u as
                (b, d, L, N), loop over L slicing them, autograd through the loop
  pscan         a Blelloch log-depth parallel scan in plain PyTorch with a custom backward (mamba.py's
                approach)
floor         the scan's arithmetic alone (cpu backend, fp32): per state element and forward+backward, the two
              exps (forward, backward's recomputation) and the 17 multiplies / multiply-adds our kernel does,
              on data that stays in registers and L1, over the same (batch, channel-block) tasks and threads;
              "x floor" is how far the cpu backend is from it
Then the fast backend over L in {1k, 4k, 16k, 64k}: time and peak memory, which grow linearly.
With --gpu (a CUDA machine), instead: the cuda backend (mamba-ssm's fused kernel) and our torch backend
on CUDA tensors over the same L, forward and forward+backward, peak allocated GPU memory.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import common  # noqa: E402,F401  (sets the OpenMP wait policy before torch loads)
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from tools.benchlib import PeakMemory, fmt, measure, median_time, worker_main  # noqa: E402


def make_inputs(batch, dim, length, n, device="cpu"):
    g = torch.Generator().manual_seed(0)
    x = dict(u=torch.randn(batch, dim, length, generator=g), delta=torch.randn(batch, dim, length, generator=g) * 0.5,
             A=-torch.arange(1, n + 1.0).repeat(dim, 1), B=torch.randn(batch, n, length, generator=g),
             C=torch.randn(batch, n, length, generator=g), D=torch.ones(dim),
             z=torch.randn(batch, dim, length, generator=g), delta_bias=torch.randn(dim, generator=g) * 0.5)
    return {k: v.to(device).requires_grad_(True) for k, v in x.items()}


def upstream_style_ref(u, delta, A, B, C, D, z, delta_bias):
    delta = F.softplus(delta + delta_bias[:, None])
    deltaA = torch.exp(torch.einsum("bdl,dn->bdln", delta, A))
    deltaB_u = torch.einsum("bdl,bnl,bdl->bdln", delta, B, u)
    h = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])
    ys = []
    for t in range(u.shape[2]):
        h = deltaA[:, :, t] * h + deltaB_u[:, :, t]
        ys.append(torch.einsum("bdn,bn->bd", h, C[:, :, t]))
    return (torch.stack(ys, dim=2) + D[:, None] * u) * F.silu(z)


def blelloch(a, b):
    """Inclusive scan h_t = a_t h_t-1 + b_t over dim 2 of (b, d, L, n), L a power of two, in place."""
    length = a.shape[2]
    step = 1
    while step < length:  # up-sweep: each 2*step block's last element gets the block's total
        a[:, :, 2 * step - 1::2 * step], b[:, :, 2 * step - 1::2 * step] = (
            a[:, :, 2 * step - 1::2 * step] * a[:, :, step - 1::2 * step],
            a[:, :, 2 * step - 1::2 * step] * b[:, :, step - 1::2 * step] + b[:, :, 2 * step - 1::2 * step])
        step *= 2
    step //= 4
    while step >= 1:  # down-sweep: fill the elements between the block ends
        right, left = slice(3 * step - 1, None, 2 * step), slice(2 * step - 1, length - step, 2 * step)
        a[:, :, right], b[:, :, right] = a[:, :, right] * a[:, :, left], a[:, :, right] * b[:, :, left] + b[:, :, right]
        step //= 2
    return b


class PScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b):
        length = a.shape[2]
        padded = 1 << (length - 1).bit_length()
        a_p = F.pad(a, (0, 0, 0, padded - length), value=1.0)
        h = blelloch(a_p.clone(), F.pad(b, (0, 0, 0, padded - length)))[:, :, :length]
        ctx.save_for_backward(a, h)
        return h

    @staticmethod
    def backward(ctx, grad_h):
        a, h = ctx.saved_tensors
        a_next = torch.cat([a[:, :, 1:], torch.zeros_like(a[:, :, :1])], dim=2)
        lam = PScan.forward(ctx, a_next.flip(2), grad_h.flip(2)).flip(2)
        h_prev = torch.cat([torch.zeros_like(h[:, :, :1]), h[:, :, :-1]], dim=2)
        return lam * h_prev, lam


def pscan_selective_scan(u, delta, A, B, C, D, z, delta_bias):
    delta = F.softplus(delta + delta_bias[:, None]).unsqueeze(-1)
    h = PScan.apply(torch.exp(delta * A[:, None]), delta * B.transpose(1, 2)[:, None] * u.unsqueeze(-1))
    return ((h * C.transpose(1, 2)[:, None]).sum(-1) + D[:, None] * u) * F.silu(z)


def scan_floor(batch, dim, length, n):
    """Seconds of the floor kernel (see the docstring above): the cpu backend's exp (cpu_kernels.vexp),
    lanes, tasks and threads, every value needed so that nothing is optimised away."""
    import numba
    import numpy as np

    from common.ops.cpu_kernels import JIT, LANES, n_slices, vexp

    @numba.njit(parallel=True, **JIT)
    def floor(dt, A, A2, tasks, length, out):
        n_state = A.shape[0]
        for task in numba.prange(tasks):
            h = np.zeros((n_state, LANES), dtype=np.float32)
            h2 = np.zeros((n_state, LANES), dtype=np.float32)
            dh = np.zeros((n_state, LANES), dtype=np.float32)
            dA = np.zeros((n_state, LANES), dtype=np.float32)
            acc = np.zeros((4, LANES), dtype=np.float32)
            for i in range(length):
                row = dt[i % dt.shape[0]]
                for n in range(n_state):  # three constants: no product is shared between the passes
                    b, b2, b3 = np.float32(n + 0.5), np.float32(n + 0.25), np.float32(n + 0.75)
                    for w in range(LANES):
                        x = row[w]
                        a = vexp(x * A[n, w])                       # forward: 4
                        h[n, w] = a * h[n, w] + x * b
                        acc[0, w] += h[n, w] * b
                        a2 = vexp(x * A2[n, w])                     # backward's recomputation: 4
                        h2[n, w] = a2 * h2[n, w] + x * b2
                        acc[1, w] += h2[n, w] * b2
                        dh_n = dh[n, w] + x * b3                    # adjoint: 9
                        acc[2, w] += x * h2[n, w]
                        acc[3, w] += dh_n * x + dh_n * b
                        da = dh_n * h[n, w] * a
                        dA[n, w] += da * x + da * A[n, w]
                        dh[n, w] = dh_n * a2
            for w in range(LANES):
                out[task, w] = acc[0, w] + acc[1, w] + acc[2, w] + acc[3, w] + dA[0, w] + dh[0, w]

    g = np.random.default_rng(0)
    dt = g.uniform(0.01, 0.1, (64, LANES)).astype(np.float32)
    A = -g.uniform(1, 16, (n, LANES)).astype(np.float32)
    A2 = A * np.float32(1.001)
    # the scan's tasks: batch x slices, each walking its share of the channel blocks
    blocks = -(-dim // LANES)
    tasks = batch * n_slices(batch, dim)
    out = np.zeros((tasks, LANES), dtype=np.float32)
    floor(dt, A, A2, tasks, 2, out)  # compile
    return median_time(lambda: floor(dt, A, A2, tasks, length * blocks * batch // tasks, out), 3, 1)


def run_worker(spec):
    from common import selective_scan
    if spec["method"] == "floor":
        return {"fwdbwd": scan_floor(spec["batch"], spec["dim"], spec["length"], spec["n"])}
    if spec["method"] == "cpu":  # compile first: the JIT's own memory is not the scan's
        selective_scan(**make_inputs(1, 2, 3, 2), delta_softplus=True, backend="cpu").sum().backward()
    memory = PeakMemory(spec.get("device", "cpu"))
    x = make_inputs(spec["batch"], spec["dim"], spec["length"], spec["n"], spec.get("device", "cpu"))
    method = spec["method"]
    if method == "ref+autograd":
        fn = lambda: upstream_style_ref(**x)  # noqa: E731
    elif method == "pscan":
        fn = lambda: pscan_selective_scan(**x)  # noqa: E731
    else:
        fn = lambda: selective_scan(**x, delta_softplus=True, backend=method)  # noqa: E731
    sync = torch.cuda.synchronize if spec.get("device") == "cuda" else (lambda: None)

    def forward():
        with torch.no_grad():
            fn()
        sync()

    def forward_backward():
        fn().sum().backward()
        sync()

    repeats, warmup = spec["repeats"], spec["warmup"]
    result = {"fwd": median_time(forward, repeats, warmup),
              "fwdbwd": median_time(forward_backward, repeats, warmup)}
    result["peak_mib"] = memory.mib()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker")
    parser.add_argument("--skip-ref", action="store_true", help="skip autograd through the reference loop")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--lengths", type=int, nargs="*", default=[1024, 4096, 16384, 65536])
    parser.add_argument("--gpu", action="store_true", help="CUDA only: the cuda vs torch backend over --lengths")
    args = parser.parse_args()
    if args.worker:
        return worker_main(run_worker)
    here = os.path.abspath(__file__)
    if args.gpu:
        return gpu_over_length(here, args.lengths)
    shape = dict(batch=2, dim=64 if args.quick else 512, length=256 if args.quick else 2304, n=16)
    methods = ["cpu", "floor", "torch", "pscan"] + ([] if args.skip_ref else ["ref+autograd"])
    if torch.cuda.is_available():
        methods += ["cuda@cuda", "torch@cuda"]
    print(f"selective scan, batch {shape['batch']}, dim {shape['dim']}, L {shape['length']}, N {shape['n']}, "
          f"variable B/C, z, D, delta_bias, softplus; {torch.get_num_threads()} threads; median of 3 after a warm-up "
          f"(ref+autograd: one run)")
    results = {}
    for method in methods:
        name, _, device = method.partition("@")
        slow = name == "ref+autograd"
        spec = dict(shape, method=name, device=device or "cpu", repeats=1 if slow else 3, warmup=0 if slow else 1)
        results[method] = measure(here, spec, timeout=1800 if slow else 600)
        print(f"  measured {method}: {results[method]}", flush=True)
    fast = results["cpu"]
    print("\n| method | forward (s) | forward+backward (s) | fwd+bwd: x slower than cpu backend |")
    print("| --- | ---: | ---: | ---: |")
    for method, r in results.items():
        ratio = f"{r['fwdbwd'] / fast['fwdbwd']:.1f}" if "fwdbwd" in r and "fwdbwd" in fast else "n/a"
        print(f"| {method} | {fmt(r, 'fwd')} | {fmt(r, 'fwdbwd')} | {ratio} |")
    if "fwdbwd" in fast and "fwdbwd" in results["floor"]:
        print(f"\ncpu backend forward+backward / floor: {fast['fwdbwd'] / results['floor']['fwdbwd']:.2f}x")

    lengths = [256, 1024] if args.quick else args.lengths
    print(f"\ncpu backend over L (batch 2, dim {shape['dim']}, N 16): time and peak memory")
    print("| L | forward (s) | forward+backward (s) | peak MiB | s per 1k steps | MiB per 1k steps |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for length in lengths:
        r = measure(here, dict(shape, length=length, method="cpu", device="cpu", repeats=3, warmup=1), timeout=900)
        per_k = (f"{r['fwdbwd'] / length * 1000:.3f} | {r['peak_mib'] / length * 1000:.1f}" if "fwdbwd" in r
                 else "n/a | n/a")
        print(f"| {length} | {fmt(r, 'fwd')} | {fmt(r, 'fwdbwd')} | {fmt(r, 'peak_mib', 0)} | {per_k} |", flush=True)


def gpu_over_length(here, lengths, repeats=10):
    """mamba-ssm's kernel (cuda backend) vs our torch backend, both on CUDA tensors, over L."""
    if not torch.cuda.is_available():
        raise SystemExit("--gpu needs a CUDA device")
    print(f"selective scan on {torch.cuda.get_device_name()}, batch 2, dim 512, N 16, variable B/C, z, D, "
          f"delta_bias, softplus, fp32; median of {repeats} after a warm-up; peak MiB: allocated GPU memory")
    print("| L | cuda fwd (ms) | cuda fwd+bwd (ms) | cuda peak MiB | torch fwd (ms) | torch fwd+bwd (ms) "
          "| torch peak MiB | fwd+bwd: torch / cuda |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for length in lengths:
        r = {method: measure(here, dict(batch=2, dim=512, length=length, n=16, method=method, device="cuda",
                                        repeats=repeats, warmup=1), timeout=600)
             for method in ("cuda", "torch")}
        cells = []
        for method in ("cuda", "torch"):
            cells += [fmt_ms(r[method], "fwd"), fmt_ms(r[method], "fwdbwd"), fmt(r[method], "peak_mib", 0)]
        ratio = (f"{r['torch']['fwdbwd'] / r['cuda']['fwdbwd']:.1f}" if all("fwdbwd" in v for v in r.values())
                 else "n/a")
        print(f"| {length} | " + " | ".join(cells) + f" | {ratio} |", flush=True)


def fmt_ms(result, key):
    return f"{result[key] * 1000:.2f}" if key in result else result.get("status", "n/a")


if __name__ == "__main__":
    main()
