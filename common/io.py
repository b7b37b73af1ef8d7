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

NPY_MAGIC = b"\x93NUMPY"


def _no_duplicates(where: str):
    """json's object_pairs_hook: a key given twice in one object is an error naming `where`."""
    def hook(pairs):
        seen = {}
        for key, value in pairs:
            if key in seen:
                raise InputError(f"{where}: key {key!r} appears twice in one object")
            seen[key] = value
        return seen
    return hook


def load_json(path: str, what: str = "JSON file"):
    """The parsed content of `path`; errors name the file for a missing file, invalid JSON and any
    object with a key given twice."""
    try:
        with open(path) as f:
            return json.load(f, object_pairs_hook=_no_duplicates(path))
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} not found: {path}") from None
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: not valid JSON ({err})") from None


def load_jsonl(path: str, what: str = "JSON-lines file"):
    """One JSON object per non-empty line (JSON lines), as a list; errors name the file and the line: a
    missing file, invalid JSON, a line that is not an object, a key given twice in one object."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} not found: {path}")
    items = []
    with open(path) as f:
        for number, text in enumerate(f, 1):
            if not text.strip():
                continue
            where = f"{path}: line {number}"
            try:
                item = json.loads(text, object_pairs_hook=_no_duplicates(where))
            except json.JSONDecodeError as err:
                raise InputError(f"{where}: not valid JSON ({err})") from None
            if not isinstance(item, dict):
                raise InputError(f"{where}: expected a JSON object, found {type(item).__name__}")
            items.append(item)
    return items


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
            with open(path, "rb") as f:
                magic = f.read(len(NPY_MAGIC))
            if magic != NPY_MAGIC:  # numpy would take any other file for a pickle and advise allow_pickle
                raise InputError(f"{path}: unreadable {what}, " + (
                    f"empty or truncated ({len(magic)} bytes)" if NPY_MAGIC.startswith(magic) else
                    "a pickled Python object, not a numeric array saved with numpy.save" if magic[:1] == b"\x80"
                    else "not a .npy array (the file does not start with NumPy's header)"))
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
    except ValueError as err:  # numpy's words for object arrays, truncated headers and short data
        if any(words in str(err) for words in ("allow_pickle", "Object arrays", "Python objects")):
            raise InputError(f"{path}: holds pickled Python objects, not a numeric array saved with "
                             "numpy.save / numpy.savez") from None
        raise InputError(f"{path}: unreadable {what}, empty or truncated ({str(err).splitlines()[0]})") from None
    except Exception as err:  # numpy / zip errors of empty or truncated files
        detail = str(err).splitlines()[0] if str(err) else ""
        raise InputError(f"{path}: unreadable {what}, empty or truncated ({type(err).__name__}: {detail})") from None
    return array


def array_shape(path: str, key: Optional[str] = None, what: str = "feature file"):
    """The shape of the array `load_array(path, key)` gives, read from the .npy header (of the file, or of the
    .npz member) without reading the data, so that a data set can check every file at start-up. A .pt file
    (or an .npz member in a rarer header version) is loaded. Errors as load_array's."""
    import zipfile

    import numpy as np

    if os.path.splitext(path)[1] != ".npz":
        return load_array(path, key, mmap_mode="r" if path.endswith(".npy") else None, what=what).shape
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: {what} not found")
    try:
        with zipfile.ZipFile(path) as archive:
            keys = [name[:-len(".npy")] for name in archive.namelist() if name.endswith(".npy")]
            if key is None and len(keys) == 1:
                key = keys[0]
            if key not in keys:
                raise InputError(f"{path}: expected an array under key {key!r}, found keys {sorted(keys)}")
            with archive.open(key + ".npy") as member:
                version = np.lib.format.read_magic(member)
                read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                               (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                if read_header is None:
                    return load_array(path, key, what=what).shape
                shape, _, dtype = read_header(member)
    except InputError:
        raise
    except Exception as err:  # zip / numpy errors of empty, truncated or foreign files
        detail = str(err).splitlines()[0] if str(err) else ""
        raise InputError(f"{path}: unreadable {what}, empty or truncated ({type(err).__name__}: {detail})") from None
    if dtype.hasobject:
        raise InputError(f"{path}: holds pickled Python objects, not a numeric array saved with numpy.save / "
                         "numpy.savez")
    return shape


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
