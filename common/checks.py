"""The one set of input checks every task's loaders, evaluators and metrics call.

Whatever enters the program (annotation files, feature files, prediction files, labels handed to a
metric) is checked here, so that a task built later inherits the same rules. Each check raises
`InputError` (a ValueError) whose message starts with the source (a file path, or what the data is
when it has no file) and says where in it and what was expected:

    check_segments   [start, end] pairs: finite, start <= end, inside [0, duration]
    check_labels     class ids: integers in [0, num_classes)
    check_targets    per-frame / per-sample targets of the expected kind (one-hot, multi-hot, soft)
    check_lengths    feature streams of one video that must agree in length
    check_array      a loaded array: numeric, its shape, finite values
    check_finite     scores, similarities, probabilities: no NaN or Inf

Errors name the source first: "data/toy/x/ann.json: video 'v1' segment 3: end 2.0 is before start 5.0".
"""
from typing import Mapping, Optional, Sequence

import numpy as np


class InputError(ValueError):
    """Input that cannot be right; the message names the file (or source) and what was expected."""


def where_in(source: str, where: Optional[str]) -> str:
    """'source: where' (or the source alone): the prefix of every message."""
    return f"{source}: {where}" if where else str(source)


def fail(source: str, where: Optional[str], what: str):
    raise InputError(f"{where_in(source, where)}: {what}")


def _preview(values, n: int = 5) -> str:
    values = np.asarray(values).ravel().tolist()
    return str(values[:n])[:-1] + (", ...]" if len(values) > n else "]")


def check_finite(values, source: str, where: Optional[str] = None, what: str = "values",
                 row_numbers: Optional[Sequence[int]] = None) -> np.ndarray:
    """`values` as an array, with an error naming the first non-finite entries (flat indices; or, given
    `row_numbers`, those of the rows holding them, e.g. a file's rows when `values` are some of them)."""
    values = np.asarray(values)
    if values.dtype.kind not in "biuf":
        fail(source, where, f"expected numeric {what}, found {values.dtype}")
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        if row_numbers is not None:
            bad = np.asarray(row_numbers)[~np.isfinite(values.reshape(len(values), -1)).all(axis=1)]
            fail(source, where, f"{what} hold NaN or Inf at row(s) {_preview(bad)}")
        bad = np.flatnonzero(~np.isfinite(values))
        fail(source, where, f"{what} hold NaN or Inf (at flat index {_preview(bad)} of shape {values.shape})")
    return values


def check_array(array, source: str, where: Optional[str] = None, *, ndim: Optional[int] = None,
                shape: Optional[Sequence[Optional[int]]] = None, min_rows: int = 0, finite: bool = True,
                what: str = "array") -> np.ndarray:
    """A numeric array of `ndim` dimensions whose sizes match `shape` (None: any), with at least
    `min_rows` rows, finite unless `finite=False`."""
    if not isinstance(array, np.ndarray):
        fail(source, where, f"expected a numeric {what}, found a {type(array).__name__}")
    if array.dtype.kind not in "biuf":
        fail(source, where, f"expected a numeric {what}, found dtype {array.dtype}")
    if shape is not None:
        ndim = len(shape)
    if ndim is not None and array.ndim != ndim:
        fail(source, where, f"expected a {ndim}-d {what}"
             + (f" of shape ({', '.join('any' if s is None else str(s) for s in shape)})" if shape else "")
             + f", found shape {tuple(array.shape)}")
    if shape is not None:
        for axis, (size, want) in enumerate(zip(array.shape, shape)):
            if want is not None and size != want:
                fail(source, where, f"expected size {want} along axis {axis} of the {what}, found shape "
                     f"{tuple(array.shape)}")
    if array.ndim and array.shape[0] < min_rows:
        fail(source, where, f"expected at least {min_rows} row(s) in the {what}, found shape {tuple(array.shape)}")
    if finite:
        check_finite(array, source, where, what)
    return array


def check_segments(segments, source: str, where: Optional[str] = None, *, duration: Optional[float] = None,
                   tolerance: float = 0.0, allow_empty: bool = True, what: str = "segment") -> np.ndarray:
    """[start, end] pairs as a float64 (N, 2) array: numbers, finite, start <= end, and with a duration,
    inside [-tolerance, duration + tolerance]. A reversed segment is an error, never swapped or dropped:
    it means a wrong column order or a wrong unit upstream of this check."""
    try:
        array = np.asarray(segments, dtype=np.float64)
    except (TypeError, ValueError):
        fail(source, where, f"expected [start, end] {what}s as numbers, found {str(segments)[:200]}")
    if array.size == 0 and array.ndim <= 2:
        if not allow_empty:
            fail(source, where, f"expected at least one {what}, found none")
        return array.reshape(0, 2)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[1] != 2:
        fail(source, where, f"expected [start, end] {what}s, found shape {tuple(np.shape(segments))}")
    label = lambda i: f"{what} {i}" if len(array) > 1 else what  # noqa: E731
    finite = np.isfinite(array).all(axis=1)
    if not finite.all():
        i = int(np.flatnonzero(~finite)[0])
        fail(source, where, f"{label(i)} {array[i].tolist()} is not finite")
    reversed_ = array[:, 1] < array[:, 0]
    if reversed_.any():
        i = int(np.flatnonzero(reversed_)[0])
        fail(source, where, f"{label(i)}: end {array[i, 1]:g} is before start {array[i, 0]:g}")
    if array[:, 0].min() < -tolerance:
        i = int(np.argmin(array[:, 0]))
        fail(source, where, f"{label(i)} {array[i].tolist()} starts before 0")
    if duration is not None:
        if not (np.isfinite(duration) and duration > 0):
            fail(source, where, f"duration {duration!r} is not a positive number of seconds")
        if array[:, 1].max() > duration + tolerance:
            i = int(np.argmax(array[:, 1]))
            fail(source, where, f"{label(i)} {array[i].tolist()} ends after the video's duration {duration:g}"
                 + (f" (tolerance {tolerance:g})" if tolerance else ""))
    return array


def check_labels(labels, num_classes: int, source: str, where: Optional[str] = None, *,
                 what: str = "label", ignore: Sequence[int] = ()) -> np.ndarray:
    """Class ids as an int64 array: integer-valued and in [0, num_classes); values in `ignore` (e.g. -1 for
    'no label', 255 for mmaction's ignore index) pass through."""
    array = np.asarray(labels)
    if array.dtype.kind == "b" or array.dtype.kind not in "iuf":
        fail(source, where, f"expected integer {what}s, found {str(labels)[:200]}")
    if array.dtype.kind == "f":
        if not np.isfinite(array).all() or (array != np.round(array)).any():
            bad = np.flatnonzero(~np.isfinite(array) | (array != np.round(array)))
            fail(source, where, f"{what}s must be integers, found {_preview(array.ravel()[bad])}")
    array = array.astype(np.int64)
    valid = (array >= 0) & (array < num_classes) | np.isin(array, list(ignore))
    if not valid.all():
        bad = array.ravel()[np.flatnonzero(~valid.ravel())]
        fail(source, where, f"{what} {_preview(bad) if bad.size > 1 else int(bad[0])} outside the "
             f"{num_classes} classes [0, {num_classes})" + (f" (ignored: {list(ignore)})" if ignore else ""))
    return array


TARGET_KINDS = ("one_hot", "multi_hot", "soft")


def check_targets(targets, kind: str, source: str, where: Optional[str] = None, *,
                  num_classes: Optional[int] = None, atol: float = 1e-4,
                  row_numbers: Optional[Sequence[int]] = None) -> np.ndarray:
    """Rows of per-class targets (..., C) of one kind:
    one_hot: entries 0 or 1, exactly one 1 per row; multi_hot: entries 0 or 1, at least one 1 per row;
    soft: non-negative rows summing to 1 (within `atol`). `row_numbers` (for (N, C) targets): the numbers
    messages give the rows, e.g. a file's rows when `targets` are some of them."""
    if kind not in TARGET_KINDS:
        raise ValueError(f"unknown target kind {kind!r}; known: {TARGET_KINDS}")
    array = check_finite(targets, source, where, "targets", row_numbers).astype(np.float64, copy=False)
    if array.ndim < 1 or (num_classes is not None and array.shape[-1] != num_classes):
        fail(source, where, f"expected targets over {num_classes} classes (..., {num_classes}), "
             f"found shape {tuple(array.shape)}")
    rows = array.reshape(-1, array.shape[-1])
    row = int if row_numbers is None else (lambda r: int(row_numbers[r]))  # noqa: E731
    if kind == "soft":
        negative = (rows < 0).any(axis=1)
        off = np.abs(rows.sum(axis=1) - 1) > atol
        bad = np.flatnonzero(negative | off)
        if bad.size:
            fail(source, where, f"expected soft targets (non-negative, summing to 1 per row); row {row(bad[0])} "
                 f"sums to {rows[bad[0]].sum():g}" + (" with negative entries" if negative[bad[0]] else ""))
        return array
    binary = (rows == 0) | (rows == 1)
    if not binary.all():
        r, c = np.argwhere(~binary)[0]
        fail(source, where, f"expected {kind.replace('_', '-')} targets (entries 0 or 1), found {rows[r, c]:g} at "
             f"row {row(r)}, class {int(c)}")
    ones = rows.sum(axis=1)
    bad = np.flatnonzero(ones != 1) if kind == "one_hot" else np.flatnonzero(ones < 1)
    if bad.size:
        want = "exactly one class" if kind == "one_hot" else "at least one class"
        fail(source, where, f"expected {kind.replace('_', '-')} targets ({want} per row); row {row(bad[0])} has "
             f"{int(ones[bad[0]])} ({bad.size} such rows)")
    return array


def check_lengths(lengths: Mapping[str, int], source: Optional[str] = None, *, tolerance: int = 0,
                  what: str = "steps") -> int:
    """The streams of one video (name -> length, a name usually a file) must agree within `tolerance`;
    returns the shortest length. Errors list every stream with its length, never cut silently."""
    if not lengths:
        raise ValueError("check_lengths needs at least one stream")
    short, long_ = min(lengths.values()), max(lengths.values())
    if long_ - short > tolerance:
        listing = ", ".join(f"{name}: {n}" for name, n in lengths.items())
        prefix = f"{source}: " if source else ""
        raise InputError(f"{prefix}feature streams disagree in length ({listing} {what}); they must agree"
                         + (f" within {tolerance}" if tolerance else ""))
    return short
