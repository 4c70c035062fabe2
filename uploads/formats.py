"""Which reader an upload gets: by the file name's extension, else by the part's content type."""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

from uploads.csv_format import read_csv
from uploads.npz_format import read_npz
from uploads.parquet_format import read_parquet
from uploads.table import Table, UploadError, UploadLimits, invalid, too_large

Reader = Callable[..., Table]
FORMATS: dict[str, Reader] = {"csv": read_csv, "parquet": read_parquet, "npz": read_npz}
EXTENSIONS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".npz": "npz"}
CONTENT_TYPES = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet",
    "application/x-npz": "npz",
}
# What clients send when they do not know (curl -F, browsers for unknown extensions): the
# extension decides. Any other declared type (image/png, application/json, ...) is refused.
GENERIC_TYPES = {"", "application/octet-stream", "text/plain", "application/zip", "application/x-zip-compressed"}


def detect_format(filename: str | None, content_type: str | None) -> str:
    """ "csv", "parquet" or "npz"; an UploadError 415 for anything else."""
    declared = (content_type or "").split(";")[0].strip().lower()
    name = (filename or "").lower()
    by_extension = next((fmt for ext, fmt in EXTENSIONS.items() if name.endswith(ext)), None)
    by_type = CONTENT_TYPES.get(declared)
    if declared not in GENERIC_TYPES and by_type is None:
        raise _unsupported(f"content type {declared!r} is not a dataset format")
    if by_extension and by_type and by_extension != by_type:
        raise _unsupported(f"file name {filename!r} says {by_extension} but content type {declared!r} says {by_type}")
    fmt = by_extension or by_type
    if fmt is None:
        raise _unsupported(f"cannot tell the format of {filename or 'the file'!r} ({declared or 'no content type'})")
    return fmt


def _unsupported(reason: str) -> UploadError:
    return UploadError(
        415,
        "unsupported_media_type",
        f"{reason}; upload a .csv, .parquet or .npz file (or declare text/csv, application/vnd.apache.parquet)",
    )


def read_table(stream: BinaryIO, *, fmt: str, target: str, limits: UploadLimits) -> Table:
    """The upload parsed and checked; `stream` is a seekable binary file positioned anywhere."""
    size = stream.seek(0, 2)
    if size == 0:
        raise invalid("the file is empty")
    if size > limits.max_bytes:
        raise too_large(f"the file has {size} bytes; at most {limits.max_bytes} allowed", limit=limits.max_bytes)
    stream.seek(0)
    return FORMATS[fmt](stream, target=target, limits=limits)
