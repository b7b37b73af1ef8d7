"""Params and FLOPs (fvcore, one multiply-add = 1 flop, the selective scan counted; see common/flops.py).

  python tools/flops.py CONFIG [CONFIG ...]         each config's model, on its task's example input
  python tools/flops.py --mixers [--d-model 512] [--length 2304] [--batch 1]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from common import build_mixer  # noqa: E402
from common.flops import count_flops  # noqa: E402

MIXER_KINDS = [("mamba", {}), ("vim", {}), ("dbm", {}), ("attn", {"n_head": 8}),
               ("attn", {"n_head": 8, "window_size": 19})]


def mixer_label(kind, kw):
    return f"attn (window {kw['window_size']})" if "window_size" in kw else ("attn (global)" if kind == "attn" else kind)


def params_m(model):
    return sum(p.numel() for p in model.parameters()) / 1e6


def mixer_rows(d_model, length, batch):
    x = torch.randn(batch, length, d_model)
    for kind, kw in MIXER_KINDS:
        mixer = build_mixer(kind, d_model, **kw)
        yield mixer_label(kind, kw), params_m(mixer), count_flops(mixer, (x,)) / 1e9


def config_rows(paths):
    from common.engine import MODELS, load_config, task_of_config
    for path in paths:
        cfg = load_config(path)
        model = MODELS.build(cfg.model)
        yield path, params_m(model), count_flops(model, task_of_config(cfg).flops_inputs(cfg)) / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("configs", nargs="*")
    parser.add_argument("--mixers", action="store_true", help="the mixers of common.build_mixer")
    parser.add_argument("--d-model", type=int, default=512)
    parser.add_argument("--length", type=int, default=2304)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    if not args.mixers and not args.configs:
        parser.error("give CONFIG paths or --mixers")
    if args.mixers:
        print(f"mixers at batch {args.batch}, L {args.length}, d_model {args.d_model}")
        rows = mixer_rows(args.d_model, args.length, args.batch)
    else:
        rows = config_rows(args.configs)
    print("| model | params (M) | GFLOPs |\n| --- | ---: | ---: |")
    for name, params, gflops in rows:
        print(f"| {name} | {params:.3f} | {gflops:.2f} |")


if __name__ == "__main__":
    main()
