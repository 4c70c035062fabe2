"""`trainwell sweeps create|show|ls|cancel`, and how `--grid KEY=V1,V2` and `--seeds 0,1,2` are read."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from trainwell._spec_file import load_spec_file
from trainwell.cli import sweep_render
from trainwell.cli.context import EXIT_JOB_FAILED, EXIT_OK, state
from trainwell.sweep import Sweep, SweepStatus

app = typer.Typer(help="Run a spec over a grid of field values × seeds and compare the cells.", no_args_is_help=True)

SweepId = Annotated[str, typer.Argument(help="the sweep id")]
AsJson = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
OPENERS, CLOSERS = "[{", "]}"


def split_values(text: str) -> list[str]:
    """`[64],[128,128]` → `["[64]", "[128,128]"]`: a comma splits only outside brackets, braces and JSON strings."""
    parts, start, depth, quoted, escaped = [], 0, 0, False, False
    for index, char in enumerate(text):
        if quoted:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char in OPENERS:
            depth += 1
        elif char in CLOSERS:
            depth -= 1
            if depth < 0:
                raise ValueError(f"{text!r}: {char!r} closes nothing")
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    if quoted or depth:
        raise ValueError(f"{text!r}: an unclosed {'string' if quoted else 'bracket or brace'}")
    return [*parts, text[start:]]


def parse_value(text: str) -> Any:
    """JSON where it parses (`16`, `0.1`, `true`, `null`, `[64,64]`, `{"name":"sgd"}`), else the text itself."""
    text = text.strip()
    if not text:
        raise ValueError("an empty value (two commas in a row, or one at an end)")
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_grid(options: list[str]) -> dict[str, list[Any]]:
    """The `--grid KEY=V1,V2,...` options as the request's grid, keys in the order given."""
    grid: dict[str, list[Any]] = {}
    for option in options:
        key, equals, values = option.partition("=")
        key = key.strip()
        if not equals or not key:
            raise ValueError(f"{option!r} is not KEY=VALUE[,VALUE...]")
        if key in grid:
            raise ValueError(f"{key!r} given twice: list all its values in one --grid")
        try:
            grid[key] = [parse_value(value) for value in split_values(values)]
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
    return grid


def parse_seeds(text: str) -> list[int]:
    try:
        return [int(seed) for seed in text.split(",")]
    except ValueError:
        raise ValueError(f"{text!r} is not a comma-separated list of integers") from None


def exit_for(sweep: Sweep) -> int:
    """0 when every trial ended and none failed; 1 when the sweep was cancelled or a trial failed."""
    return EXIT_OK if sweep.status == SweepStatus.succeeded and not sweep.counts.failed else EXIT_JOB_FAILED


@app.command("create")
def create_sweep(
    ctx: typer.Context,
    spec: Annotated[
        Path,
        typer.Argument(
            help="the base job spec file, YAML or JSON; or a whole sweep file (`base`, `grid` or `search`, "
            "`seeds`, `max_parallel`, `name`, `early_stop`: examples/sweeps/, examples/searches/), which the "
            "options extend or override"
        ),
    ],
    grid: Annotated[
        list[str] | None,
        typer.Option(
            "--grid",
            "-g",
            metavar="KEY=V1,V2",
            help="KEY=V1,V2,... with KEY a dotted spec field (optimizer.lr, model.hidden), repeated per key; "
            'values are JSON where they parse (16, true, \\[64,64], {"name":"sgd"}), else strings',
        ),
    ] = None,
    seeds: Annotated[
        str | None, typer.Option(metavar="0,1,2", help="comma-separated seeds, each cell runs once per seed")
    ] = None,
    max_parallel: Annotated[int | None, typer.Option(min=1, help="at most this many trials at once")] = None,
    name: Annotated[str | None, typer.Option(help="a label for people")] = None,
    wait: Annotated[bool, typer.Option("--wait", "-w", help="follow the sweep until it ends, then show it")] = False,
    timeout: Annotated[float | None, typer.Option(help="with --wait: give up after this many seconds")] = None,
    as_json: AsJson = False,
) -> None:
    """Run SPEC once per grid cell and seed, or per configuration a sweep file's search samples; with --wait,
    exit 1 if the sweep was cancelled or a trial failed."""
    try:
        parsed_grid = parse_grid(grid or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--grid") from None
    try:
        parsed_seeds = None if seeds is None else parse_seeds(seeds)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--seeds") from None
    base: Any = spec
    document = load_spec_file(spec)
    search, early_stop = None, None
    if "base" in document and ("grid" in document or "search" in document):  # a whole sweep: options extend it
        base, parsed_grid = document["base"], {**document.get("grid", {}), **parsed_grid}
        search, early_stop = document.get("search"), document.get("early_stop")
        parsed_seeds = parsed_seeds if parsed_seeds is not None else document.get("seeds")
        max_parallel = max_parallel if max_parallel is not None else document.get("max_parallel")
        name = name if name is not None else document.get("name")
    if not parsed_grid and search is None:
        message = "give the grid: --grid KEY=V1,V2, or a sweep file with `grid` or `search`"
        raise typer.BadParameter(message, param_hint="--grid")
    sweeps = state(ctx).client().sweeps
    sweep = sweeps.create(
        base,
        parsed_grid or None,
        search=search,
        seeds=parsed_seeds,
        max_parallel=max_parallel,
        name=name,
        early_stop=early_stop,
    )
    if not wait:
        sweep_render.sweep_created(sweep, as_json=as_json)
        return
    if not as_json:
        sweep_render.sweep_created(sweep, as_json=False)
    done = sweeps.wait(sweep, timeout=timeout, progress=not as_json)
    sweep_render.sweep_detail(done, as_json=as_json)
    raise typer.Exit(exit_for(done))


@app.command("show")
def show_sweep(ctx: typer.Context, sweep_id: SweepId, as_json: AsJson = False) -> None:
    """A sweep's cells (mean ± std over the seeds), the best cell against the runner-up, and the findings."""
    sweep_render.sweep_detail(state(ctx).client().sweeps.retrieve(sweep_id), as_json=as_json)


@app.command("ls")
def list_sweeps(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="at most this many sweeps, newest first")] = 20,
    as_json: AsJson = False,
) -> None:
    """Your sweeps, newest first."""
    pages = state(ctx).client().sweeps.list(limit=min(limit, 200))
    sweep_render.sweep_table(list(itertools.islice(pages, limit)), as_json=as_json)


# `list` reads as well as the `ls` the other groups use
app.command("list", hidden=True)(list_sweeps)


@app.command("cancel")
def cancel_sweep(ctx: typer.Context, sweep_id: SweepId, as_json: AsJson = False) -> None:
    """Cancel a running sweep's unfinished trials; nothing more starts."""
    sweep_render.sweep_status_line(state(ctx).client().sweeps.cancel(sweep_id), as_json=as_json)
