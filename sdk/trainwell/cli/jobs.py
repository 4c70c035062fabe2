"""`trainwell jobs ls|show|wait|cancel|delete|metrics|export-metrics|diagnose|plot|landscape|model|predict`."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path
from typing import Annotated

import typer

from trainwell.cli import render
from trainwell.cli.context import exit_for, state
from trainwell.job import JobStatus
from trainwell.metric_export import MetricExportFormatName
from trainwell.model_formats import ModelFormatName

app = typer.Typer(help="List, inspect, cancel and plot your jobs.", no_args_is_help=True)

JobId = Annotated[str, typer.Argument(help="the job id")]
AsJson = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]


@app.command("ls")
def list_jobs(
    ctx: typer.Context,
    status: Annotated[JobStatus | None, typer.Option(help="only jobs in this status")] = None,
    parent: Annotated[str | None, typer.Option(help="only children of this job")] = None,
    limit: Annotated[int, typer.Option(min=1, help="at most this many jobs, newest first")] = 20,
    as_json: AsJson = False,
) -> None:
    """Your jobs, newest first."""
    pages = state(ctx).client().jobs.list(status=status, parent_id=parent, limit=min(limit, 200))
    render.job_table(list(itertools.islice(pages, limit)), as_json=as_json)


@app.command("show")
def show_job(ctx: typer.Context, job_id: JobId, as_json: AsJson = False) -> None:
    """A job's status, progress, error and results."""
    render.job_detail(state(ctx).client().jobs.retrieve(job_id), as_json=as_json)


@app.command("wait")
def wait_job(
    ctx: typer.Context,
    job_id: JobId,
    timeout: Annotated[float | None, typer.Option(help="give up after this many seconds")] = None,
    as_json: AsJson = False,
) -> None:
    """Follow a job until it ends; exit 1 if it failed or was cancelled."""
    done = state(ctx).client().jobs.wait(job_id, progress=not as_json, timeout=timeout)
    render.job_detail(done, as_json=as_json)
    raise typer.Exit(exit_for(done))


@app.command("cancel")
def cancel_job(ctx: typer.Context, job_id: JobId, as_json: AsJson = False) -> None:
    """Cancel a queued or running job."""
    job = state(ctx).client().jobs.cancel(job_id)
    render.job_status_line(job, as_json=as_json)


@app.command("delete")
def delete_job(ctx: typer.Context, job_id: JobId) -> None:
    """Delete a job with everything it stored (a queued or running one stops first)."""
    state(ctx).client().jobs.delete(job_id)
    render.out.print(f"deleted {job_id}")


@app.command("metrics")
def job_metrics(
    ctx: typer.Context,
    job_id: JobId,
    names: Annotated[str | None, typer.Option(help="comma-separated metric names (default: all)")] = None,
    fold: Annotated[int | None, typer.Option(min=0, help="only this fold")] = None,
    max_points: Annotated[
        int | None, typer.Option(min=4, help="downsample each series to about this many points")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """A job's metric series: one row per epoch, one column per metric."""
    wanted = [n.strip() for n in names.split(",") if n.strip()] if names else None
    metrics = state(ctx).client().jobs.metrics(job_id, names=wanted, fold=fold, max_points=max_points)
    render.metrics_table(metrics, as_json=as_json)


@app.command("export-metrics")
def export_metrics(
    ctx: typer.Context,
    job_id: JobId,
    out: Annotated[Path, typer.Argument(help="the file to write")],
    format: Annotated[
        MetricExportFormatName | None,
        typer.Option("--format", "-f", help="csv, ndjson or parquet (default: the one the file's suffix names)"),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Write every metric point of a job (all series, all folds) to a file: name, fold, epoch, step, value."""
    try:
        written = state(ctx).client().jobs.export_metrics(job_id, out, format=format)
    except ValueError as exc:
        render.usage_error(str(exc))
        raise typer.Exit(2) from None
    render.written(written, as_json=as_json)


@app.command("diagnose")
def diagnose_job(ctx: typer.Context, job_id: JobId, as_json: AsJson = False) -> None:
    """Why the job fits the way it does: the verdict, its summary, and the findings with their remedies
    (run one with `trainwell remedy JOB CODE --index N`)."""
    render.diagnosis_detail(state(ctx).client().jobs.diagnosis(job_id), as_json=as_json)


@app.command("plot")
def plot_job(
    ctx: typer.Context,
    job_id: JobId,
    out: Annotated[Path, typer.Option("--out", "-o", help="the PNG to write")],
    fold: Annotated[int, typer.Option(min=0, help="which fold to draw")] = 0,
    as_json: AsJson = False,
) -> None:
    """Draw loss and score per epoch, best epoch marked, into a PNG (needs trainwell\\[plot])."""
    try:
        state(ctx).client().jobs.plot(job_id, path=out, fold=fold)
    except ImportError as exc:
        render.usage_error(str(exc))
        raise typer.Exit(2) from None
    render.written(out, as_json=as_json)


@app.command("landscape")
def landscape_job(
    ctx: typer.Context,
    job_id: JobId,
    out: Annotated[Path, typer.Option("--out", "-o", help="the PNG contour plot to write")],
    timeout: Annotated[float, typer.Option(help="give up after this many seconds")] = 600.0,
    as_json: AsJson = False,
) -> None:
    """Compute a finished job's error surface (the loss from the initial to the final weights, and around
    the final weights) and write its contour plot; exit 1 if it could not be computed."""
    jobs = state(ctx).client().jobs
    landscape = jobs.wait_landscape(job_id, timeout=timeout)
    if landscape.status != "ready":
        render.usage_error(f"no landscape for job {job_id}: {landscape.error}")
        raise typer.Exit(1)
    out.write_bytes(jobs.landscape_plot(job_id))
    render.written(out, as_json=as_json)


@app.command("model")
def download_model(
    ctx: typer.Context,
    job_id: JobId,
    out: Annotated[Path, typer.Option("--out", "-o", help="the model file to write")],
    format: Annotated[
        ModelFormatName, typer.Option("--format", "-f", help="safetensors, pt2 (torch.export) or onnx")
    ] = "safetensors",
    timeout: Annotated[float, typer.Option(help="give up after this many seconds")] = 600.0,
    as_json: AsJson = False,
) -> None:
    """Download a succeeded job's trained model; the pt2 and onnx files take raw rows (normalization included)."""
    written = state(ctx).client().jobs.download_model(job_id, out, format=format, timeout=timeout)
    render.written(written, as_json=as_json)


@app.command("predict")
def predict(
    ctx: typer.Context,
    job_id: JobId,
    out: Annotated[Path, typer.Option("--out", "-o", help="the CSV of predictions to write")],
    dataset: Annotated[str | None, typer.Option(help="an uploaded dataset with the job's feature columns")] = None,
    rows: Annotated[
        Path | None,
        typer.Option(help="raw rows: a JSON list of lists, or a CSV whose header row is skipped (model's order)"),
    ] = None,
    timeout: Annotated[float, typer.Option(help="give up after this many seconds")] = 600.0,
    as_json: AsJson = False,
) -> None:
    """Predict with a succeeded job's model on an uploaded dataset or on rows from a file; writes the CSV
    (`predicted`, then a classifier's `probability_<label>` columns)."""
    if (dataset is None) == (rows is None):
        render.usage_error("give exactly one of --dataset and --rows")
        raise typer.Exit(2)
    values = _read_rows(rows) if rows is not None else None
    table = state(ctx).client().jobs.predict(job_id, values, dataset=dataset, timeout=timeout)
    out.write_text(table.csv)
    render.written(out, as_json=as_json)


def _read_rows(path: Path) -> list[list[float]]:
    text = path.read_text()
    try:
        if path.suffix.lower() == ".json":
            return [[float(value) for value in row] for row in json.loads(text)]
        return [[float(value) for value in row] for row in list(csv.reader(text.splitlines()))[1:] if row]
    except (ValueError, TypeError) as exc:
        render.usage_error(f"{path}: not rows of numbers ({exc})")
        raise typer.Exit(2) from None
