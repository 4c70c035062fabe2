"""CSV: a header row, then numeric cells (the target may hold labels). Comma-separated, UTF-8.

Read line by line with a bounded `readline`, so a 10 MB line or a million-column header is
refused after reading one line's worth, and converted to numbers a chunk of rows at a time.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

from uploads.table import Table, UploadLimits, check_columns, check_finite, check_labels, check_rows, invalid, too_large

# Cells converted to numbers at a time: numpy holds a chunk as fixed-width UCS-4 strings
# (a 20-character cell takes 80 bytes), so a chunk is bounded by cells, not rows.
CHUNK_CELLS = 262_144


def read_csv(stream: BinaryIO, *, target: str, limits: UploadLimits) -> Table:
    lines = _Lines(stream, limits)
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise invalid("the CSV file has no header row")
        names = [name.strip() for name in header]
        features = check_columns(names, target, limits)
        target_index = names.index(target)
        feature_index = [i for i, name in enumerate(names) if name != target]
        chunk_rows = max(1, CHUNK_CELLS // len(names))

        chunks: list[np.ndarray] = []
        labels: list[str] = []
        rows: list[list[str]] = []
        line_numbers: list[int] = []

        def convert_chunk() -> None:
            chunks.append(_convert(rows, line_numbers, feature_index, features, len(labels) + 1))
            chunk_labels = [r[target_index].strip() for r in rows]
            check_labels(chunk_labels, target, len(labels) + 1, line_numbers)
            labels.extend(chunk_labels)
            check_rows(len(labels), limits)
            rows.clear()
            line_numbers.clear()

        for row in reader:
            if not row:  # a blank line
                continue
            if len(row) != len(names):
                number = len(labels) + len(rows) + 1
                raise invalid(
                    f"row {number} (line {reader.line_num}) has {len(row)} fields; the header has {len(names)}",
                    row=number,
                    line=reader.line_num,
                )
            rows.append(row)
            line_numbers.append(reader.line_num)
            if len(rows) == chunk_rows:
                convert_chunk()
        if rows:
            convert_chunk()
    except csv.Error as error:
        raise invalid(f"line {reader.line_num} is not valid CSV: {error}", line=reader.line_num) from None
    if not labels:
        raise invalid("the CSV file has a header but no data rows")
    X = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
    return Table(features, X, target, _target_values(labels, target))


class _Lines:
    """The stream's lines as text: each at most max_line_bytes, strictly UTF-8."""

    def __init__(self, stream: BinaryIO, limits: UploadLimits) -> None:
        self.stream, self.limits, self.number = stream, limits, 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        limit = self.limits.max_line_bytes
        raw = self.stream.readline(limit + 1)
        if not raw:
            raise StopIteration
        self.number += 1
        if len(raw) > limit and not raw.endswith(b"\n"):
            if raw.count(b",") >= self.limits.max_columns:
                raise too_large(
                    f"line {self.number} has more than {self.limits.max_columns} columns; "
                    f"at most {self.limits.max_columns} allowed",
                    line=self.number,
                    limit=self.limits.max_columns,
                )
            raise invalid(
                f"line {self.number} is longer than {limit} bytes; a row of at most "
                f"{self.limits.max_columns} numbers never is",
                line=self.number,
                limit=limit,
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise invalid(
                f"line {self.number} is not valid UTF-8 (byte {error.start + 1} of the line); save the file as UTF-8",
                line=self.number,
            ) from None
        return text.removeprefix("\ufeff") if self.number == 1 else text


def _convert(
    rows: list[list[str]], line_numbers: list[int], feature_index: list[int], features: list[str], first_row: int
) -> np.ndarray:
    """float32 features of one chunk of rows; a non-numeric, empty or non-finite cell is named."""
    cells = np.array(rows, dtype=np.str_)[:, feature_index]
    try:
        values = cells.astype(np.float64)  # the same syntax as float(): spaces, nan, inf
    except ValueError:
        _raise_first_non_numeric(cells, line_numbers, features, first_row)
        raise
    check_finite(values, features, first_row, line_numbers)
    return values.astype(np.float32)


def _raise_first_non_numeric(cells: np.ndarray, line_numbers: list[int], features: list[str], first_row: int) -> None:
    for col, name in enumerate(features):
        for row, cell in enumerate(cells[:, col]):
            text = str(cell).strip()
            try:
                float(text)
            except ValueError:
                where = f"row {first_row + row} (line {line_numbers[row]})"
                if not text:
                    raise invalid(
                        f"column {name!r} has an empty cell at {where}; missing values are not accepted",
                        column=name,
                        row=first_row + row,
                    ) from None
                raise invalid(
                    f"column {name!r} is not numeric: {where} holds {text[:40]!r}; features must be numbers",
                    column=name,
                    row=first_row + row,
                ) from None


def _target_values(labels: list[str], target: str) -> np.ndarray:
    """Numbers when every label is one, else the labels as strings (classification only)."""
    text = np.array(labels, dtype=np.str_)
    try:
        values = text.astype(np.float64)
    except ValueError:
        return text
    check_finite(values, [target])
    return values
