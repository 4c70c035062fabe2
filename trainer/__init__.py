"""The trainer: plain PyTorch, no HTTP, SQL or Celery. `fit(spec, callbacks)` is the whole interface."""

from trainer.callbacks import Callbacks, EpochRecord, FitResult, FoldResult
from trainer.datasets import DatasetError
from trainer.fit import fit

__all__ = ["Callbacks", "DatasetError", "EpochRecord", "FitResult", "FoldResult", "fit"]
