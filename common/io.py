"""Reading what tasks take as input (JSON annotations and predictions, feature arrays, data pickles) strictly,
and writing directories that never appear half-written.

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
        if "allow_pickle" in str(err):
            raise InputError(f"{path}: holds pickled Python objects, not a numeric array saved with "
                             "numpy.save / numpy.savez") from None
        raise InputError(f"{path}: unreadable {what}, not a saved array ({str(err).splitlines()[0]})") from None
    except Exception as err:  # numpy / zip errors of empty or truncated files
        detail = str(err).splitlines()[0] if str(err) else ""
        raise InputError(f"{path}: unreadable {what}, empty or truncated ({type(err).__name__}: {detail})") from None
    return array


# What a data pickle may name besides pickle's own containers and scalars: NumPy's array, scalar and dtype
# reconstructors (numpy.core in files written by NumPy 1.x, numpy._core by 2.x) and the bytes codec of protocol 2.
_DATA_PICKLE_GLOBALS = {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")} | {
    (f"numpy.{core}.{module}", name) for core in ("core", "_core")
    for module, name in (("multiarray", "_reconstruct"), ("multiarray", "scalar"), ("numeric", "_frombuffer"))}


def load_data_pickle(path: str, what: str = "pickle"):
    """The content of a pickle that holds only data: lists, tuples, dicts, strings, numbers and NumPy arrays
    (what `pickle.load` and `pandas.read_pickle` return for such a file). Anything else a pickle can name (a
    class, a function: the way a pickle runs code on loading) is refused with an error naming the file and
    the object, so reading an untrusted file cannot execute code."""
    import codecs
    import importlib
    import pickle

    class DataUnpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) not in _DATA_PICKLE_GLOBALS:
                raise InputError(f"{path}: the {what} holds a {module}.{name} object; only plain data (lists, "
                                 "tuples, dicts, strings, numbers, NumPy arrays) is read from pickles")
            if module == "_codecs":
                return codecs.encode
            if module.startswith("numpy.core."):  # NumPy 2 keeps these in numpy._core
                module = module.replace("numpy.core.", "numpy._core.", 1) if importlib.util.find_spec(
                    "numpy._core") else module
            return getattr(importlib.import_module(module), name)

    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: {what} not found")
    try:
        with open(path, "rb") as f:
            return DataUnpickler(f).load()
    except InputError:
        raise
    except Exception as err:  # truncated, empty or not a pickle at all
        raise InputError(f"{path}: unreadable {what} ({type(err).__name__}: {err})") from None


@contextlib.contextmanager
def built_aside(path: str, replace: bool = False):
    """Build a directory at `path` without ever leaving it half-written: yields a sibling
    `.NAME.partial-PID` to write into, renamed to `path` when the block finishes; on any error or
    interrupt the partial directory is removed and `path` is untouched. `replace=True` swaps out an
    existing `path` (else an existing, non-empty `path` is an error)."""
    path = os.path.normpath(path)
    parent, name = os.path.split(os.path.abspath(path))
    if os.path.isdir(path) and os.listdir(path) and not replace:
        raise FileExistsError(f"{path} exists and is not empty")
    os.makedirs(parent, exist_ok=True)
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
