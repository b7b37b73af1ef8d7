"""Mixer speed and memory: forward+backward of one mixer layer, Mamba family vs attention.

  python tools/bench_mixers.py                       d 512, L in {512, 2304, 8192, 32768}
  python tools/bench_mixers.py --lengths 256 1024 --d-model 128 --timeout 60     (small, quick)
  python tools/bench_mixers.py --scan-backends auto torch --lengths 512 2304 8192 32768 65536   (GPU)
  python tools/bench_mixers.py --profile --batch 2 --lengths 2304      where a Mamba mixer's time goes

Batch 1, fp32, CPU unless CUDA is present. Each measurement runs in its own process: peak memory is
that run's resident-set growth (on CUDA: allocated GPU memory); a run past the memory cap or the time
limit is reported as OOM / too slow rather than measured. --scan-backends measures each Mamba-family
mixer once per selective-scan backend (`auto` is mamba-ssm's kernel on a GPU that has it, our numba
kernel on CPU; `torch` our any-device scan), so a GPU run compares the kernel, our torch scan and
attention side by side. "/ attn w19" is the step time over window-19 attention's at the same length.

--profile: instead, each Mamba-family mixer's forward+backward under torch.profiler (the first length,
--batch, median-of-repeats steps profiled after a warm-up), self time per category: matmuls, the scan
and conv kernels (ours or mamba-ssm's, forward and backward), layout copies (copy_, cat, flip, gather,
index: what transposes and reversals around the kernels cost), everything else.
"""
import argparse
import collections
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import common  # noqa: E402,F401  (sets the OpenMP wait policy before torch loads)
import torch  # noqa: E402

from tools.benchlib import MEMORY_LIMIT_GIB, PeakMemory, fmt, measure, median_time, worker_main  # noqa: E402

KINDS = {"mamba": ("mamba", {}), "vim": ("vim", {}), "dbm": ("dbm", {}),
         "attn global": ("attn", {"n_head": 8}), "attn window 19": ("attn", {"n_head": 8, "window_size": 19})}


def run_worker(spec):
    from common import build_mixer
    device = spec["device"]
    kind, kw = KINDS[spec["name"]]
    if kind != "attn":
        kw = dict(kw, scan_backend=spec["scan_backend"])
    torch.manual_seed(0)
    mixer = build_mixer(kind, spec["d_model"], **kw).to(device)
    mixer(torch.randn(1, 8, spec["d_model"], device=device)).sum().backward()  # compile / warm caches
    memory = PeakMemory(device)
    x = torch.randn(spec["batch"], spec["length"], spec["d_model"], device=device, requires_grad=True)

    def step():
        mixer(x).sum().backward()
        if device == "cuda":
            torch.cuda.synchronize()

    if spec.get("profile"):
        return profile(step, spec["repeats"])
    seconds = median_time(step, repeats=spec["repeats"], warmup=1)
    return {"seconds": seconds, "peak_mib": memory.mib()}


CATEGORIES = (("matmuls", ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")),
              ("scan kernel", ("SelectiveScan",)),
              ("conv kernel", ("CausalConv", "aten::_conv_depthwise2d", "aten::convolution_backward",
                               "aten::mkldnn_convolution", "aten::thnn_conv2d", "aten::slow_conv")),
              ("layout copies", ("aten::copy_", "aten::cat", "aten::flip", "aten::gather", "aten::scatter",
                                 "aten::index", "aten::contiguous", "aten::clone")))


def category(op):
    for name, prefixes in CATEGORIES:
        if op.startswith(prefixes):
            return name
    return "other"


def profile(step, repeats):
    """Seconds per step, self seconds per category and the five ops with the most self time, averaged
    over `repeats` profiled steps."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile
    step()
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        for _ in range(repeats):
            step()
        seconds = (time.perf_counter() - start) / repeats
    per_op = collections.Counter()
    for event in prof.key_averages():
        per_op[event.key] += event.self_cpu_time_total / 1e6 / repeats
    per_category = collections.Counter()
    for op, self_s in per_op.items():
        per_category[category(op)] += self_s
    return {"seconds": seconds, "categories": dict(per_category), "top": per_op.most_common(5)}


def print_profiles(here, args, device, where):
    length = args.lengths[0]
    print(f"profile: one mixer layer, forward+backward, batch {args.batch}, d_model {args.d_model}, L {length}, "
          f"fp32, {where}; {args.repeats} profiled steps after a warm-up; self time per step")
    names = [name for name, (kind, _) in KINDS.items() if kind != "attn"]
    print("| mixer | step (s) | " + " | ".join(f"{c} (s, share)" for c, _ in CATEGORIES) + " | other (s, share) |")
    print("| --- | ---: |" + " ---: |" * (len(CATEGORIES) + 1))
    tops = {}
    for name in names:
        for backend in args.scan_backends:
            spec = dict(name=name, d_model=args.d_model, length=length, batch=args.batch, repeats=args.repeats,
                        device=device, scan_backend=backend, profile=True)
            r = measure(here, spec, timeout=args.timeout)
            label = name if backend == "auto" else f"{name} ({backend} scan)"
            if "seconds" not in r:
                print(f"| {label} | {r['status']} |")
                continue
            cells = [f"{r['categories'].get(c, 0.0):.3f}, {r['categories'].get(c, 0.0) / r['seconds']:.0%}"
                     for c in [c for c, _ in CATEGORIES] + ["other"]]
            print(f"| {label} | {r['seconds']:.3f} | " + " | ".join(cells) + " |", flush=True)
            tops[label] = r["top"]
    print("\nops with the most self time (s per step):")
    for label, top in tops.items():
        print(f"  {label}: " + ", ".join(f"{op} {s:.3f}" for op, s in top))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker")
    parser.add_argument("--d-model", type=int, default=512)
    parser.add_argument("--lengths", type=int, nargs="*", default=[512, 2304, 8192, 32768])
    parser.add_argument("--timeout", type=float, default=300, help="seconds per measurement before 'too slow'")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="where each Mamba mixer's time goes (first length)")
    parser.add_argument("--scan-backends", nargs="+", default=["auto"], choices=["auto", "cuda", "cpu", "torch"],
                        help="measure each Mamba-family mixer with each of these selective-scan backends")
    args = parser.parse_args()
    if args.worker:
        return worker_main(run_worker)
    here = os.path.abspath(__file__)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    where, memory = ((f"cuda ({torch.cuda.get_device_name()})", "peak memory: allocated GPU memory")
                     if device == "cuda" else
                     (f"cpu ({torch.get_num_threads()} threads)", f"memory cap {MEMORY_LIMIT_GIB} GiB"))
    if args.profile:
        return print_profiles(here, args, device, where)
    print(f"one mixer layer, forward+backward, batch {args.batch}, d_model {args.d_model}, fp32, {where}; "
          f"median of {args.repeats} after a warm-up; {memory}, time limit {args.timeout:.0f} s")
    unit, scale = ("ms", 1000) if device == "cuda" else ("s", 1)  # GPU steps take milliseconds
    header = "| mixer | " + " | ".join(f"L {n}: {unit} / peak MiB / attn w19" for n in args.lengths) + " |"
    print(header + "\n|" + " --- |" * (len(args.lengths) + 1))
    # window attention first: the other rows' ratios refer to it
    rows = [(name, backend) for name, (kind, _) in sorted(KINDS.items(), key=lambda kv: kv[0] != "attn window 19")
            for backend in (["auto"] if kind == "attn" else args.scan_backends)]
    window = {}
    for name, backend in rows:
        cells = []
        for length in args.lengths:
            spec = dict(name=name, d_model=args.d_model, length=length, batch=args.batch, repeats=args.repeats,
                        device=device, scan_backend=backend)
            r = measure(here, spec, timeout=args.timeout)
            if name == "attn window 19":
                window[length] = r.get("seconds")
            ratio = f"{r['seconds'] / window[length]:.2f}" if "seconds" in r and window[length] else "n/a"
            cells.append(f"{r['seconds'] * scale:.3f} / {fmt(r, 'peak_mib', 0)} / {ratio}" if "seconds" in r
                         else r["status"])
        label = name if backend == "auto" else f"{name} ({backend} scan)"
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
