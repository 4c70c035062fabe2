"""Task inference, class indices, the content id, and the npz the trainer reads back."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest

from tests.datasets.files import csv_bytes, npz_bytes, parquet_bytes
from trainer.datasets import load_uploaded
from trainwell.spec import UPLOADED_DATASET_ID, DatasetSpec
from uploads import Table, UploadError, UploadLimits, infer_task, normalize, read_table, write_dataset

LIMITS = UploadLimits(max_bytes=1 << 20, max_rows=10_000, max_columns=100)


def table(target: np.ndarray, columns: int = 2) -> Table:
    rng = np.random.default_rng(0)
    return Table(
        [f"f{j}" for j in range(columns)], rng.normal(size=(len(target), columns)).astype(np.float32), "t", target
    )


@pytest.mark.parametrize(
    "target, task",
    [
        (np.array([0.0, 1.0] * 10), "classification"),  # two values: always classes
        (np.arange(1000.0) % 7, "classification"),  # 7 ≤ 50 and ≤ 5% of 1000
        (np.arange(100.0) % 7, "regression"),  # 7 > 5% of 100: a count, not a label
        (np.arange(10_000.0) % 60, "regression"),  # more than 50 values
        (np.array([0.5, 1.0] * 10), "regression"),  # not integer-valued
        (np.array(["cat", "dog", "cat"]), "classification"),  # labels
    ],
)
def test_the_task_is_inferred_by_the_documented_rule(target: np.ndarray, task: str) -> None:
    assert infer_task(target) == task


def test_classes_become_indices_in_sorted_label_order() -> None:
    numeric = normalize(table(np.array([5.0, 3.0, 5.0, 9.0])), "classification")
    assert numeric.task == "classification" and numeric.classes == ["3", "5", "9"]
    assert numeric.y.dtype == np.int64 and numeric.y.tolist() == [1, 0, 1, 2]
    labels = normalize(table(np.array(["b", "a", "b"])))
    assert labels.classes == ["a", "b"] and labels.y.tolist() == [1, 0, 1] and labels.n_classes == 2


def test_declared_tasks_are_checked_against_the_target() -> None:
    regression = normalize(table(np.array([0.0, 1.0, 1.0])), "regression")
    assert regression.y.dtype == np.float32 and regression.classes is None and regression.n_classes is None
    with pytest.raises(UploadError, match=r"column 't' is not numeric \(row 2 holds 'x'\); regression needs numbers"):
        normalize(table(np.array(["1", "x"])), "regression")
    with pytest.raises(UploadError, match=r"holds 0\.5 at row 2; classification needs integer"):
        normalize(table(np.array([1.0, 0.5, 1.0])), "classification")
    with pytest.raises(UploadError, match="single class"):
        normalize(table(np.array([1.0, 1.0, 1.0])))
    with pytest.raises(UploadError, match="empty label at row 2"):
        normalize(table(np.array(["a", "", "b"])))
    with pytest.raises(UploadError, match="at least 2"):
        normalize(table(np.array([1.0])))


def test_the_id_hashes_the_normalized_content_whatever_the_format() -> None:
    X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    y = np.array([0, 1, 0])
    as_csv = read_table(
        io.BytesIO(csv_bytes(["x0", "x1", "y"], [[1, 2, 0], [3, 4, 1], [5, 6, 0]])),
        fmt="csv",
        target="y",
        limits=LIMITS,
    )
    as_parquet = read_table(
        io.BytesIO(parquet_bytes({"x0": X[:, 0], "x1": X[:, 1], "y": y})), fmt="parquet", target="y", limits=LIMITS
    )
    as_npz = read_table(io.BytesIO(npz_bytes(X=X, y=y)), fmt="npz", target="y", limits=LIMITS)
    ids = {normalize(t).id for t in (as_csv, as_parquet, as_npz)}
    assert len(ids) == 1 and UPLOADED_DATASET_ID.match(ids.pop())
    renamed = Table(["a", "b"], as_csv.X, "y", as_csv.target)
    assert normalize(renamed).id != normalize(as_csv).id
    assert normalize(as_csv, "regression").id != normalize(as_csv).id


def test_the_written_file_is_what_the_trainer_loads(tmp_path: Path) -> None:
    dataset = normalize(table(np.array(["b", "a", "b", "c"] * 5)))
    size = write_dataset(dataset, tmp_path / "datasets")
    assert os.listdir(tmp_path / "datasets") == [f"{dataset.id}.npz"]  # no temp file left
    assert size == (tmp_path / "datasets" / f"{dataset.id}.npz").stat().st_size
    loaded = load_uploaded(DatasetSpec(name=dataset.id).name, tmp_path)
    assert loaded.task == "classification" and loaded.num_classes == 3
    assert np.array_equal(loaded.X, dataset.X) and np.array_equal(loaded.y, dataset.y)
    assert write_dataset(dataset, tmp_path / "datasets") == size  # content-addressed: written once

    regression = normalize(table(np.linspace(0, 1, 20)), "regression")
    write_dataset(regression, tmp_path / "datasets")
    loaded = load_uploaded(regression.id, tmp_path)
    assert loaded.task == "regression" and loaded.y.dtype == np.float32 and np.allclose(loaded.y, regression.y)


def test_a_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken)
    with pytest.raises(OSError, match="disk full"):
        write_dataset(normalize(table(np.array([0.0, 1.0] * 5))), tmp_path)
    assert os.listdir(tmp_path) == []
