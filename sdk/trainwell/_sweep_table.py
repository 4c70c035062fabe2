"""A sweep's comparison rows as the SDK hands them out: typed `SweepCell`s, and a DataFrame on demand."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from trainwell.diagnosis import Verdict
from trainwell.job import _pandas
from trainwell.sweep import SweepCell

if TYPE_CHECKING:  # pandas is the SDK's optional extra [pandas]; the service never needs it
    import pandas as pd


class SweepTable(list[SweepCell]):
    """The sweep's cells in grid order; `to_pandas()` flattens them to one DataFrame row per cell."""

    def to_pandas(self) -> pd.DataFrame:
        return to_pandas(self)


def to_pandas(rows: Iterable[SweepCell]) -> pd.DataFrame:
    """One row per cell (needs the extra `trainwell[pandas]`): `cell`, a column per grid key, `succeeded`,
    `<stat>_mean`, `<stat>_std` and `<stat>_n` for every metric and for best_epoch, seconds and
    lambda_max, a `verdict_<verdict>` count for every verdict, and `job_ids`."""
    pd = _pandas()
    return pd.DataFrame([_flat(row) for row in rows])


def _flat(row: SweepCell) -> dict[str, Any]:
    flat: dict[str, Any] = {"cell": row.cell, **row.values, "succeeded": row.succeeded}
    stats = {**row.metrics, "best_epoch": row.best_epoch, "seconds": row.seconds, "lambda_max": row.lambda_max}
    for name, stat in stats.items():
        flat |= {f"{name}_mean": stat.mean, f"{name}_std": stat.std, f"{name}_n": stat.n}
    # every verdict gets a column, so frames of different sweeps share one schema
    flat |= {f"verdict_{verdict.value}": row.verdicts.get(verdict, 0) for verdict in Verdict}
    flat["job_ids"] = row.job_ids
    return flat


def grid_value(value: Any) -> str:
    """A grid value as a person reads it: a string as it is, anything else as compact JSON."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def cell_label(values: Mapping[str, Any]) -> str:
    """`optimizer.name=adam, batch_size=16`: what tells one cell from the others."""
    return ", ".join(f"{key}={grid_value(value)}" for key, value in values.items())
