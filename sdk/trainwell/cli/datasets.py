"""`trainwell datasets upload|ls|show`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from trainwell.cli import render
from trainwell.cli.context import EXIT_API_ERROR, state

app = typer.Typer(help="Upload your own tables and list the datasets jobs can train on.", no_args_is_help=True)

AsJson = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]


@app.command("upload")
def upload_dataset(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="a .csv (with a header row), .parquet or .npz file")],
    target: Annotated[str, typer.Option(help="the label column (NPZ: the label array, e.g. y)")],
    task: Annotated[
        Literal["classification", "regression"] | None, typer.Option(help="default: inferred from the labels")
    ] = None,
    name: Annotated[str | None, typer.Option(help="a label for people (default: the file name)")] = None,
    as_json: AsJson = False,
) -> None:
    """Upload FILE; its id (ds_…) goes into a job spec as dataset.name."""
    if not file.is_file():
        render.usage_error(f"no such file: {file}")
        raise typer.Exit(EXIT_API_ERROR)
    dataset = state(ctx).client().datasets.upload(file, target=target, task=task, name=name)
    if name and dataset.name != name:  # the service keeps a re-uploaded table's first name
        render.note(f"this table was uploaded already, as {dataset.name!r}: its name is kept, not {name!r}")
    render.dataset_detail(dataset, as_json=as_json)


@app.command("ls")
def list_datasets(ctx: typer.Context, as_json: AsJson = False) -> None:
    """The built-in and synthetic datasets, and your uploads."""
    render.dataset_table(state(ctx).client().datasets.list(), as_json=as_json)


@app.command("show")
def show_dataset(
    ctx: typer.Context, dataset_id: Annotated[str, typer.Argument(help="the dataset id")], as_json: AsJson = False
) -> None:
    """One dataset: task, shape, columns, classes."""
    render.dataset_detail(state(ctx).client().datasets.retrieve(dataset_id), as_json=as_json)
