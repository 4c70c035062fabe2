"""Parquet: numeric feature columns; the target may hold numbers or string labels.

The footer is read first and checked against the limits (columns, rows, each column's type,
what the pages declare they decompress to, and what the decoded arrays take: rows × columns
× 4 bytes of float32), so a file that would decompress past the byte limit or hold a
non-numeric feature is refused before any data page is read. String labels are read as a
dictionary, so a few long labels repeated a million times are measured before they expand.
"""

from __future__ import annotations

from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from uploads.table import Table, UploadLimits, check_columns, check_finite, check_labels, check_rows, invalid, too_large


def read_parquet(stream: BinaryIO, *, target: str, limits: UploadLimits) -> Table:
    try:
        footer = pq.ParquetFile(stream)
        metadata = footer.metadata
        features = check_columns(list(footer.schema_arrow.names), target, limits)
        check_rows(metadata.num_rows, limits)
        # the same footer, now with the target read as a dictionary (for string labels)
        parquet = pq.ParquetFile(stream, metadata=metadata, read_dictionary=[target])
        schema = parquet.schema_arrow
    except (pa.ArrowException, OSError, KeyError) as error:
        raise invalid(f"not a readable Parquet file (truncated or corrupt?): {error}") from None
    if metadata.num_rows == 0:
        raise invalid("the Parquet file has no rows")
    row_groups = [metadata.row_group(i) for i in range(metadata.num_row_groups)]
    paged = sum(group.column(i).total_uncompressed_size for group in row_groups for i in range(group.num_columns))
    decoded = metadata.num_rows * (4 * len(features) + 8)
    if max(paged, decoded) > limits.max_bytes:
        raise too_large(
            f"the Parquet data decompresses to {max(paged, decoded)} bytes; at most {limits.max_bytes} allowed",
            limit=limits.max_bytes,
        )
    for name in features:
        _check_numeric(name, schema.field(name).type)
    target_type = schema.field(target).type
    if not (_is_numeric(target_type) or _is_labels(target_type)):
        raise invalid(f"target column {target!r} has type {target_type}; it must hold numbers or string labels")

    try:
        table = parquet.read(use_threads=False)
    except (pa.ArrowException, OSError) as error:
        raise invalid(f"the Parquet file's data cannot be read (truncated or corrupt?): {error}") from None
    if table.num_rows != metadata.num_rows:
        raise invalid(f"the Parquet file declares {metadata.num_rows} rows but holds {table.num_rows}")
    X = np.empty((table.num_rows, len(features)), dtype=np.float32)
    for j, name in enumerate(features):
        values = _column(table, name)
        check_finite(values, [name])
        X[:, j] = values
    labels = _labels(table, target, limits) if _is_labels(target_type) else _column(table, target)
    if labels.dtype.kind == "f":
        check_finite(labels, [target])
    return Table(features, X, target, labels)


def _is_numeric(kind: pa.DataType) -> bool:
    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind))


def _is_labels(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def _check_numeric(name: str, kind: pa.DataType) -> None:
    if not _is_numeric(kind):
        raise invalid(f"column {name!r} is not numeric (type {kind}); features must be numbers", column=name)


def _check_no_nulls(column: pa.ChunkedArray, name: str) -> None:
    if column.null_count:
        row = pc.index(pc.is_null(column), True).as_py() + 1
        raise invalid(f"column {name!r} has a missing value at row {row}", column=name, row=row)


def _column(table: pa.Table, name: str) -> np.ndarray:
    column = table.column(name)
    _check_no_nulls(column, name)
    return np.asarray(column.to_numpy(), dtype=np.float64)


def _labels(table: pa.Table, name: str, limits: UploadLimits) -> np.ndarray:
    """String labels; numpy stores each in the longest one's width, so that product is checked."""
    column = table.column(name)
    _check_no_nulls(column, name)
    longest = (
        max(
            (pc.max(pc.utf8_length(chunk.dictionary if pa.types.is_dictionary(chunk.type) else chunk)).as_py() or 0)
            for chunk in column.chunks
        )
        if column.num_chunks
        else 0
    )
    if table.num_rows * longest * 4 > limits.max_bytes:
        raise too_large(
            f"target column {name!r} holds labels of up to {longest} characters; {table.num_rows} of them "
            f"take more than {limits.max_bytes} bytes",
            limit=limits.max_bytes,
        )
    labels = column.to_pylist()
    check_labels(labels, name)
    return np.array(labels, dtype=np.str_)
