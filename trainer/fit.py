"""`fit`: train a job spec fold by fold, report through callbacks, checkpoint every epoch, resume.

The one entry point the worker (and any notebook) calls. It reads only the spec; metrics, heartbeats
and cancellation reach the outside world through `Callbacks` (minGPT's pattern).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from trainer.callbacks import Callbacks, EpochRecord, FitResult, FitStatus, FoldResult
from trainer.checkpoint import checkpoint_path, load_checkpoint, newest_checkpoint, save_checkpoint
from trainer.datasets import Dataset, DatasetError, load_dataset
from trainer.fold import FoldRun
from trainer.splits import fold_count, fold_data
from trainwell.catalog import incompatibility
from trainwell.spec import JobSpec, Task


def fit(
    spec: JobSpec,
    callbacks: Callbacks | None = None,
    *,
    checkpoint_dir: Path | None = None,
    data_dir: Path | None = None,
    attempt: int | None = None,
) -> FitResult:
    """Train `spec`; with `checkpoint_dir`, save a checkpoint after every epoch and resume from one if present:
    `last.pt`, or with `attempt` n, `attempt-<n>.pt`, resuming from the newest attempt before n
    (trainer/checkpoint.py says why).

    A resumed run reports only the epochs after the checkpoint and, on CPU, ends bit-identical to an
    uninterrupted one; the checkpoint also carries every epoch record before it, handed to
    `callbacks.on_fit_resume`. Raises DatasetError for a dataset that cannot be loaded or does not fit the spec.
    """
    callbacks = callbacks or Callbacks()
    dataset = load_dataset(spec.dataset, data_dir)
    _check_dataset_fits(spec, dataset)
    device = resolve_device(spec.device)
    path = checkpoint_path(Path(checkpoint_dir), attempt) if checkpoint_dir is not None else None
    resume = newest_checkpoint(Path(checkpoint_dir), before=attempt) if checkpoint_dir is not None else None
    saved = load_checkpoint(resume) if resume is not None else None
    if saved is not None and saved["spec"] != spec.model_dump_json():
        raise ValueError(f"checkpoint {resume} was written for a different job spec; remove it to start afresh")
    folds = fold_count(spec.dataset)
    done = [FoldResult.from_dict(fold) for fold in saved["completed_folds"]] if saved else []
    state_dict: dict[str, torch.Tensor] | None = None
    reported = _Reported(callbacks)
    callbacks.on_fit_start(folds=folds, epochs=spec.epochs)
    if saved is not None:
        # a checkpoint from before records were kept has none; its epochs' rows were written as they went
        reported.records = [EpochRecord.from_dict(record) for record in saved.get("records", [])]
        callbacks.on_fit_resume(list(reported.records))

    for fold, data in enumerate(fold_data(dataset, spec.dataset)):
        if done and done[-1].stopped_early is not None:
            break  # the callbacks ended the run (Callbacks.stop_early): no later fold is trained
        if fold < len(done):
            continue
        run = FoldRun(spec, fold, data, dataset, device, reported)
        if saved is not None and saved["fold"] == fold:
            run.load_state(saved)
        status = _train_fold(spec, run, reported, done, path)
        state_dict = run.model.state_dict()
        if status is not None:
            partial = [run.result()] if run.epoch else []
            message = run.message or _stopped(fold, run.epoch)
            return _result(status, done + partial, dataset.task, message, folds, state_dict, device)
    if state_dict is None and saved is not None:
        # every fold was finished before this call: the checkpoint's weights load onto the CPU, and are
        # returned on the training device, where a fit that trained returns its own
        state_dict = {name: tensor.to(device) for name, tensor in saved["model"].items()}
    if done and done[-1].stopped_early is not None:
        message = f"stopped early after {done[-1].epochs_run} epoch(s) of fold {len(done) - 1}"
        return _result("completed", done, dataset.task, message, folds, state_dict, device)
    return _result("completed", done, dataset.task, f"trained {folds} fold(s)", folds, state_dict, device)


def _result(
    status: FitStatus,
    folds: list[FoldResult],
    task: Task,
    message: str,
    fold_count: int,
    state_dict: dict[str, torch.Tensor] | None,
    device: torch.device,
) -> FitResult:
    return FitResult(
        status, folds, task, message, fold_count, state_dict, describe(device), cpu_threads=torch.get_num_threads()
    )


class _Reported(Callbacks):
    """The caller's callbacks, keeping every epoch record reported so far for the checkpoint: a report
    that never reached its destination must not be lost with the process that made it."""

    def __init__(self, callbacks: Callbacks) -> None:
        self.callbacks = callbacks
        self.records: list[EpochRecord] = []

    def on_epoch_end(self, record: EpochRecord) -> None:
        self.records.append(record)
        self.callbacks.on_epoch_end(record)

    def should_stop(self) -> bool:
        return self.callbacks.should_stop()

    def stop_early(self) -> dict[str, Any] | None:
        return self.callbacks.stop_early()


def _train_fold(
    spec: JobSpec, run: FoldRun, callbacks: _Reported, done: list[FoldResult], path: Path | None
) -> FitStatus | None:
    """Train the fold's remaining epochs; None when it finished, else the status the fit ends with."""
    while True:
        outcome = run.run_epoch()
        if outcome == "stopped" or outcome == "diverged":
            return outcome  # nothing is saved: the checkpoint stays the last finished epoch's
        if outcome == "done":
            done.append(run.result())
        if path is not None:
            # after on_epoch_end: a crash in between repeats an epoch's report rather than losing it
            save_checkpoint(path, _checkpoint(spec, run, done, callbacks.records))
        if outcome == "done":
            return None
        if callbacks.should_stop():  # also between epochs, so a stop right after a report is prompt
            return "stopped"


def resolve_device(choice: str) -> torch.device:
    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was requested, but this worker has no CUDA GPU; use device 'auto' or 'cpu'")
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(choice)


def describe(device: torch.device) -> str:
    """The device as a job's summary names it: "cpu", or the CUDA device with its model name."""
    if device.type != "cuda":
        return device.type
    index = device.index if device.index is not None else torch.cuda.current_device()
    return f"cuda:{index} ({torch.cuda.get_device_name(index)})"


def _check_dataset_fits(spec: JobSpec, dataset: Dataset) -> None:
    """What the spec validator cannot check for an uploaded dataset, whose task it does not know."""
    problem = incompatibility(
        dataset=spec.dataset.name,
        task=dataset.task,
        images=dataset.image_shape is not None,
        loss=spec.loss,
        model_kind=spec.model.kind,
    )
    if problem is not None:
        raise DatasetError(f"{problem.field}: {problem.message}")


def _checkpoint(spec: JobSpec, run: FoldRun, done: list[FoldResult], records: list[EpochRecord]) -> dict[str, object]:
    return {
        "spec": spec.model_dump_json(),
        "completed_folds": [fold.as_dict() for fold in done],
        "records": [record.as_dict() for record in records],
        **run.state(),
    }


def _stopped(fold: int, epoch: int) -> str:
    return f"stopped on request during fold {fold} after {epoch} finished epoch(s)"
