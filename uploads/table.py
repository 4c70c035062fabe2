"""What every reader returns (a `Table`), the limits it enforces, and the error it raises."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

FLOAT32_MAX = float(np.finfo(np.float32).max)
# Column names and class labels are stored as text, which on PostgreSQL cannot hold NUL (the insert
# would fail there as a 500, where SQLite stores it); numpy drops NULs at a string's end, too, so
# labels "a" and "a\0" would silently become one class. Refused at upload, like every other field.
NUL = "\x00"


class UploadError(Exception):
    """A refused upload: an HTTP status, a code, a message that names the problem, details."""

    def __init__(self, status_code: int, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status_code, self.code, self.message, self.details = status_code, code, message, details or {}


def invalid(message: str, **details: Any) -> UploadError:
    return UploadError(422, "invalid_dataset", message, details)


def too_large(message: str, **details: Any) -> UploadError:
    # 413 for every size limit (bytes, rows, columns): the request is refused for its size,
    # not for its shape, and the client's fix is the same — send less
    return UploadError(413, "dataset_too_large", message, details)


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int  # the uploaded file, and what its arrays decompress to
    max_rows: int
    max_columns: int  # columns in the file, the target included

    @property
    def max_line_bytes(self) -> int:
        # A CSV line of max_columns numbers needs far less than 64 bytes a cell; a longer
        # line is not a table row (a 10 MB blob on one line), so it is refused unread.
        return 64 * 1024 + 64 * self.max_columns


@dataclass(frozen=True)
class Table:
    """A parsed upload: finite float32 features and a target that is numbers or labels."""

    columns: list[str]  # feature names, in X's column order
    X: np.ndarray  # float32 [n, d], every value finite
    target_name: str
    target: np.ndarray  # [n]: float64 (finite) or str labels (kind "U")

    @property
    def rows(self) -> int:
        return int(self.X.shape[0])


def check_columns(names: list[str], target: str, limits: UploadLimits) -> list[str]:
    """The feature names: every column but the target, which must be there; names unique."""
    if len(names) > limits.max_columns:
        raise too_large(
            f"the file has {len(names)} columns; at most {limits.max_columns} allowed",
            limit=limits.max_columns,
            columns=len(names),
        )
    seen: set[str] = set()
    for index, name in enumerate(names):
        if NUL in name:
            raise invalid(
                f"column {index + 1}'s name {name!r} holds a NUL character (0x00); names must be text without it",
                column=index + 1,
            )
        if not name:
            raise invalid(f"column {index + 1} has an empty name; every column needs a header", column=index + 1)
        if name in seen:
            raise invalid(f"column name {name!r} appears twice; names must be unique", column=name)
        seen.add(name)
    if target not in seen:
        shown = ", ".join(repr(n) for n in names[:50]) + (", …" if len(names) > 50 else "")
        raise invalid(f"target column {target!r} not found; columns: {shown}", target=target, columns=names[:100])
    features = [n for n in names if n != target]
    if not features:
        raise invalid(f"the file has only the target column {target!r}; at least one feature column is needed")
    return features


def check_rows(rows: int, limits: UploadLimits) -> None:
    if rows > limits.max_rows:
        raise too_large(f"more than {limits.max_rows} rows; at most {limits.max_rows} allowed", limit=limits.max_rows)


def check_finite(values: np.ndarray, columns: list[str], first_row: int = 1, lines: list[int] | None = None) -> None:
    """Refuse NaN, ±Inf and values past float32's range, naming the first such cell.

    `values` is float64 [n, d] (or [n]); rows are 1-based data rows numbered from `first_row`;
    `lines`, for a CSV, holds each row's line number.
    """
    grid = values.reshape(len(values), -1)
    bad = ~np.isfinite(grid) | (np.abs(grid) > FLOAT32_MAX)
    if not bad.any():
        return
    row, col = (int(i) for i in np.argwhere(bad)[0])
    value = float(grid[row, col])
    what = "NaN" if np.isnan(value) else "infinite" if np.isinf(value) else f"{value:g}, past float32's range,"
    where = f"row {first_row + row}" + (f" (line {lines[row]})" if lines else "")
    raise invalid(
        f"column {columns[col]!r} is {what} at {where}; every value must be a finite number",
        column=columns[col],
        row=first_row + row,
    )


def check_labels(labels: list[str], column: str, first_row: int = 1, lines: list[int] | None = None) -> None:
    """Refuse a label holding a NUL character (see NUL), naming the first such row.

    `labels` are the target's cells as Python strings, before numpy sees them; rows are 1-based data
    rows numbered from `first_row`; `lines`, for a CSV, holds each row's line number.
    """
    if NUL not in "".join(labels):  # the common case, in one pass at C speed
        return
    row = next(i for i, label in enumerate(labels) if NUL in label)
    where = f"row {first_row + row}" + (f" (line {lines[row]})" if lines else "")
    raise invalid(
        f"target column {column!r} holds a NUL character (0x00) at {where}; labels must be text without it",
        column=column,
        row=first_row + row,
    )
