"""A job's whole metric history as a CSV, NDJSON or Parquet file, streamed in constant memory.

The history is read a keyset page at a time (store.metrics.read_points_after), each page encoded and
handed to the response before the next is read, so a 10,000,000-point job costs the server what one
page does (bench/metric_export.py). The formats and their non-finite values:
trainwell.metric_export.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterator, Sequence

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Row
from sqlalchemy.orm import Session

from store.metrics import PointKey, read_points_after
from trainwell.metric_export import EXPORT_COLUMNS

# Points per database read: a page is ~1.5 MB of Python rows and text while it is encoded. The server's
# peak grows with it (each of the thread pool's threads that encodes a page keeps its own malloc arena),
# not with the history (bench/metric_export.py).
PAGE_POINTS = 5_000
# Points per Parquet row group: readers pay per row group and column chunk, so pages are gathered as Arrow
# batches (~45 bytes a point) and written ten at a time.
ROW_GROUP_POINTS = 50_000

Page = Sequence[Row[str, int, int, int, float]]

# the run API's words for them (trainwell.run.VALUE_SCHEMA); pandas' readers take them as floats
NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}

PARQUET_SCHEMA = pa.schema(
    [
        ("name", pa.string()),
        # 64-bit, as pandas reads the CSV and NDJSON integers: the three files give the same DataFrame
        ("fold", pa.int64()),
        ("epoch", pa.int64()),
        ("step", pa.int64()),
        ("value", pa.float64()),
    ]
)


def _value_text(value: float) -> str:
    # repr is the shortest text that reads back to the same double; it is a JSON number when finite
    return repr(value) if math.isfinite(value) else NON_FINITE[repr(value)]


class CsvEncoder:
    def __init__(self) -> None:
        self._names: dict[str, str] = {}  # a handful of names: each quoted once, if it must be

    def start(self) -> bytes:
        return (",".join(EXPORT_COLUMNS) + "\r\n").encode()

    def page(self, points: Page) -> bytes:
        lines = []
        for name, fold, epoch, step, value in points:
            field = self._names.get(name)
            if field is None:
                field = self._names[name] = _csv_field(name)
            lines.append(f"{field},{fold},{epoch},{step},{_value_text(value)}\r\n")
        return "".join(lines).encode()

    def end(self) -> bytes:
        return b""


def _csv_field(text: str) -> str:
    # metric names never need quoting (trainwell.metrics); the csv module decides, should one ever
    line = io.StringIO()
    csv.writer(line).writerow([text])
    return line.getvalue().rstrip("\r\n")


class NdjsonEncoder:
    def __init__(self) -> None:
        self._names: dict[str, str] = {}  # a handful of names: each JSON-quoted once

    def start(self) -> bytes:
        return b""

    def page(self, points: Page) -> bytes:
        lines = []
        for name, fold, epoch, step, value in points:
            quoted = self._names.get(name)
            if quoted is None:
                quoted = self._names[name] = json.dumps(name)
            number = repr(value) if math.isfinite(value) else f'"{NON_FINITE[repr(value)]}"'
            lines.append(f'{{"name":{quoted},"fold":{fold},"epoch":{epoch},"step":{step},"value":{number}}}\n')
        return "".join(lines).encode()

    def end(self) -> bytes:
        return b""


class _Drained:
    """The Parquet writer's file: it keeps what was written until `take` hands it out. The writer counts
    the offsets it records in the footer itself, so the bytes taken need not stay anywhere."""

    closed = False

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        taken = b"".join(self._parts)
        self._parts.clear()
        return taken


class ParquetEncoder:
    def __init__(self) -> None:
        self._file = _Drained()
        self._writer = pq.ParquetWriter(self._file, PARQUET_SCHEMA)
        self._batches: list[pa.RecordBatch] = []
        self._gathered = 0

    def start(self) -> bytes:
        return self._file.take()

    def page(self, points: Page) -> bytes:
        columns = list(zip(*points, strict=True))
        self._batches.append(pa.RecordBatch.from_arrays(columns, schema=PARQUET_SCHEMA))
        self._gathered += len(points)
        if self._gathered >= ROW_GROUP_POINTS:
            self._write_row_group()
        return self._file.take()

    def end(self) -> bytes:
        self._write_row_group()
        self._writer.close()  # the footer
        return self._file.take()

    def _write_row_group(self) -> None:
        if self._batches:
            self._writer.write_table(pa.Table.from_batches(self._batches), row_group_size=ROW_GROUP_POINTS)
        self._batches, self._gathered = [], 0


ENCODERS: dict[str, Callable[[], CsvEncoder | NdjsonEncoder | ParquetEncoder]] = {
    "csv": CsvEncoder,
    "ndjson": NdjsonEncoder,
    "parquet": ParquetEncoder,
}


def export_metrics(
    *, sessions: Callable[[], Session], job_id: str, export_format: str, page_points: int = PAGE_POINTS
) -> Iterator[bytes]:
    """The file's bytes, a page of points at a time, in the primary key's order.

    Each page is read in a session of its own, opened and closed here before the page is yielded: the
    response outlives the request (and its session), a slow client may take minutes to read the file,
    and one that hangs up leaves this generator suspended between pages, holding no connection. A job
    still running exports the points stored by the time each page is read."""
    encoder = ENCODERS[export_format]()
    if start := encoder.start():
        yield start
    after: PointKey | None = None
    while True:
        with sessions() as session:
            points = read_points_after(session=session, job_id=job_id, after=after, limit=page_points)
        if points and (encoded := encoder.page(points)):
            yield encoded
        if len(points) < page_points:
            break
        last = points[-1]
        after = (last.name, last.fold, last.epoch, last.step)
    if end := encoder.end():
        yield end
