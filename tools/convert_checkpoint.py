"""Turn an upstream checkpoint into one tools/test.py and `load_from` read, checked against a config.

    python tools/convert_checkpoint.py CONFIG SRC DST

SRC: a plain state_dict (e.g. ASFormer's `epoch-120.model`), or a dict holding one under
`state_dict` / `model`; a DataParallel `module.` prefix is dropped. It is read with torch's
weights_only loader, so it must contain tensors only. Every key and shape must match the model
CONFIG builds: missing, unexpected and mismatched entries are listed in the error. DST is written
as {"state_dict": ..., "meta": {"source", "config"}}.
"""
import argparse
import os
import sys

import torch

# Run as a script: the repository root, not tools/, must lead sys.path.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common.engine import MODELS, load_config  # noqa: E402


def extract_state_dict(checkpoint, source: str) -> dict:
    for key in ("state_dict", "model"):
        if isinstance(checkpoint, dict) and isinstance(checkpoint.get(key), dict):
            checkpoint = checkpoint[key]
    if not isinstance(checkpoint, dict) or not all(torch.is_tensor(v) for v in checkpoint.values()):
        raise ValueError(f"{source}: expected a state_dict (names -> tensors)")
    return {k.removeprefix("module."): v for k, v in checkpoint.items()}


def check_compatible(state_dict: dict, model: torch.nn.Module, source: str) -> None:
    expected = model.state_dict()
    problems = [f"missing: {k}" for k in expected if k not in state_dict]
    problems += [f"unexpected: {k}" for k in state_dict if k not in expected]
    problems += [f"shape of {k}: {tuple(v.shape)} in the checkpoint, {tuple(expected[k].shape)} in the model"
                 for k, v in state_dict.items() if k in expected and v.shape != expected[k].shape]
    if problems:
        raise ValueError(f"{source} does not fit the model of the config:\n  " + "\n  ".join(problems))


def convert(config: str, src: str, dst: str) -> None:
    cfg = load_config(config)
    model = MODELS.build(cfg.model)
    state_dict = extract_state_dict(torch.load(src, map_location="cpu", weights_only=True), src)
    check_compatible(state_dict, model, src)
    model.load_state_dict(state_dict, strict=True)
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    torch.save(dict(state_dict=model.state_dict(), meta=dict(source=os.path.abspath(src), config=config)), dst)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", help="mmengine config whose model the checkpoint is for")
    parser.add_argument("src", help="upstream checkpoint")
    parser.add_argument("dst", help="converted checkpoint to write")
    args = parser.parse_args(argv)
    try:
        convert(args.config, args.src, args.dst)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f"error: {e}")
    print(f"wrote {args.dst}")


if __name__ == "__main__":
    main()
