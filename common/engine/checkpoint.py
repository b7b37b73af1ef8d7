"""What a checkpoint holds and how it reaches the disk.

Two guarantees, both needed for runs that are killed and resumed:
- files appear whole or not at all (`commit_file`, `atomic_write_text`): a write goes to a temporary
  file in the same directory, is fsynced, and is renamed over the target (atomic on POSIX);
- the contents are plain (`to_plain`): tensors, numbers, strings, bytes, None, and dicts / lists /
  tuples of them, which is exactly what `torch.load` reads with its `weights_only=True` default
  (torch >= 2.6). mmengine puts `HistoryBuffer` objects and numpy values into checkpoints; they are
  converted here on save and rebuilt by `restore_message_hub` on load.
"""
import os
import pickle
import random
import re
from collections import OrderedDict, deque

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

# Marks a HistoryBuffer flattened to plain types, so that loading can rebuild it.
_HISTORY_BUFFER = "__history_buffer__"


def commit_file(tmp_path: str, path: str) -> None:
    """Make a fully written `tmp_path` durable and atomically rename it to `path`."""
    with open(tmp_path, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp_path, path)
    _fsync_dir(os.path.dirname(os.path.abspath(path)))


def atomic_write_text(path: str, text: str) -> None:
    """Write `text` to `path` so that readers see the old or the new content, never a torn file."""
    tmp_path = _tmp_path(path)
    try:
        with open(tmp_path, "w") as f:
            f.write(text)
        commit_file(tmp_path, path)
    finally:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)


def temporary_name(filename: str) -> str:
    """The name a file is written under before `commit_file` renames it (hidden, same directory)."""
    return f".{filename}.partial"


def _tmp_path(path: str) -> str:
    head, tail = os.path.split(path)
    return os.path.join(head, temporary_name(tail))


def _fsync_dir(directory: str) -> None:
    # The rename itself lives in the directory entry; without this it may not survive a power cut.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def to_plain(obj, where: str = "checkpoint"):
    """Return a copy of `obj` that `torch.load(weights_only=True)` can read.

    numpy arrays become tensors, numpy scalars Python numbers, deques lists, HistoryBuffers tagged
    dicts (see `restore_message_hub`). Anything else that is not plain raises a TypeError naming
    its place (`where`), so an unloadable checkpoint is caught when it is written, not when resumed.
    """
    if isinstance(obj, np.generic):  # before the primitives: np.float64 subclasses float
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str, bytes, torch.Tensor, torch.dtype,
                                       torch.device, torch.Size)):
        return obj
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(obj))
    if isinstance(obj, HistoryBuffer):
        log, count = obj.data
        return {_HISTORY_BUFFER: True, "log": to_plain(log), "count": to_plain(count),
                "max_length": obj.max_length}
    if isinstance(obj, OrderedDict):
        plain = OrderedDict((k, to_plain(v, f"{where}.{k}")) for k, v in obj.items())
        if hasattr(obj, "_metadata"):  # module versions in a state_dict, read by load_state_dict
            plain._metadata = to_plain(obj._metadata, f"{where}._metadata")
        return plain
    if isinstance(obj, dict):
        return {k: to_plain(v, f"{where}.{k}") for k, v in obj.items()}
    if isinstance(obj, (list, deque)):
        return [to_plain(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, tuple):
        return tuple(to_plain(v, f"{where}[{i}]") for i, v in enumerate(obj))
    raise TypeError(
        f"{where} holds a {type(obj).__module__}.{type(obj).__qualname__}, which torch.load "
        "cannot read with weights_only=True; store tensors, numbers, strings or containers of them")


def restore_message_hub(state: dict) -> dict:
    """Rebuild the HistoryBuffers `to_plain` flattened in a MessageHub state dict (in place)."""
    scalars = state.get("log_scalars", {})
    for key, value in scalars.items():
        if isinstance(value, dict) and value.get(_HISTORY_BUFFER):
            scalars[key] = HistoryBuffer(value["log"].numpy(), value["count"].numpy(),
                                         value["max_length"])
    return state


def rng_state() -> dict:
    """The global random states a training step draws from: torch (CPU, CUDA), numpy, Python."""
    state = {
        "torch": torch.get_rng_state(),
        "numpy": to_plain(np.random.get_state(legacy=False)),
        "python": to_plain(random.getstate()),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Inverse of `rng_state`."""
    torch.set_rng_state(state["torch"])
    numpy_state = dict(state["numpy"])
    numpy_state["state"] = {k: v.numpy() if isinstance(v, torch.Tensor) else v
                            for k, v in numpy_state["state"].items()}
    np.random.set_state(numpy_state)
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or does not fit the model it is loaded into."""


# How torch's weights_only unpickler names what it refuses (its wording moves between releases): a global
# that is not allowed, one from a blocked module (os, sys), a class it will not build, a function it will
# not call. Anything else it raises (e.g. "Unsupported operand") means bytes that are no pickle at all.
_REFUSED = re.compile(r"GLOBAL (\S+) (?:was not an allowed global|whose module)"
                      r"|Can only (?:create new object|build)\b.*?but got (<class '[^']+'>|\S+)"
                      r"|unrecognized function (.+?)(?: which belongs|$)|(\S+) must be imported to load", re.M)
_BLOCKED_MODULE = re.compile(r"whose module (\S+) is blocked")


def refused_global(message: str) -> str | None:
    """What a weights_only refusal (the text of torch.load's UnpicklingError) names, or None when the
    message is not such a refusal."""
    found = _REFUSED.search(message)
    return next(g for g in found.groups() if g) if found else None


def read_checkpoint(path: str, map_location="cpu", remedy: str | None = None) -> dict:
    """`torch.load` with weights_only=True, and errors that name the file and say what is wrong: empty,
    truncated or corrupt, or intact but holding a Python object weights_only refuses (named, followed by
    `remedy`, by default how to convert the file)."""
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint {path} not found")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        name = refused_global(str(err))
        if name is None:  # not even a pickle of foreign objects
            raise CheckpointError(f"checkpoint {path} is unreadable: empty, truncated or corrupt") from None
        # torch's message suggests weights_only=False: never for a file of unknown origin.
        blocked = _BLOCKED_MODULE.search(str(err))
        if blocked:
            raise CheckpointError(
                f"checkpoint {path} holds a call into {name} (module {blocked.group(1)}), which no checkpoint needs "
                "and the safe loader refuses: do not unpickle this file") from None
        raise CheckpointError(
            f"checkpoint {path} holds a Python object the safe loader refuses: {name}; this engine did not write it "
            "(an upstream release?): " + (remedy or f"convert it first with `python tools/convert_checkpoint.py "
                                                    f"CONFIG {path} OUT.pth`")) from None
    except Exception as err:  # RuntimeError, EOFError, BadZipFile, OSError, IndexError...: torch 2.13 has many words
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"checkpoint {path} is unreadable: empty, truncated or corrupt ({reason})") from None
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(checkpoint).__name__}, expected a dict")
    return checkpoint


def model_state_dict(checkpoint: dict) -> "OrderedDict[str, torch.Tensor]":
    """The model weights of a checkpoint dict (its `state_dict` or `model` entry, or the dict itself),
    without the `module.` prefix DataParallel / DDP add."""
    state = next((checkpoint[k] for k in ("state_dict", "model") if isinstance(checkpoint.get(k), dict)), checkpoint)
    plain = OrderedDict((k.removeprefix("module."), v) for k, v in state.items())
    if hasattr(state, "_metadata"):
        plain._metadata = OrderedDict((k.removeprefix("module."), v) for k, v in state._metadata.items())
    return plain


def state_dict_mismatches(state_dict: dict, model: torch.nn.Module) -> list[str]:
    """Every way `state_dict` fails to fit `model` strictly: missing and unexpected keys, other shapes."""
    expected = model.state_dict()
    problems = [f"missing: {k}" for k in expected if k not in state_dict]
    problems += [f"unexpected: {k}" for k in state_dict if k not in expected]
    problems += [f"shape of {k}: {tuple(v.shape)} in the checkpoint, {tuple(expected[k].shape)} in the model"
                 for k, v in state_dict.items()
                 if k in expected and torch.is_tensor(v) and v.shape != expected[k].shape]
    return problems


def non_finite_tensors(state_dict: dict) -> list[str]:
    """Names of floating-point entries holding NaN or Inf."""
    return [k for k, v in state_dict.items()
            if torch.is_tensor(v) and v.is_floating_point() and not torch.isfinite(v).all()]


def check_finite_weights(checkpoint: dict, path: str) -> None:
    """A CheckpointError naming `path` and the first entries holding NaN or Inf, among the model's weights
    (`model_state_dict`) and an EMA copy (`ema_state_dict`): such weights score as a model, silently."""
    bad = non_finite_tensors(model_state_dict(checkpoint))
    if isinstance(checkpoint.get("ema_state_dict"), dict):
        bad += [f"ema_state_dict.{k}" for k in non_finite_tensors(checkpoint["ema_state_dict"])]
    if bad:
        raise CheckpointError(
            f"checkpoint {path} holds NaN or Inf weights ({len(bad)} entries: {', '.join(bad[:5])}"
            f"{', ...' if len(bad) > 5 else ''}); a run that diverged? Use an earlier checkpoint of it")
