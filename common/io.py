"""Reading what tasks take as input (JSON annotations and predictions, feature arrays) strictly, and
writing directories that never appear half-written.

Python's json keeps the last of duplicate object keys without a word: a results file listing a video
twice, or an annotation file with a video twice, would lose entries silently. Here it is an error
naming the file and the key.
"""
import contextlib
import json
import os
import shutil
from typing import Optional

from .checks import InputError


def load_json(path: str, what: str = "JSON file"):
    """The parsed content of `path`; errors name the file for a missing file, invalid JSON and any
    object with a key given twice."""
    def no_duplicates(pairs):
        seen = {}
        for key, value in pairs:
            if key in seen:
                raise InputError(f"{path}: key {key!r} appears twice in one object")
            seen[key] = value
        return seen

    try:
        with open(path) as f:
            return json.load(f, object_pairs_hook=no_duplicates)
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} not found: {path}") from None
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: not valid JSON ({err})") from None


def load_array(path: str, key: Optional[str] = None, mmap_mode: Optional[str] = None, what: str = "feature file"):
    """A numeric array from `.npy`, `.npz` (the array under `key`, or its only array) or `.pt` (a saved
    tensor), never unpickling anything. Errors name the file: missing, empty or truncated, a pickled
    object instead of an array, a missing key. Shape and values are for `common.checks.check_array`."""
    import numpy as np

    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: {what} not found")
    ext = os.path.splitext(path)[1]
    try:
        if ext == ".npy":
            array = np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
        elif ext == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                if key is None and len(archive.files) == 1:
                    key = archive.files[0]
                if key not in archive.files:
                    raise InputError(f"{path}: expected an array under key {key!r}, found keys {sorted(archive.files)}")
                array = archive[key]
        elif ext == ".pt":
            import pickle

            import torch
            try:
                array = torch.load(path, map_location="cpu", weights_only=True)
            except pickle.UnpicklingError:
                raise InputError(f"{path}: holds Python objects, not a tensor saved with torch.save") from None
            if not isinstance(array, torch.Tensor):
                raise InputError(f"{path}: expected a saved tensor, found a {type(array).__name__}")
            array = array.detach().float().numpy()
        else:
            raise InputError(f"{path}: unsupported {what} format {ext!r} (expected .npy, .npz or .pt)")
    except InputError:
        raise
    except ValueError as err:
        if "allow_pickle" in str(err) or "Python objects" in str(err):  # the latter: np.load with mmap_mode
            raise InputError(f"{path}: holds pickled Python objects, not a numeric array saved with "
                             "numpy.save / numpy.savez") from None
        raise InputError(f"{path}: unreadable {what}, not a saved array ({str(err).splitlines()[0]})") from None
    except Exception as err:  # numpy / zip errors of empty or truncated files
        detail = str(err).splitlines()[0] if str(err) else ""
        raise InputError(f"{path}: unreadable {what}, empty or truncated ({type(err).__name__}: {detail})") from None
    return array


@contextlib.contextmanager
def built_aside(path: str, replace: bool = False):
    """Build a directory at `path` without ever leaving it half-written: yields a sibling
    `.NAME.partial-PID` to write into, renamed to `path` when the block finishes; on any error or
    interrupt the partial directory is removed and `path` is untouched (a writer killed outright leaves
    its partial directory, which the next build of `path` removes). `replace=True` swaps out an existing
    `path` (else an existing, non-empty `path` is an error)."""
    path = os.path.normpath(path)
    parent, name = os.path.split(os.path.abspath(path))
    if os.path.isdir(path) and os.listdir(path) and not replace:
        raise FileExistsError(f"{path} exists and is not empty")
    os.makedirs(parent, exist_ok=True)
    _remove_dead_partials(parent, f".{name}.partial-")
    partial = os.path.join(parent, f".{name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    try:
        yield partial
        if os.path.isdir(path):
            old = os.path.join(parent, f".{name}.old-{os.getpid()}")
            os.rename(path, old)
            os.rename(partial, path)
            shutil.rmtree(old)
        else:
            os.rename(partial, path)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


@contextlib.contextmanager
def written_aside(path: str):
    """Write one file at `path` without ever leaving it half-written: yields a sibling `.STEM.partial-PID.EXT`
    (the same extension, for writers that infer the format from it, e.g. matplotlib), renamed to `path`
    when the block finishes; on any error or interrupt it is removed and `path` is left as it was."""
    parent, name = os.path.split(os.path.abspath(path))
    stem, ext = os.path.splitext(name)
    partial = os.path.join(parent, f".{stem}.partial-{os.getpid()}{ext}")
    try:
        yield partial
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def _remove_dead_partials(parent: str, prefix: str) -> None:
    """Remove the `PREFIX<pid>` directories in `parent` whose writing process no longer runs."""
    for entry in os.listdir(parent):
        pid = entry[len(prefix):]
        if not (entry.startswith(prefix) and pid.isdigit()):
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(os.path.join(parent, entry), ignore_errors=True)
        except PermissionError:  # alive, another user's
            pass
