"""A succeeded job's kept weights, written beside its checkpoints as its model file (trainer/model_file.py).

An uploaded dataset's own names come from its row: the feature columns, the string labels, the target.
"""

from __future__ import annotations

from pathlib import Path

from core.settings import get_settings
from store.datasets import get_dataset
from store.db import session_scope
from trainer import FitResult
from trainer.datasets import load_dataset
from trainer.model_file import MODEL_FILE, model_card, write_model_file
from trainwell.spec import UPLOADED_DATASET_ID, JobSpec


def model_file_path(job_id: str) -> Path:
    return get_settings().checkpoint_dir / job_id / MODEL_FILE


def save_model_file(job_id: str, spec: JobSpec, result: FitResult) -> Path | None:
    """Write the job's model file; None when the fit kept no weights (nothing was trained)."""
    if result.state_dict is None or not result.folds:
        return None
    settings = get_settings()
    features = labels = target = None
    if UPLOADED_DATASET_ID.match(spec.dataset.name):
        with session_scope() as session:
            row = get_dataset(session=session, dataset_id=spec.dataset.name, principal_id=None)
            if row is not None:
                features, labels, target = list(row.columns), row.classes, row.target
    dataset = load_dataset(spec.dataset, settings.data_dir)
    card = model_card(spec, result, dataset, features=features, labels=labels, target=target)
    path = model_file_path(job_id)
    write_model_file(path, result.state_dict, card)
    return path
