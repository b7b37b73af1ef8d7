"""Training-step time and peak memory of the ActionFormer and ActionMamba backbones, side by side.

  python tools/bench_actionmamba.py                        THUMOS14 shape: batch 2, 2304 steps, I3D 2048-d
  python tools/bench_actionmamba.py --length 576 --timeout 120                       (smaller, quicker)

One step = forward of the backbone built by each THUMOS14 config (embedding + 6-level pyramid),
backward of the sum of its level outputs, AdamW update. fp32, CUDA when present, else CPU. Each
measurement runs in its own process (tools/benchlib.py): on CUDA peak memory is the allocator's
peak, on CPU the resident set's peak over the timed steps above its size before the warm-up step
(what the step needs beyond the built backbone and input, optimizer state included). "x ActionFormer":
step time over ActionFormer's, same run.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import common  # noqa: E402,F401  (sets the OpenMP wait policy before torch loads)
import torch  # noqa: E402

from tools.benchlib import (MEMORY_LIMIT_GIB, fmt, measure, median_time, peak_rss_mib, rss_mib,  # noqa: E402
                           start_peak_rss, worker_main)

CONFIGS = {
    "ActionFormer (window 19)": "actionmamba/configs/thumos14_i3d_actionformer.py",
    "ActionMamba DBM": "actionmamba/configs/thumos14_i3d_dbm.py",
    "ActionMamba ViM": "actionmamba/configs/thumos14_i3d_vim.py",
    "ActionMamba Mamba (causal)": "actionmamba/configs/thumos14_i3d_mamba.py",
}


def run_worker(spec):
    from common.engine import MODELS, load_config
    device = "cuda" if torch.cuda.is_available() else "cpu"
    cfg = load_config(spec["config"])  # imports actionmamba (registers the backbones)
    torch.manual_seed(0)
    backbone = MODELS.build(cfg.model.backbone, default_args=dict(max_seq_len=cfg.model.max_seq_len)).to(device)
    optimizer = torch.optim.AdamW(backbone.parameters(), lr=1e-4)
    x = torch.randn(spec["batch"], cfg.model.backbone.in_channels, spec["length"], device=device)
    mask = torch.ones(spec["batch"], 1, spec["length"], dtype=torch.bool, device=device)

    def step():
        optimizer.zero_grad(set_to_none=True)
        sum(feats.mean() for feats, _ in backbone(x, mask)).backward()
        optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()

    rss0 = rss_mib()  # backbone, optimizer and input built: the step's memory is what comes on top
    step()  # warm-up: kernel compilation, optimizer state (the state is kept: part of the step's memory)
    start_peak_rss()  # the peak from here on: JIT compilation during the warm-up is not the step's
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    seconds = median_time(step, repeats=spec["repeats"], warmup=0)
    peak = torch.cuda.max_memory_allocated() / 2 ** 20 if device == "cuda" else peak_rss_mib() - rss0
    return {"seconds": seconds, "peak_mib": peak,
            "params_m": sum(p.numel() for p in backbone.parameters()) / 1e6}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--length", type=int, default=2304)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600, help="seconds per measurement before 'too slow'")
    args = parser.parse_args()
    if args.worker:
        return worker_main(run_worker)
    here = os.path.abspath(__file__)
    repo = os.path.dirname(os.path.dirname(here))
    device = f"cuda ({torch.cuda.get_device_name()})" if torch.cuda.is_available() else \
        f"cpu ({torch.get_num_threads()} threads)"
    print(f"backbone training step (forward, backward, AdamW), batch {args.batch}, {args.length} steps, fp32, "
          f"{device}; median of {args.repeats} after a warm-up; memory cap {MEMORY_LIMIT_GIB} GiB")
    print("| backbone | params (M) | s / step | x ActionFormer | peak MiB |\n| --- | ---: | ---: | ---: | ---: |")
    baseline = None
    for name, config in CONFIGS.items():
        r = measure(here, dict(config=os.path.join(repo, config), batch=args.batch, length=args.length,
                               repeats=args.repeats), timeout=args.timeout)
        baseline = r.get("seconds") if baseline is None else baseline  # the first row is ActionFormer
        ratio = f"{r['seconds'] / baseline:.2f}" if "seconds" in r and baseline else "n/a"
        print(f"| {name} | {fmt(r, 'params_m', 2)} | {fmt(r, 'seconds')} | {ratio} | {fmt(r, 'peak_mib', 0)} |",
              flush=True)


if __name__ == "__main__":
    main()
