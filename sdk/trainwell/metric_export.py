"""The files a job's whole metric history exports to: one definition for the API and the SDK.

Every format has the same columns, one row per point, in the store's key order (name, fold, epoch,
step). JSON has no NaN or infinity, so NDJSON writes a non-finite value as the string the run API takes
for it (`"NaN"`, `"Infinity"`, `"-Infinity"`, trainwell.run.VALUE_SCHEMA) and CSV writes the same words;
pandas reads either column back as float64. Parquet stores IEEE doubles as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MetricExportFormatName = Literal["csv", "ndjson", "parquet"]

EXPORT_COLUMNS = ("name", "fold", "epoch", "step", "value")


@dataclass(frozen=True)
class MetricExportFormat:
    extension: str
    media_type: str


METRIC_EXPORT_FORMATS: dict[str, MetricExportFormat] = {
    "csv": MetricExportFormat("csv", "text/csv"),
    "ndjson": MetricExportFormat("ndjson", "application/x-ndjson"),
    "parquet": MetricExportFormat("parquet", "application/vnd.apache.parquet"),
}


def export_file_name(job_id: str, export_format: str) -> str:
    return f"{job_id}-metrics.{METRIC_EXPORT_FORMATS[export_format].extension}"
