"""Predictions of a succeeded job's model, as the API serves them and the SDK reads them.

A request names an uploaded table (`dataset`: the same feature columns as the job's, in any order; its
target column is not read) or carries up to MAX_INLINE_ROWS raw rows, each a list of the features' values
in the model's order (the resource's `features`). A worker fills the result: the predicted label (the user's
own strings) or value of each row, and for a classifier each label's probability. No torch here.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_INLINE_ROWS = 1000
PREDICTED_COLUMN = "predicted"
PROBABILITY_PREFIX = "probability_"  # then the label: one column per class, in the model's label order
ResultFormat = Literal["csv", "parquet"]


class PredictionStatus(StrEnum):
    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"


class PredictionRequest(BaseModel):
    """Exactly one of `dataset` and `rows`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"rows": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}, {"dataset": "ds_0"}]},
    )

    dataset: str | None = Field(
        None, max_length=19, description="an uploaded dataset's id: a table with the job's feature columns"
    )
    rows: list[list[float]] | None = Field(
        None,
        min_length=1,
        max_length=MAX_INLINE_ROWS,
        description=f"up to {MAX_INLINE_ROWS} raw rows, each the features' values in the model's order",
    )

    @model_validator(mode="after")
    def _one_source(self) -> PredictionRequest:
        if (self.dataset is None) == (self.rows is None):
            raise ValueError("give exactly one of 'dataset' (an uploaded table's id) and 'rows' (inline rows)")
        return self


class Predictions(BaseModel):
    id: str
    job_id: str
    status: PredictionStatus
    dataset: str | None = Field(None, description="the uploaded table predicted on; null for inline rows")
    rows: int = Field(description="rows predicted on")
    task: Literal["classification", "regression"]
    labels: list[str] | None = Field(None, description="a classifier's labels: the probability columns' order")
    features: list[str] = Field(description="the model's input features, the order of an inline row's values")
    error: str | None = Field(None, description="why the worker could not predict, when it failed")
    csv_url: str | None = Field(None, description="the result as CSV, once succeeded")
    parquet_url: str | None = Field(None, description="the result as Parquet, once succeeded")
    requested_at: datetime
    finished_at: datetime | None = None


@dataclass(frozen=True)
class PredictionTable:
    """Finished predictions, read from their CSV: row i's predicted label (a classifier's, in the uploaded
    table's own strings) or value, and a classifier's probability of each of `predictions.labels`."""

    predictions: Predictions
    predicted: list[str] | list[float]
    probabilities: list[list[float]] | None
    csv: str  # the result as the service wrote it

    @classmethod
    def from_csv(cls, predictions: Predictions, text: str) -> PredictionTable:
        reader = csv.reader(io.StringIO(text))
        header = next(reader)
        rows = list(reader)
        if predictions.task == "regression":
            return cls(predictions, [float(row[0]) for row in rows], None, text)
        probability_columns = [k for k, name in enumerate(header) if name.startswith(PROBABILITY_PREFIX)]
        probabilities = [[float(row[k]) for k in probability_columns] for row in rows]
        return cls(predictions, [row[0] for row in rows], probabilities, text)
