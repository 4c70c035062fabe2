"""A job's whole history, exported a page at a time, reads back exactly in every format — non-finite
values included, as pandas reads each file — in the primary key's order, across page boundaries."""

from __future__ import annotations

import io
import math

import pandas as pd
import pyarrow.parquet as pq
import pytest
from sqlalchemy.orm import Session, sessionmaker

from api.services.metric_export import PAGE_POINTS, ROW_GROUP_POINTS, ParquetEncoder, export_metrics
from store import jobs as job_store
from store.metrics import MetricRow, read_points_after, record_metrics
from store.principals import get_or_create_principal
from trainwell.metric_export import EXPORT_COLUMNS
from trainwell.spec import JobSpec

READERS = {
    "csv": lambda data: pd.read_csv(io.BytesIO(data)),
    # ujson's default float parser may round the last digit: precise_float reads what was written (but
    # for subnormal values, below 2.2e-308, which it refuses)
    "ndjson": lambda data: pd.read_json(io.BytesIO(data), lines=True, precise_float=True),
    "parquet": lambda data: pd.read_parquet(io.BytesIO(data)),
}


def _logged_job(session: Session) -> tuple[str, list[tuple[str, int, int, int, float]]]:
    owner = get_or_create_principal(session=session, name="exporter")
    job = job_store.create_job(
        session=session, principal_id=owner.id, spec=JobSpec.model_validate({"dataset": {"name": "iris"}}), queue="cpu"
    )
    # SQLite keeps NaN as NULL (the column refuses it): only PostgreSQL can hold a diverged value as NaN
    nan = math.nan if session.get_bind().dialect.name == "postgresql" else 0.5
    odd = [0.1 + 0.2, 1e-300, -1e300, math.inf, -math.inf, nan, 2.2250738585072014e-308, 123456789.123456789]
    rows = [
        MetricRow(name, fold, step // 4, step, odd[step % len(odd)] if step % 3 else step / 7)
        for name in ("val_loss", "train_loss")
        for fold in (1, 0)
        for step in range(30)
    ]
    record_metrics(session=session, job_id=job.id, rows=rows)
    session.commit()
    expected = sorted((r.name, r.fold, r.epoch, r.step, r.value) for r in rows)
    return job.id, expected


def _same(frame: pd.DataFrame, expected: list[tuple[str, int, int, int, float]]) -> bool:
    got = list(frame.itertuples(index=False, name=None))
    # NaN is not equal to itself: compare the values' reprs
    return [(*row[:4], repr(row[4])) for row in got] == [(*row[:4], repr(row[4])) for row in expected]


@pytest.mark.parametrize("export_format", ["csv", "ndjson", "parquet"])
def test_every_format_reads_back_exactly(session: Session, export_format: str) -> None:
    job_id, expected = _logged_job(session)
    sessions = sessionmaker(session.get_bind(), expire_on_commit=False)
    chunks = list(export_metrics(sessions=sessions, job_id=job_id, export_format=export_format, page_points=7))
    if export_format != "parquet":  # a chunk per page: nothing waits for the whole history
        assert len(chunks) == 1 + math.ceil(len(expected) / 7) - (export_format == "ndjson")
    frame = READERS[export_format](b"".join(chunks))
    assert list(frame.columns) == list(EXPORT_COLUMNS)
    assert [str(frame[c].dtype) for c in EXPORT_COLUMNS[1:]] == ["int64", "int64", "int64", "float64"]
    assert _same(frame, expected)


@pytest.mark.parametrize("export_format", ["csv", "ndjson", "parquet"])
def test_a_job_without_points_exports_an_empty_file(session: Session, export_format: str) -> None:
    owner = get_or_create_principal(session=session, name="idle")
    job = job_store.create_job(
        session=session, principal_id=owner.id, spec=JobSpec.model_validate({"dataset": {"name": "iris"}}), queue="cpu"
    )
    session.commit()
    sessions = sessionmaker(session.get_bind(), expire_on_commit=False)
    data = b"".join(export_metrics(sessions=sessions, job_id=job.id, export_format=export_format))
    if export_format == "ndjson":
        assert data == b""
    else:
        assert READERS[export_format](data).empty


def test_pages_follow_the_key_without_gaps_or_repeats(session: Session) -> None:
    job_id, expected = _logged_job(session)
    pages, after = [], None
    while page := read_points_after(session=session, job_id=job_id, after=after, limit=11):
        pages.append(page)
        after = (page[-1].name, page[-1].fold, page[-1].epoch, page[-1].step)
    assert [len(p) for p in pages] == [11] * (len(expected) // 11) + [len(expected) % 11]
    assert [row[:4] for page in pages for row in page] == [row[:4] for row in expected]


def test_parquet_gathers_pages_into_row_groups_as_it_goes() -> None:
    encoder = ParquetEncoder()
    pages = [
        [("train_loss", 0, s // 10, s, s / 3) for s in range(p, p + PAGE_POINTS)] for p in range(0, 60_000, PAGE_POINTS)
    ]
    chunks = [encoder.start(), *(encoder.page(page) for page in pages), encoder.end()]  # type: ignore[arg-type]
    written = [len(chunk) > 0 for chunk in chunks[1:-1]]
    assert written.count(True) == 60_000 // ROW_GROUP_POINTS  # a row group sent as soon as it is full
    parquet = pq.ParquetFile(io.BytesIO(b"".join(chunks)))
    assert [parquet.metadata.row_group(i).num_rows for i in range(parquet.num_row_groups)] == [
        ROW_GROUP_POINTS,
        60_000 - ROW_GROUP_POINTS,
    ]
    assert parquet.read().column("step").to_pylist() == list(range(60_000))
