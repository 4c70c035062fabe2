"""The shipped datasets as Dataset resources, from the one table in trainwell.catalog."""

from __future__ import annotations

from trainwell.catalog import SHIPPED_DATASETS
from trainwell.dataset import Dataset, DatasetKind


def shipped_datasets() -> list[Dataset]:
    return [
        Dataset(
            id=d.name,
            name=d.name,
            kind=DatasetKind(d.source),
            task=d.task,
            rows=d.rows,
            n_features=d.features,
            n_classes=d.classes or None,
        )
        for d in SHIPPED_DATASETS.values()
    ]
