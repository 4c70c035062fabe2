"""A run's whole metric history over real HTTP, as CSV, NDJSON and Parquet: every stored point exactly,
in the key's order, across more than one page; through the SDK (a file, a DataFrame, sync and async);
private to its owner; an unknown format refused naming the allowed ones; hung-up downloads hold nothing."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import random
import secrets
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import trainwell
from api.services.metric_export import PAGE_POINTS
from tests.stack import Stack

Point = tuple[str, int, int, int, float]
STEPS = 3_000  # 2 series × 2 folds × 3,000 steps: more points than a page, so the export crosses pages


def _points() -> list[Point]:
    rng = random.Random(7)
    odd = [0.1 + 0.2, 1e-300, -1e300, 123456789.123456789]
    return [
        (
            name,
            fold,
            step // 100,
            step,
            odd[step % 4] if step % 97 == 0 else rng.uniform(-3, 3) * 10 ** rng.randint(-8, 8),
        )
        for fold in (0, 1)
        for step in range(STEPS)
        for name in ("train_loss", "val_loss")
    ]


def _logged_run(stack: Stack, key: str) -> tuple[str, list[Point]]:
    """An external run with its points sent in the order a loop logs them, then one NaN (which marks the
    run diverged and is not stored: trainwell.run.RunPoint)."""
    points = _points()
    with stack.client(key) as client:
        run = client.post("/v1/runs", json={"name": "export", "task": "regression"}).json()
        body = [{"name": n, "fold": f, "epoch": e, "step": s, "value": v} for n, f, e, s, v in points]
        body.append({"name": "val_loss", "fold": 1, "epoch": STEPS // 100, "step": STEPS, "value": "NaN"})
        for start in range(0, len(body), 5_000):
            sent = client.post(f"/v1/runs/{run['id']}/metrics", json={"points": body[start : start + 5_000]})
            assert sent.status_code == 200, sent.text
        assert sent.json()["non_finite"] == 1 and sent.json()["diverged"]
    return run["id"], sorted(points)  # the primary key's order: name, fold, epoch, step


def _csv(data: bytes) -> list[Point]:
    reader = csv.reader(io.StringIO(data.decode()))
    assert next(reader) == ["name", "fold", "epoch", "step", "value"]
    return [(n, int(f), int(e), int(s), float(v)) for n, f, e, s, v in reader]


def _ndjson(data: bytes) -> list[Point]:
    rows = [json.loads(line) for line in data.decode().splitlines()]
    return [(r["name"], r["fold"], r["epoch"], r["step"], float(r["value"])) for r in rows]


def _parquet(data: bytes) -> list[Point]:
    table = pq.read_table(io.BytesIO(data))
    assert table.column_names == ["name", "fold", "epoch", "step", "value"]
    return [tuple(row.values()) for row in table.to_pylist()]  # type: ignore[misc]


READ = {"csv": _csv, "ndjson": _ndjson, "parquet": _parquet}
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "ndjson": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
}


def test_every_format_holds_every_stored_point_in_key_order(stack: Stack, tmp_path: Path) -> None:
    key = stack.new_key(f"export-{secrets.token_hex(4)}")
    run_id, expected = _logged_run(stack, key)
    assert len(expected) > PAGE_POINTS
    with stack.client(key) as client:
        for export_format, read in READ.items():
            response = client.get(f"/v1/jobs/{run_id}/metrics/export", params={"format": export_format})
            assert response.status_code == 200, response.text
            assert response.headers["content-type"] == MEDIA_TYPES[export_format]
            disposition = f'attachment; filename="{run_id}-metrics.{export_format}"'
            assert response.headers["content-disposition"] == disposition
            assert read(response.content) == expected, export_format
        assert client.get(f"/v1/jobs/{run_id}/metrics/export").headers["content-type"].startswith("text/csv")

    with trainwell.Client(base_url=stack.base_url, api_key=key) as sdk:
        frame = sdk.jobs.metrics_to_pandas(run_id)
        assert list(frame.itertuples(index=False, name=None)) == expected
        assert [str(frame[c].dtype) for c in ("fold", "epoch", "step", "value")] == ["int64"] * 3 + ["float64"]
        handle = sdk.jobs.retrieve(run_id)
        assert list(handle.metrics_to_pandas().itertuples(index=False, name=None)) == expected
        for export_format, read in READ.items():
            written = handle.export_metrics(tmp_path / f"sync.{export_format}")
            assert read(written.read_bytes()) == expected
        assert _csv(sdk.jobs.export_metrics(run_id, tmp_path / "named.txt", format="csv").read_bytes()) == expected
        assert not list(tmp_path.glob(".*.part"))

    async def read_async() -> None:
        async with trainwell.AsyncClient(base_url=stack.base_url, api_key=key) as sdk:
            written = await sdk.jobs.export_metrics(run_id, tmp_path / "async.parquet")
            assert _parquet(written.read_bytes()) == expected
            frame = await (await sdk.jobs.retrieve(run_id)).metrics_to_pandas()
            assert list(frame.itertuples(index=False, name=None)) == expected

    asyncio.run(read_async())


def test_an_export_is_its_owners_and_names_the_formats_it_takes(stack: Stack, tmp_path: Path) -> None:
    key = stack.new_key(f"export-{secrets.token_hex(4)}")
    with stack.client(key) as client:
        run = client.post("/v1/runs", json={"task": "regression"}).json()
        point = {"name": "train_loss", "epoch": 0, "step": 0, "value": 1.5}
        assert client.post(f"/v1/runs/{run['id']}/metrics", json={"points": [point]}).status_code == 200
        unknown = client.get(f"/v1/jobs/{run['id']}/metrics/export", params={"format": "xlsx"})
        assert unknown.status_code == 422, unknown.text
        message = unknown.json()["error"]["message"]
        assert all(name in message for name in ("csv", "ndjson", "parquet")), message
        assert client.get("/v1/jobs/no-such-job/metrics/export").status_code == 404
    with stack.client(stack.keys["bob"]) as other:
        hidden = other.get(f"/v1/jobs/{run['id']}/metrics/export", params={"format": "csv"})
        assert hidden.status_code == 404, hidden.text
    with stack.client() as anonymous:
        assert anonymous.get(f"/v1/jobs/{run['id']}/metrics/export").status_code == 401
    with trainwell.Client(base_url=stack.base_url, api_key=stack.keys["bob"]) as sdk:
        with pytest.raises(trainwell.NotFoundError):
            sdk.jobs.export_metrics(run["id"], tmp_path / "theirs.csv")
        assert not (tmp_path / "theirs.csv").exists() and not list(tmp_path.glob(".*.part"))
        with pytest.raises(ValueError, match="csv, ndjson, parquet"):
            sdk.jobs.export_metrics(run["id"], tmp_path / "metrics.xlsx")


def test_downloads_the_client_hangs_up_on_hold_no_connection(stack: Stack) -> None:
    """More hung-up exports than the API's pool has connections, then a read: each page's session is the
    stream's own and closed before the page is sent, so none is left holding one."""
    key = stack.new_key(f"export-{secrets.token_hex(4)}")
    run_id, expected = _logged_run(stack, key)
    with stack.client(key) as client:
        for _ in range(24):
            with client.stream("GET", f"/v1/jobs/{run_id}/metrics/export", params={"format": "ndjson"}) as stream:
                first = next(stream.iter_raw())
                assert first.startswith(b'{"name":"train_loss"')
        whole = client.get(f"/v1/jobs/{run_id}/metrics/export", params={"format": "ndjson"}, timeout=10)
        assert _ndjson(whole.content) == expected
        assert client.get(f"/v1/jobs/{run_id}", timeout=5).status_code == 200
