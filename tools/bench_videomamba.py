"""ViViM against ViT joint space-time attention as the clip grows: forward+backward time and peak memory.

  python tools/bench_videomamba.py                                 8, 16, 32, 64 frames at 224 x 224, patch 16
  python tools/bench_videomamba.py --frames 8 16 --timeout 120                                     (quicker)

Both backbones are the toy configs' models widened to --embed-dims (default 96) at 224 px: ViT joint is mmaction2's
TimeSformer (attention_type "joint_space_time", --vit-depth blocks), ViViM has twice as many blocks (a ViM block
has about half the parameters of a Transformer block), so the two have about the same size. One step = forward of
a batch of one clip, backward of the mean feature; fp32; CUDA when present, else CPU. Each measurement runs in its
own process (tools/benchlib.py): on CUDA peak memory is the allocator's peak, on CPU the resident-set growth.
Tokens per clip = frames x 196 (+1 class token per frame for ViViM, +1 for ViT). The last lines give ViT / ViViM
ratios per clip length and the first token count where ViViM is the cheaper one.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import common  # noqa: E402,F401  (sets the OpenMP wait policy before torch loads)
import torch  # noqa: E402

from tools.benchlib import (MEMORY_LIMIT_GIB, fmt, measure, median_time, peak_rss_mib, rss_mib,  # noqa: E402
                           start_peak_rss, worker_main)

IMG, PATCH = 224, 16


def backbone_cfg(kind: str, frames: int, dims: int, vit_depth: int) -> dict:
    if kind == "ViViM":
        return dict(type="ViViM", num_frames=frames, img_size=IMG, patch_size=PATCH, embed_dims=dims,
                    depth=2 * vit_depth, drop_path_rate=0.0)
    return dict(type="TimeSformer", num_frames=frames, img_size=IMG, patch_size=PATCH, embed_dims=dims,
                num_heads=max(1, dims // 32), num_transformer_layers=vit_depth, attention_type="joint_space_time")


def run_worker(spec):
    import videomamba_st  # noqa: F401  (mmaction2 and the ViViM backbone)
    from mmengine.registry import MODELS
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    cfg = dict(backbone_cfg(spec["kind"], spec["frames"], spec["dims"], spec["vit_depth"]), _scope_="mmaction")
    model = MODELS.build(cfg).to(device)
    x = torch.randn(1, 3, spec["frames"], IMG, IMG, device=device)

    def step():
        model.zero_grad(set_to_none=True)
        model(x).mean().backward()
        if device == "cuda":
            torch.cuda.synchronize()

    rss0 = rss_mib()  # model and input built: the step's memory is what comes on top
    step()  # warm-up: kernel compilation, allocator
    start_peak_rss()  # the peak from here on: JIT compilation during the warm-up is not the step's
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    seconds = median_time(step, repeats=spec["repeats"], warmup=0)
    peak = torch.cuda.max_memory_allocated() / 2 ** 20 if device == "cuda" else peak_rss_mib() - rss0
    return {"seconds": seconds, "peak_mib": peak, "params_m": sum(p.numel() for p in model.parameters()) / 1e6}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker")
    parser.add_argument("--frames", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--embed-dims", type=int, default=96)
    parser.add_argument("--vit-depth", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=600, help="seconds per measurement before 'too slow'")
    args = parser.parse_args()
    if args.worker:
        return worker_main(run_worker)
    here = os.path.abspath(__file__)
    device = f"cuda ({torch.cuda.get_device_name()})" if torch.cuda.is_available() else \
        f"cpu ({torch.get_num_threads()} threads)"
    print(f"backbone forward+backward, batch 1, {IMG} x {IMG}, patch {PATCH}, width {args.embed_dims}, ViT "
          f"{args.vit_depth} blocks / ViViM {2 * args.vit_depth}, fp32, {device}; median of {args.repeats} after "
          f"a warm-up; memory cap {MEMORY_LIMIT_GIB} GiB")
    print("| frames | tokens | backbone | params (M) | s / step | peak MiB |\n"
          "| ---: | ---: | --- | ---: | ---: | ---: |")
    results = {}
    for frames in args.frames:
        tokens = frames * (IMG // PATCH) ** 2
        for kind in ("ViT joint", "ViViM"):
            spec = dict(kind="ViViM" if kind == "ViViM" else "ViT", frames=frames, dims=args.embed_dims,
                        vit_depth=args.vit_depth, repeats=args.repeats)
            r = results[frames, kind] = measure(here, spec, timeout=args.timeout)
            print(f"| {frames} | {tokens} | {kind} | {fmt(r, 'params_m', 2)} | {fmt(r, 'seconds')} | "
                  f"{fmt(r, 'peak_mib', 0)} |", flush=True)
    print("\nViT joint / ViViM (> 1: ViViM is cheaper)\n| frames | tokens | time ratio | memory ratio |\n"
          "| ---: | ---: | ---: | ---: |")
    crossing = {"seconds": None, "peak_mib": None}
    for frames in args.frames:
        vit, vim = results[frames, "ViT joint"], results[frames, "ViViM"]
        cells = []
        for key in ("seconds", "peak_mib"):
            if key in vit and key in vim and vim[key] > 0:
                ratio = vit[key] / vim[key]
                cells.append(f"{ratio:.2f}")
            elif key in vim:  # ViT ran out of time or memory where ViViM did not
                ratio, cells = float("inf"), cells + [f"ViT {vit.get('status', 'n/a')}"]
            else:
                ratio, cells = None, cells + ["n/a"]
            if ratio is not None and ratio > 1 and crossing[key] is None:
                crossing[key] = frames * (IMG // PATCH) ** 2
        print(f"| {frames} | {frames * (IMG // PATCH) ** 2} | {cells[0]} | {cells[1]} |")
    for key, label in (("seconds", "time"), ("peak_mib", "peak memory")):
        where = f"from {crossing[key]} tokens on" if crossing[key] else "at none of these lengths"
        print(f"ViViM is cheaper in {label} {where}")


if __name__ == "__main__":
    main()
