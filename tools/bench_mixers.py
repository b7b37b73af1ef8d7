"""Mixer speed and memory: forward+backward of one mixer layer, Mamba family vs attention.

  python tools/bench_mixers.py                       d 512, L in {512, 2304, 8192, 32768}
  python tools/bench_mixers.py --lengths 256 1024 --d-model 128 --timeout 60     (small, quick)
  python tools/bench_mixers.py --scan-backends auto torch --lengths 512 2304 8192 32768 65536   (GPU)

Batch 1, fp32, CPU unless CUDA is present. Each measurement runs in its own process: peak memory is
that run's resident-set growth (on CUDA: allocated GPU memory); a run past the memory cap or the time
limit is reported as OOM / too slow rather than measured. --scan-backends measures each Mamba-family
mixer once per selective-scan backend (`auto` is mamba-ssm's kernel on a GPU that has it, our numba
kernel on CPU; `torch` our any-device scan), so a GPU run compares the kernel, our torch scan and
attention side by side.
"""
import argparse
import os
import sys

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
    x = torch.randn(1, spec["length"], spec["d_model"], device=device, requires_grad=True)

    def step():
        mixer(x).sum().backward()
        if device == "cuda":
            torch.cuda.synchronize()

    seconds = median_time(step, repeats=spec["repeats"], warmup=1)
    return {"seconds": seconds, "peak_mib": memory.mib()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker")
    parser.add_argument("--d-model", type=int, default=512)
    parser.add_argument("--lengths", type=int, nargs="*", default=[512, 2304, 8192, 32768])
    parser.add_argument("--timeout", type=float, default=300, help="seconds per measurement before 'too slow'")
    parser.add_argument("--repeats", type=int, default=3)
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
    print(f"one mixer layer, forward+backward, batch 1, d_model {args.d_model}, fp32, {where}; "
          f"median of {args.repeats} after a warm-up; {memory}, time limit {args.timeout:.0f} s")
    unit, scale = ("ms", 1000) if device == "cuda" else ("s", 1)  # GPU steps take milliseconds
    header = "| mixer | " + " | ".join(f"L {n}: {unit} / peak MiB" for n in args.lengths) + " |"
    print(header + "\n|" + " --- |" * (len(args.lengths) + 1))
    rows = [(name, backend) for name, (kind, _) in KINDS.items()
            for backend in (["auto"] if kind == "attn" else args.scan_backends)]
    for name, backend in rows:
        cells = []
        for length in args.lengths:
            spec = dict(name=name, d_model=args.d_model, length=length, repeats=args.repeats, device=device,
                        scan_backend=backend)
            r = measure(here, spec, timeout=args.timeout)
            cells.append(f"{r['seconds'] * scale:.3f} / {fmt(r, 'peak_mib', 0)}" if "seconds" in r else r["status"])
        label = name if backend == "auto" else f"{name} ({backend} scan)"
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
