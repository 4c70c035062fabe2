"""The static table of shipped datasets matches what the trainer actually loads."""

from __future__ import annotations

import pytest

from api.services.datasets import shipped_datasets
from trainer.datasets import load_dataset
from trainwell.spec import DatasetSpec


@pytest.mark.parametrize("entry", shipped_datasets(), ids=lambda d: d.id)
def test_the_catalog_matches_the_trainer(entry) -> None:  # type: ignore[no-untyped-def]
    data = load_dataset(DatasetSpec(name=entry.id))
    assert data.task == entry.task
    assert data.X.shape[1] == entry.n_features
    assert (data.num_classes or None) == entry.n_classes
    if entry.rows is not None:
        assert len(data.X) == entry.rows
