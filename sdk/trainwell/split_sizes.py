"""How many rows each split of a dataset gets, computed from the row count alone, so a spec whose
splits would be empty is refused at submission with the field to change, rather than failing in
scikit-learn after it was queued.

The sizes follow scikit-learn's `train_test_split` with a fractional `test_size` (the test split
gets ceil(fraction × rows), the other side the rest), as trainer/splits.py calls it: the test split
is cut first, then validation (a holdout of the remaining rows, or k folds of them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from trainwell.catalog import Incompatibility


@dataclass(frozen=True)
class SplitSizes:
    train: int
    validation: int  # k-fold: the smallest fold's
    test: int


def split_sizes(rows: int, *, test_fraction: float, holdout: float | None, kfold: int | None) -> SplitSizes:
    test = math.ceil(test_fraction * rows)
    rest = rows - test
    if kfold is None:
        validation = math.ceil((holdout or 0.0) * rest)
        return SplitSizes(train=rest - validation, validation=validation, test=test)
    # the smallest fold validates; the largest leaves the fewest rows to train on
    return SplitSizes(train=rest - math.ceil(rest / kfold), validation=rest // kfold, test=test)


def split_problem(
    rows: int, classes: int, *, test_fraction: float, holdout: float | None, kfold: int | None
) -> Incompatibility | None:
    """Why these splits cannot be made from `rows` rows, or None. Each split must hold at least one
    row per class (a stratified split needs that, and a split without every class cannot measure
    it), and at least one row for regression."""
    sizes = split_sizes(rows, test_fraction=test_fraction, holdout=holdout, kfold=kfold)
    need = max(classes, 1)
    what = f"{classes} classes" if classes else "regression"
    validation_field = "dataset.validation." + ("holdout" if kfold is None else "kfold")
    for field, name, size in (
        ("dataset.test_fraction", "test", sizes.test),
        (validation_field, "validation", sizes.validation),
        ("dataset.test_fraction", "training", sizes.train),
    ):
        if size < need:
            return Incompatibility(
                field,
                f"{rows} rows split this way leave {size} {name} row(s) for {what}; each split needs at least "
                f"{need} (test {sizes.test}, validation {sizes.validation}, training {sizes.train})",
            )
    return None
