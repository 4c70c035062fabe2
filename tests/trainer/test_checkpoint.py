"""Checkpoint and resume: a run interrupted after any epoch and resumed ends bit-identical to an uninterrupted one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.trainer.builders import Recorder, make_spec, train
from trainer import EpochRecord, FitResult
from trainer.checkpoint import newest_checkpoint, prune_checkpoints
from trainwell.spec import JobSpec

TIMING = ("epoch_seconds", "samples_per_second")


def _comparable(records: list[EpochRecord]) -> list[tuple[int, int, int, dict[str, float], list]]:
    """Everything a record holds except wall-clock timings, which differ run to run."""
    return [
        (r.fold, r.epoch, r.step, {k: v for k, v in r.metrics.items() if k not in TIMING}, r.step_metrics)
        for r in records
    ]


def _fold_results(result: FitResult) -> list[tuple[int, int, bool, dict[str, float], dict[str, float]]]:
    def untimed(metrics: dict[str, float]) -> dict[str, float]:
        return {k: v for k, v in metrics.items() if k not in TIMING}

    return [
        (f.best_epoch, f.epochs_run, f.early_stopped, untimed(f.best_metrics), untimed(f.final_metrics))
        for f in result.folds
    ]


def _same_weights(a: FitResult, b: FitResult) -> bool:
    assert a.state_dict is not None and b.state_dict is not None
    return a.state_dict.keys() == b.state_dict.keys() and all(
        torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict
    )


def _interrupted_then_resumed(spec: JobSpec, directory: Path, stopper: Recorder) -> tuple[FitResult, list[EpochRecord]]:
    first, _ = train(spec, callbacks=stopper, checkpoint_dir=directory)
    assert first.status == "stopped"
    resumed, after = train(spec, checkpoint_dir=directory)
    return resumed, stopper.records + after.records


# Every piece of state a resume must restore: dropout and noise RNG, BatchNorm running statistics,
# Adam moments, a warm-up SequentialLR, early-stopping patience and best weights.
STATEFUL = {
    "model": {"hidden": [32, 32], "norm": "batch", "dropout": 0.2},
    "augmentation": {"gaussian_noise": 0.1},
    "schedule": {"name": "cosine", "warmup_epochs": 2},
    "early_stopping": {"patience": 50},
    "instrumentation": {"log_every_steps": 4},
    "epochs": 6,
}


@pytest.mark.parametrize("stop_after_epoch", [1, 4])
def test_holdout_resume_is_bit_identical(tmp_path: Path, stop_after_epoch: int) -> None:
    spec = make_spec("moons", **STATEFUL)
    uninterrupted, whole = train(spec, checkpoint_dir=tmp_path / "whole")
    resumed, records = _interrupted_then_resumed(spec, tmp_path / "cut", Recorder(stop_after=(0, stop_after_epoch)))
    assert resumed.status == "completed"
    assert _comparable(records) == _comparable(whole.records)  # each epoch reported exactly once
    assert _same_weights(resumed, uninterrupted)
    assert _fold_results(resumed) == _fold_results(uninterrupted)


def test_resume_after_a_mid_epoch_stop_repeats_that_epoch_identically(tmp_path: Path) -> None:
    spec = make_spec("moons", **STATEFUL)
    uninterrupted, whole = train(spec)
    steps_per_epoch = whole.records[0].step
    stopper = Recorder(stop_at_step=2 * steps_per_epoch + 3)  # three steps into epoch 3
    resumed, records = _interrupted_then_resumed(spec, tmp_path, stopper)
    assert [r.epoch for r in stopper.records] == [1, 2]
    assert _comparable(records) == _comparable(whole.records)
    assert _same_weights(resumed, uninterrupted)


@pytest.mark.parametrize("stop_after", [(0, 3), (1, 1)])  # at a fold's end, and inside the second fold
def test_kfold_resume_is_bit_identical(tmp_path: Path, stop_after: tuple[int, int]) -> None:
    spec = make_spec("iris", dataset={"validation": {"kfold": 3}}, model={"dropout": 0.1}, epochs=3)
    uninterrupted, whole = train(spec)
    resumed, records = _interrupted_then_resumed(spec, tmp_path, Recorder(stop_after=stop_after))
    assert _comparable(records) == _comparable(whole.records)
    assert _same_weights(resumed, uninterrupted)
    assert _fold_results(resumed) == _fold_results(uninterrupted)


def test_checkpoint_is_plain_data_loadable_without_unpickling_code(tmp_path: Path) -> None:
    train(make_spec("moons", epochs=2), checkpoint_dir=tmp_path)
    state = torch.load(tmp_path / "last.pt", weights_only=True)
    assert {"model", "optimizer", "schedule", "best", "rng", "fold", "epoch", "step", "completed_folds"} <= set(state)
    assert state["epoch"] == 2 and isinstance(state["rng"]["torch"], torch.Tensor)
    assert not list(tmp_path.glob("*.tmp"))  # written to a temporary file, then renamed


def test_resuming_a_finished_run_trains_nothing_and_returns_its_results(tmp_path: Path) -> None:
    spec = make_spec("moons", epochs=2)
    done, _ = train(spec, checkpoint_dir=tmp_path)
    again, recorder = train(spec, checkpoint_dir=tmp_path)
    assert again.status == "completed" and recorder.records == []
    assert again.folds == done.folds and _same_weights(again, done)


def test_a_checkpoint_of_another_spec_is_refused(tmp_path: Path) -> None:
    train(make_spec("moons", epochs=1), checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="different job spec"):
        train(make_spec("moons", epochs=2), checkpoint_dir=tmp_path)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_resume_continues_the_run(tmp_path: Path) -> None:
    """On the GPU the checkpoint also carries the CUDA generators (dropout, noise and randperm draw there).

    The issue promises bit-identity on CPU only; on CUDA the resumed run must match the uninterrupted
    one to float tolerance, and the test prints whether it was bit-identical as well.
    """
    spec = make_spec("moons", **STATEFUL, device="cuda")
    uninterrupted, whole = train(spec, checkpoint_dir=tmp_path / "whole")
    resumed, records = _interrupted_then_resumed(spec, tmp_path / "cut", Recorder(stop_after=(0, 3)))
    assert resumed.status == "completed" and [r.epoch for r in records] == [r.epoch for r in whole.records]
    assert resumed.state_dict is not None and uninterrupted.state_dict is not None
    differences = [
        (resumed.state_dict[k].float() - uninterrupted.state_dict[k].float()).abs().max().item()
        for k in uninterrupted.state_dict
    ]
    assert max(differences) <= 1e-5, f"largest weight difference {max(differences)}"
    print(
        f"CUDA resume: bit-identical={_same_weights(resumed, uninterrupted)}, largest difference {max(differences):g}"
    )


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_checkpoint_written_on_the_gpu_resumes_on_a_worker_without_one(tmp_path: Path) -> None:
    """`device: auto` jobs go to the queue every worker consumes: one a GPU worker started may be
    requeued (its heartbeat stopped) and resumed by a CPU-only worker. The checkpoint loads onto the
    CPU and the CUDA generator states are skipped there; the run finishes the remaining epochs."""
    spec = make_spec("moons", **STATEFUL)  # device "auto"
    first, _ = train(spec, callbacks=Recorder(stop_after=(0, 3)), checkpoint_dir=tmp_path)
    assert first.status == "stopped" and first.device.startswith("cuda:")
    resume = (
        "import json, sys; from trainwell.spec import JobSpec; from tests.trainer.builders import train; "
        "result, recorder = train(JobSpec.model_validate_json(sys.argv[1]), checkpoint_dir=sys.argv[2]); "
        "print(json.dumps([result.status, result.device, [r.epoch for r in recorder.records]]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", resume, spec.model_dump_json(), str(tmp_path)],
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},  # a worker that sees no GPU
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout.splitlines()[-1]) == ["completed", "cpu", [4, 5, 6]], done.stderr


def test_pruning_keeps_the_final_attempts_checkpoint_only(tmp_path: Path) -> None:
    for name in ("attempt-1.pt", "attempt-2.pt", "attempt-3.pt", "attempt-3.pt.tmp", "model.safetensors"):
        (tmp_path / name).write_bytes(b"x")
    removed = prune_checkpoints(tmp_path, keep=3)
    assert sorted(path.name for path in removed) == ["attempt-1.pt", "attempt-2.pt", "attempt-3.pt.tmp"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["attempt-3.pt", "model.safetensors"]
    assert newest_checkpoint(tmp_path) == tmp_path / "attempt-3.pt"
    assert prune_checkpoints(tmp_path / "absent", keep=1) == []
