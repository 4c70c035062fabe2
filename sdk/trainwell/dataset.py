"""The Dataset resource as the API serves it and the SDK reads it: one definition for both."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from trainwell.spec import Task


class DatasetKind(StrEnum):
    builtin = "builtin"  # shipped with scikit-learn
    synthetic = "synthetic"  # generated from n_samples, noise and seed
    uploaded = "uploaded"  # POST /v1/datasets


class Dataset(BaseModel):
    id: str = Field(description="what a job spec's dataset.name takes: a built-in or synthetic name, or ds_…")
    name: str | None = Field(description="a label for people; uploads default to the file name")
    kind: DatasetKind
    task: Task
    rows: int | None = Field(description="None for synthetic datasets: their size is the spec's n_samples")
    n_features: int
    columns: list[str] | None = Field(None, description="feature names, in column order (uploads)")
    target: str | None = Field(None, description="the target column of an upload")
    n_classes: int | None = Field(None, description="classification only")
    classes: list[str] | None = Field(None, description="uploads: the label of each class index")
    format: str | None = Field(None, description="uploads: csv, parquet or npz")
    bytes: int | None = Field(None, description="uploads: size of the stored, normalized dataset")
    created_at: datetime | None = None


class DatasetList(BaseModel):
    data: list[Dataset]
