"""Uploaded datasets: CSV, Parquet or NPZ in; the normalized npz the trainer reads out.

Every reader refuses hostile input with an `UploadError` that names the problem (the
column, the row, the limit) before anything is written; `write_dataset` is the only
function that touches the data directory, and it runs last.
"""

from uploads.formats import FORMATS, detect_format, read_table
from uploads.normalize import MAX_CLASSES, NormalizedDataset, infer_task, normalize
from uploads.storage import write_dataset
from uploads.table import Table, UploadError, UploadLimits

__all__ = [
    "FORMATS",
    "MAX_CLASSES",
    "NormalizedDataset",
    "Table",
    "UploadError",
    "UploadLimits",
    "detect_format",
    "infer_task",
    "normalize",
    "read_table",
    "write_dataset",
]
