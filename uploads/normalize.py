"""From a parsed table to what the trainer reads: the task, int64 class indices or float32
targets, and the content-addressed id."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np

from trainwell.spec import Task
from uploads.table import Table, invalid

# The output layer has one unit per class; past this the target is an id, not a label.
MAX_CLASSES = 1000
# Task inference for a numeric target with no declared task: integer values with few distinct
# ones are class labels. "Few" is at most 50 and at most 5% of the rows (so a count or an age
# on a small table stays a regression target); two distinct values are always classes.
MAX_INFERRED_CLASSES = 50
INFERRED_CLASS_FRACTION = 0.05
ID_VERSION = b"trainwell-dataset-v1\n"


@dataclass(frozen=True)
class NormalizedDataset:
    id: str  # "ds_" + 16 hex digits of the SHA-256 of the normalized content
    X: np.ndarray  # float32 [n, d]
    y: np.ndarray  # int64 class index in [0, n_classes) or float32 target
    task: Task
    columns: list[str]
    target: str
    classes: list[str] | None  # the label of each class index; None for regression

    @property
    def rows(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_classes(self) -> int | None:
        return None if self.classes is None else len(self.classes)


def infer_task(target: np.ndarray) -> Task:
    if target.dtype.kind == "U":
        return "classification"
    if not np.array_equal(target, np.round(target)):
        return "regression"
    distinct = len(np.unique(target))
    few = distinct <= min(MAX_INFERRED_CLASSES, INFERRED_CLASS_FRACTION * len(target))
    return "classification" if distinct <= 2 or few else "regression"


def normalize(table: Table, task: Task | None = None) -> NormalizedDataset:
    if table.rows < 2:
        raise invalid(f"the dataset has {table.rows} row; at least 2 are needed to train and test")
    task = task or infer_task(table.target)
    if task == "classification":
        y, classes = _class_indices(table)
    else:
        if table.target.dtype.kind == "U":
            row = _first_non_number(table.target)
            raise invalid(
                f"target column {table.target_name!r} is not numeric (row {row + 1} holds "
                f"{str(table.target[row])[:40]!r}); regression needs numbers",
                column=table.target_name,
                row=row + 1,
            )
        y, classes = table.target.astype(np.float32), None
    X = np.ascontiguousarray(table.X, dtype=np.float32)
    return NormalizedDataset(
        _content_id(X, y, task, table.columns, table.target_name, classes),
        X,
        y,
        task,
        table.columns,
        table.target_name,
        classes,
    )


def _class_indices(table: Table) -> tuple[np.ndarray, list[str]]:
    target, name = table.target, table.target_name
    if target.dtype.kind == "U":
        empty = np.flatnonzero(np.char.str_len(target) == 0)
        if len(empty):
            row = int(empty[0]) + 1
            raise invalid(f"target column {name!r} has an empty label at row {row}", column=name, row=row)
        labels, y = np.unique(target, return_inverse=True)
        classes = [str(label) for label in labels]
    else:
        fractional = np.flatnonzero(target != np.round(target))
        if len(fractional):
            row = int(fractional[0]) + 1
            raise invalid(
                f"target column {name!r} holds {target[row - 1]:g} at row {row}; classification needs integer "
                "or string labels (declare task=regression for a continuous target)",
                column=name,
                row=row,
            )
        values, y = np.unique(target, return_inverse=True)
        classes = [str(int(value)) for value in values]
    if len(classes) < 2:
        raise invalid(f"target column {name!r} has a single class; classification needs two or more", column=name)
    if len(classes) > MAX_CLASSES:
        raise invalid(f"target column {name!r} has {len(classes)} classes; at most {MAX_CLASSES} allowed", column=name)
    return y.astype(np.int64), classes


def _first_non_number(labels: np.ndarray) -> int:
    for row, label in enumerate(labels):
        try:
            float(label)
        except ValueError:
            return row
    return 0


def _content_id(
    X: np.ndarray, y: np.ndarray, task: Task, columns: list[str], target: str, classes: list[str] | None
) -> str:
    """The id hashes the normalized content, not the uploaded bytes: the same table as CSV,
    Parquet or NPZ, or with other line endings, is one dataset; other column names are another."""
    digest = hashlib.sha256(ID_VERSION)
    meta = {"task": task, "columns": columns, "target": target, "classes": classes, "shape": list(X.shape)}
    digest.update(json.dumps(meta, sort_keys=True).encode())
    digest.update(b"\0" + X.tobytes() + b"\0" + y.tobytes())
    return "ds_" + digest.hexdigest()[:16]
