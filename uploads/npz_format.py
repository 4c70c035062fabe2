"""NPZ: a zip of .npy arrays, the features in `X` and the target in `y` (or the array named by
`target`). Read with allow_pickle=False; each array's dtype and shape are read from its .npy
header — a few hundred bytes — and checked before the data is decompressed, so a pickled
object or an array that would decompress past the byte limit is refused unread.
"""

from __future__ import annotations

import math
import zipfile
from typing import BinaryIO

import numpy as np

from uploads.table import Table, UploadLimits, check_finite, check_labels, check_rows, invalid, too_large

FEATURES = "X"
MAX_MEMBERS = 64
NUMERIC_KINDS = "biuf"  # bool, signed and unsigned integers, floats


def read_npz(stream: BinaryIO, *, target: str, limits: UploadLimits) -> Table:
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise invalid(f"not a readable NPZ file (a zip of .npy arrays): {error}") from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise invalid(f"the NPZ file has {len(members)} members; at most {MAX_MEMBERS} allowed")
        by_name = {m.filename.removesuffix(".npy"): m for m in members}
        if target == FEATURES:
            raise invalid(f"target {target!r} names the feature array; name the target array (default 'y')")
        missing = [name for name in (FEATURES, target) if name not in by_name]
        if missing:
            shown = ", ".join(repr(n) for n in list(by_name)[:20])
            raise invalid(
                f"the NPZ file lacks array(s) {', '.join(repr(n) for n in missing)}; it holds: {shown or 'nothing'}",
                arrays=list(by_name)[:20],
            )
        x_info, y_info = by_name[FEATURES], by_name[target]
        x_shape, x_kind = _header(archive, x_info, FEATURES, limits)
        y_shape, y_kind = _header(archive, y_info, target, limits)
        if x_kind not in NUMERIC_KINDS:
            raise invalid(f"array {FEATURES!r} has dtype kind {x_kind!r}; features must be numbers")
        if y_kind not in NUMERIC_KINDS + "U":
            raise invalid(f"array {target!r} has dtype kind {y_kind!r}; the target must be numbers or str labels")
        if len(x_shape) not in (1, 2) or len(y_shape) != 1 or x_shape[0] != y_shape[0]:
            raise invalid(f"arrays must be X [n, d] and {target} [n]; got {x_shape} and {y_shape}")
        if x_shape[0] == 0:
            raise invalid("the NPZ arrays have no rows")
        columns = x_shape[1] if len(x_shape) == 2 else 1
        check_rows(x_shape[0], limits)
        if columns + 1 > limits.max_columns:
            raise too_large(f"X has {columns} columns; at most {limits.max_columns - 1} allowed (plus the target)")
        X = _load(archive, x_info, FEATURES).reshape(x_shape[0], columns)
        y = _load(archive, y_info, target)
    names = [f"x{j}" for j in range(columns)]
    values = X.astype(np.float64)
    check_finite(values, names)
    if y.dtype.kind in NUMERIC_KINDS:
        y = y.astype(np.float64)
        check_finite(y, [target])
    else:  # str labels: a NUL inside one (numpy keeps those; one at the end is its padding, never a character)
        check_labels(y.tolist(), target)
    return Table(names, values.astype(np.float32), target, y)


def _header(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, limits: UploadLimits
) -> tuple[tuple[int, ...], str]:
    """The array's shape and dtype kind, from its .npy header; refuses pickles and oversize arrays."""
    if info.file_size > limits.max_bytes:
        raise too_large(
            f"array {name!r} decompresses to {info.file_size} bytes; at most {limits.max_bytes} allowed",
            limit=limits.max_bytes,
        )
    try:
        with archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(member)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(member)
            else:
                raise invalid(f"array {name!r} uses .npy format version {version}; save it with numpy.savez")
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as error:
        raise invalid(f"array {name!r} is not a readable .npy array: {error}") from None
    if dtype.hasobject:
        raise invalid(
            f"array {name!r} holds Python objects (stored as a pickle, which is never loaded); "
            "only numeric arrays (and str labels for the target) are accepted"
        )
    size = math.prod(shape) * dtype.itemsize
    if size > limits.max_bytes:
        raise too_large(
            f"array {name!r} declares shape {shape} of {dtype} ({size} bytes); at most {limits.max_bytes} allowed",
            limit=limits.max_bytes,
        )
    return tuple(int(n) for n in shape), dtype.kind


def _load(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> np.ndarray:
    try:
        with archive.open(info) as member:
            array = np.load(member, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as error:
        raise invalid(f"array {name!r} cannot be read (truncated or corrupt?): {error}") from None
    if not isinstance(array, np.ndarray):
        raise invalid(f"member {name!r} is not a .npy array")
    return array
