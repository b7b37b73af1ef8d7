"""Mixer speed and memory: forward+backward of one mixer layer, Mamba family vs attention.

  python tools/bench_mixers.py                       d 512, L in {512, 2304, 8192, 32768}
  python tools/bench_mixers.py --lengths 256 1024 --d-model 128 --timeout 60     (small, quick)

Batch 1, fp32, CPU unless CUDA is present. Each measurement runs in its own process: peak memory is
that run's resident-set growth; a run past the memory cap or the time limit is reported as OOM /
too slow rather than measured.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import common  # noqa: E402,F401  (sets the OpenMP wait policy before torch loads)
import torch  # noqa: E402

from tools.benchlib import MEMORY_LIMIT_GIB, fmt, measure, median_time, peak_rss_mib, rss_mib, worker_main  # noqa: E402

KINDS = {"mamba": ("mamba", {}), "vim": ("vim", {}), "dbm": ("dbm", {}),
         "attn global": ("attn", {"n_head": 8}), "attn window 19": ("attn", {"n_head": 8, "window_size": 19})}


def run_worker(spec):
    from common import build_mixer
    device = "cuda" if torch.cuda.is_available() else "cpu"
    kind, kw = KINDS[spec["name"]]
    torch.manual_seed(0)
    mixer = build_mixer(kind, spec["d_model"], **kw).to(device)
    mixer(torch.randn(1, 8, spec["d_model"], device=device)).sum().backward()  # compile / warm caches
    rss0 = rss_mib()
    x = torch.randn(1, spec["length"], spec["d_model"], device=device, requires_grad=True)

    def step():
        mixer(x).sum().backward()
        if device == "cuda":
            torch.cuda.synchronize()

    seconds = median_time(step, repeats=spec["repeats"], warmup=1)
    return {"seconds": seconds, "peak_mib": peak_rss_mib() - rss0}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker")
    parser.add_argument("--d-model", type=int, default=512)
    parser.add_argument("--lengths", type=int, nargs="*", default=[512, 2304, 8192, 32768])
    parser.add_argument("--timeout", type=float, default=300, help="seconds per measurement before 'too slow'")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.worker:
        return worker_main(run_worker)
    here = os.path.abspath(__file__)
    print(f"one mixer layer, forward+backward, batch 1, d_model {args.d_model}, fp32, "
          f"{'cuda' if torch.cuda.is_available() else f'cpu ({torch.get_num_threads()} threads)'}; "
          f"median of {args.repeats} after a warm-up; memory cap {MEMORY_LIMIT_GIB} GiB, time limit {args.timeout:.0f} s")
    header = "| mixer | " + " | ".join(f"L {n}: s / peak MiB" for n in args.lengths) + " |"
    print(header + "\n|" + " --- |" * (len(args.lengths) + 1))
    for name in KINDS:
        cells = []
        for length in args.lengths:
            r = measure(here, dict(name=name, d_model=args.d_model, length=length, repeats=args.repeats),
                        timeout=args.timeout)
            cells.append(f"{fmt(r, 'seconds')} / {fmt(r, 'peak_mib', 0)}" if "seconds" in r else r["status"])
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
