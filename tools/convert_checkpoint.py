"""Turn an upstream checkpoint into one that tools/test.py and `--load-from` read strictly.

    python tools/convert_checkpoint.py CONFIG SRC DST [--entry NAME] [--trust-pickle]

SRC is read with torch's weights_only loader (tensors, numbers, strings, containers, and the
argparse.Namespace many releases store their options in); `--trust-pickle` unpickles anything, for
a file you trust (releases that saved numpy or other objects). The task the config belongs to maps the release's layout to its model
(TaskSpec.convert_checkpoint: key names, shapes, EMA copies, the `module.` prefix); `--entry NAME`
takes the weights from that entry of SRC instead (e.g. `state_dict` for a non-EMA copy). Every key and
shape must then fit the model CONFIG builds, or the error lists the mismatches. DST is written
atomically as {"state_dict": ..., "meta": {"source", "config"}}.
"""
import argparse
import os
import sys

# Run as a script: the repository root, not tools/, must lead sys.path.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common.engine import (MODELS, CheckpointError, check_finite_weights, commit_file, load_config,  # noqa: E402
                           model_state_dict, read_checkpoint, state_dict_mismatches, task_of_config)
from common.engine.checkpoint import temporary_name  # noqa: E402
import torch  # noqa: E402


def convert(config: str, src: str, dst: str, entry: str | None = None, trust_pickle: bool = False) -> dict:
    cfg = load_config(config)
    task = task_of_config(cfg)
    if trust_pickle:
        checkpoint = torch.load(src, map_location="cpu", weights_only=False)
    else:
        with torch.serialization.safe_globals([argparse.Namespace]):  # UniVTG, Vim, ViViM keep their args
            checkpoint = read_checkpoint(src, remedy="if you trust the file, convert it with --trust-pickle")
    if entry is not None:
        if entry not in checkpoint:
            raise CheckpointError(f"{src} has no entry {entry!r}; it has {sorted(map(str, checkpoint))}")
        checkpoint = {"state_dict": checkpoint[entry]}
    try:
        state = (task.convert_checkpoint or (lambda c, _: model_state_dict(c)))(checkpoint, cfg)
    except ValueError as err:  # the task's converter knows the contents, not the file: name it
        raise CheckpointError(f"{src}: {err}") from None
    check_finite_weights(state, src)
    model = MODELS.build(cfg.model)
    problems = state_dict_mismatches(state, model)
    if problems:
        raise CheckpointError(f"{src} does not fit the model of {config} ({len(problems)} mismatches):\n  "
                              + "\n  ".join(problems))
    model.load_state_dict(state, strict=True)
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    partial = os.path.join(os.path.dirname(os.path.abspath(dst)), temporary_name(os.path.basename(dst)))
    try:
        torch.save(dict(state_dict=model.state_dict(), meta=dict(source=os.path.abspath(src), config=config)),
                   partial)
        commit_file(partial, dst)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return state


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", help="mmengine config whose model the checkpoint is for")
    parser.add_argument("src", help="upstream checkpoint")
    parser.add_argument("dst", help="converted checkpoint to write")
    parser.add_argument("--entry", help="the entry of SRC holding the weights (default: the task decides)")
    parser.add_argument("--trust-pickle", action="store_true",
                        help="unpickle SRC without weights_only (only for a file you trust)")
    args = parser.parse_args(argv)
    try:
        convert(args.config, args.src, args.dst, args.entry, args.trust_pickle)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f"error: {e}")
    print(f"wrote {args.dst}")


if __name__ == "__main__":
    main()
