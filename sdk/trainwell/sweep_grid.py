"""A sweep's grid expanded into its trials' specs, every one validated before anything is stored.

Pure: the service expands a request with it, and a client may check a grid before sending it.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from trainwell.diagnosis import merge_patch
from trainwell.spec import JobSpec
from trainwell.sweep import SweepRequest


class GridError(ValueError):
    """A grid that cannot expand into valid specs: `field` names the grid key (or `seeds`), `cell` the
    cell whose spec was refused, `allowed` what the field takes when the spec's schema says."""

    def __init__(self, field: str, message: str, *, cell: int | None = None, allowed: Any = None) -> None:
        super().__init__(message)
        self.field, self.message, self.cell, self.allowed = field, message, cell, allowed


@dataclass(frozen=True)
class Cell:
    index: int
    values: dict[str, Any]  # grid key → this cell's value


@dataclass(frozen=True)
class Trial:
    cell: Cell
    seed: int
    spec: JobSpec


def cells(grid: dict[str, list[Any]]) -> list[Cell]:
    """The grid's cartesian product, in the order of its keys and of each key's values."""
    for key, values in grid.items():
        if not values:
            raise GridError(f"grid.{key}", "lists no values")
    keys = list(grid)
    return [
        Cell(index, dict(zip(keys, combo, strict=True)))
        for index, combo in enumerate(itertools.product(*grid.values()))
    ]


def expand(request: SweepRequest, *, max_trials: int) -> list[Trial]:
    """Every trial of the sweep, cell by cell and seed by seed, each spec validated; GridError on the first
    key, cell or spec the service would refuse.

    The base is taken as the caller wrote it (fields left unset keep their defaults after the patches), so
    a grid over `model.kind` does not inherit a default of the other kind. Probe jobs are off for a trial
    unless the base's `diagnosis.probes` turns them on: the sweep is already the comparison, and a
    sweep's worth of probes would double its cost.
    """
    if request.grid is None:
        raise GridError("grid", "a sweep needs a grid (or a search)")
    grid = cells(request.grid)
    count = len(grid) * len(request.seeds)
    if count > max_trials:
        raise GridError(
            "grid", f"{len(grid)} cells × {len(request.seeds)} seeds is {count} trials; at most {max_trials}"
        )
    base = written_base(request)
    for key in request.grid:
        check_path(key, f"grid.{key}")
    trials = []
    for cell in grid:
        spec = _validate(patched(base, cell.values), cell)
        trials += [Trial(cell, seed, spec.model_copy(update={"seed": seed})) for seed in request.seeds]
    return trials


def written_base(request: SweepRequest) -> dict[str, Any]:
    """The base as the caller wrote it, with probes off unless it says otherwise (expand)."""
    base = request.base.model_dump(mode="json", exclude_unset=True)
    if "probes" not in base.get("diagnosis", {}):
        base = merge_patch(base, {"diagnosis": {"probes": False}})
    return base


def patched(base: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """`base` with each dotted path's field replaced by its value (merge-patched by an object)."""
    for key, value in values.items():
        base = _set(base, key.split("."), value)
    return base


def check_path(key: str, field: str) -> None:
    """A key names a field of the spec's schema, nested through objects; GridError naming `field` if not."""
    if key == "seed":
        raise GridError(field, "the trial seed comes from `seeds`; list the values there")
    schema = JobSpec.model_json_schema()
    node: dict[str, Any] = schema
    for depth, part in enumerate(key.split(".")):
        properties = _properties(node, schema)
        if part not in properties:
            where = ".".join(key.split(".")[:depth]) or "the spec"
            raise GridError(field, f"{where} has no field {part!r}", allowed=sorted(properties))
        node = properties[part]


def _properties(node: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The fields an object node (or any object among a union's members) declares."""
    found: dict[str, Any] = {}
    for member in [node, *node.get("anyOf", []), *node.get("oneOf", []), *node.get("allOf", [])]:
        ref = member.get("$ref")
        if ref is not None:
            member = schema["$defs"][ref.rsplit("/", 1)[1]]
        found |= member.get("properties", {})
        if member is not node and ("anyOf" in member or "oneOf" in member):
            found |= _properties(member, schema)
    return found


def _set(spec: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    """A copy of `spec` with the field at `path` replaced by `value`, or merge-patched by an object."""
    head, rest = path[0], path[1:]
    copy = dict(spec)
    if rest:
        inner = copy.get(head)
        copy[head] = _set(inner if isinstance(inner, dict) else {}, rest, value)
    elif isinstance(value, dict):
        inner = copy.get(head)
        copy[head] = merge_patch(inner if isinstance(inner, dict) else {}, value)
    else:
        copy[head] = value
    return copy


def _validate(spec: dict[str, Any], cell: Cell) -> JobSpec:
    try:
        return JobSpec.model_validate(spec)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"] if not isinstance(part, int) or True)
        allowed = (error.get("ctx") or {}).get("expected")
        values = json.dumps(cell.values, sort_keys=True)
        raise GridError(
            field, f"cell {cell.index} ({values}): {field}: {error['msg']}", cell=cell.index, allowed=allowed
        ) from None
