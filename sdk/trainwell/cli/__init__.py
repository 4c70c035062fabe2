"""`trainwell`: the command line over the SDK. Tables for people, `--json` for scripts.

Exit codes: 0 ok; 1 the job (waited for) failed or was cancelled; 2 a usage or API error.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from trainwell import __version__
from trainwell._exceptions import TrainwellError
from trainwell.cli import render
from trainwell.cli.context import EXIT_API_ERROR, CliState, await_diagnosis, exit_for, state
from trainwell.cli.datasets import app as datasets_app
from trainwell.cli.jobs import app as jobs_app
from trainwell.cli.sweeps import app as sweeps_app
from trainwell.job import Job

app = typer.Typer(
    name="trainwell",
    help="Submit PyTorch training jobs to a trainwell service and follow them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(jobs_app, name="jobs")
app.add_typer(datasets_app, name="datasets")
app.add_typer(sweeps_app, name="sweeps")


def _version(show: bool) -> None:
    if show:
        typer.echo(f"trainwell {__version__}")
        raise typer.Exit()


@app.callback()
def configure(
    ctx: typer.Context,
    url: Annotated[
        str | None, typer.Option("--url", help="API base URL (default: $TRAINWELL_URL, else http://127.0.0.1:8000)")
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            help="bearer key (default: $TRAINWELL_API_KEY, else $TRAINWELL_DATA_DIR/api_key or ./var/api_key)",
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    ctx.obj = CliState(url=url, api_key=api_key)


@app.command()
def submit(
    ctx: typer.Context,
    spec: Annotated[Path, typer.Argument(help="a job spec file, YAML or JSON")],
    wait: Annotated[bool, typer.Option("--wait", "-w", help="follow the job until it ends")] = False,
    timeout: Annotated[float | None, typer.Option(help="with --wait: give up after this many seconds")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the job as JSON (no progress bar)")] = False,
) -> None:
    """Submit the job in SPEC; with --wait, show its progress and then its results and verdict."""
    client = state(ctx).client()
    job = client.jobs.create(spec)
    if not wait:
        render.job_created(job, as_json=as_json)
        return
    if not as_json:
        render.job_created(job, as_json=False)
    _finish(ctx, job, timeout=timeout, as_json=as_json)


@app.command()
def remedy(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(help="the diagnosed job")],
    code: Annotated[str, typer.Argument(help="the finding's code, as `trainwell jobs diagnose` lists it")],
    index: Annotated[int, typer.Option(min=0, help="which of the finding's remedies")] = 0,
    wait: Annotated[bool, typer.Option("--wait", "-w", help="follow the new job until it ends")] = False,
    timeout: Annotated[float | None, typer.Option(help="with --wait: give up after this many seconds")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the job as JSON (no progress bar)")] = False,
) -> None:
    """Launch the job that applies remedy INDEX of finding CODE of JOB's diagnosis."""
    job = state(ctx).client().jobs.run_remedy(job_id, code, index=index)
    if not wait:
        render.job_created(job, as_json=as_json)
        return
    if not as_json:
        render.job_created(job, as_json=False)
    _finish(ctx, job, timeout=timeout, as_json=as_json)


@app.command()
def usage(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="print the usage as JSON")] = False,
) -> None:
    """Your jobs, the bytes you store (uploads, checkpoints, exports), and your quotas with what is left."""
    render.usage_table(state(ctx).client().usage(), as_json=as_json)


def _finish(ctx: typer.Context, job: Job, *, timeout: float | None, as_json: bool) -> None:
    """Wait for the job, print it and its verdict (--json: the job with a `diagnosis` key), exit by its status."""
    client = state(ctx).client()
    done = client.jobs.wait(job, progress=not as_json, timeout=timeout)
    diagnosis = await_diagnosis(client, done)
    if as_json:
        render.print_json(
            {**done.model_dump(mode="json"), "diagnosis": diagnosis.model_dump(mode="json") if diagnosis else None}
        )
    else:
        render.job_detail(done, as_json=False)
        if diagnosis is not None:
            render.verdict_line(diagnosis)
    raise typer.Exit(exit_for(done))


def main() -> None:
    try:
        app()
    except TrainwellError as exc:
        render.error(exc)
        sys.exit(EXIT_API_ERROR)
