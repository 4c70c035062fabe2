"""The entry point on real tiny jobs: what the worker gets back, for finished, diverged and k-fold jobs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.trainer.builders import Recorder, make_spec, train
from trainer.diagnose import DiagnosisScope, diagnose
from trainwell.diagnosis import Diagnosis, DiagnosisStatus, Verdict, merge_patch
from trainwell.job import FailureReason
from trainwell.spec import JobSpec


def history_of(recorder: Recorder) -> dict[int, dict[str, list[float]]]:
    history: dict[int, dict[str, list[float]]] = {}
    for record in recorder.records:
        for name, value in record.metrics.items():
            history.setdefault(record.fold, {}).setdefault(name, []).append(value)
    return history


def test_a_finished_job_gets_a_ready_json_diagnosis_with_curvature() -> None:
    spec = make_spec("moons", epochs=15, model={"hidden": [32, 32]})
    result, recorder = train(spec)
    diagnosis = diagnose(spec, result, history_of(recorder), failure_reason=None, train_seconds=1.0, data_dir=None)
    assert diagnosis.status == DiagnosisStatus.ready and diagnosis.verdict == Verdict.good_fit
    assert diagnosis.curvature is not None and diagnosis.curvature.critical_point is not None
    assert diagnosis.summary.endswith(".") and "\n" not in diagnosis.summary
    payload = json.loads(json.dumps(diagnosis.model_dump(mode="json"), allow_nan=False))
    assert Diagnosis.model_validate(payload) == diagnosis


def test_recomputing_gives_the_same_diagnosis() -> None:
    spec = make_spec("digits", epochs=3, model={"hidden": [16]}, dataset={"name": "digits", "test_shift": 1.0})
    result, recorder = train(spec)
    first, second = (
        diagnose(spec, result, history_of(recorder), failure_reason=None, train_seconds=1.0, data_dir=None)
        for _ in range(2)
    )
    assert first.curvature is not None and second.curvature is not None
    first.curvature.seconds = second.curvature.seconds = 0.0
    assert first == second


def test_a_diverged_job_without_result_or_epochs_is_diagnosed_diverged() -> None:
    spec = make_spec("digits", optimizer={"name": "sgd", "lr": 100.0}, model={"hidden": [64, 64]})
    diagnosis = diagnose(spec, None, {}, failure_reason=FailureReason.diverged, train_seconds=0.1, data_dir=None)
    assert diagnosis.verdict == Verdict.diverged and diagnosis.curvature is None
    assert diagnosis.findings[0].remedies[0].spec_patch == {"optimizer": {"lr": 10.0}}


def test_a_job_that_failed_before_its_first_epoch_has_no_verdict() -> None:
    # unnormalized wine features and plain SGD: the spec alone draws lint findings, which are no evidence
    # of a fit (the trainer raised before training, as for device "cuda" on a worker without a GPU)
    spec = make_spec("wine", dataset={"name": "wine", "feature_norm": "none"}, optimizer={"name": "sgd", "lr": 0.1})
    diagnosis = diagnose(spec, None, {}, failure_reason=FailureReason.exception, train_seconds=0.0, data_dir=None)
    assert diagnosis.status == DiagnosisStatus.not_applicable and diagnosis.verdict is None
    assert "before its first epoch" in diagnosis.summary and "exception" in diagnosis.summary
    assert diagnosis.status.is_final


def test_a_run_that_failed_after_healthy_epochs_is_not_called_a_good_fit() -> None:
    spec = make_spec("moons", epochs=15, model={"hidden": [32, 32]})
    result, recorder = train(spec)
    history = history_of(recorder)
    ok = diagnose(spec, result, history, failure_reason=None, train_seconds=1.0, data_dir=None, scope=NO_CURVATURE)
    assert ok.verdict == Verdict.good_fit  # the same losses, from a run that finished
    failed = diagnose(
        spec,
        None,
        history,
        failure_reason=FailureReason.exception,
        train_seconds=1.0,
        data_dir=None,
        scope=NO_CURVATURE,
    )
    assert failed.status == DiagnosisStatus.not_applicable and failed.verdict is None
    assert "failed (exception) after 15 epoch(s)" in failed.summary


NO_CURVATURE = DiagnosisScope(curvature=False)


def test_a_missing_upload_is_reported_not_raised(tmp_path: Path) -> None:
    spec = JobSpec.model_validate({"dataset": {"name": "ds_0123456789abcdef"}})
    diagnosis = diagnose(spec, None, {}, failure_reason=FailureReason.dataset, train_seconds=0.0, data_dir=tmp_path)
    assert diagnosis.status == DiagnosisStatus.not_applicable and diagnosis.verdict is None
    assert "could not be loaded" in diagnosis.summary


def test_k_fold_jobs_are_read_as_the_mean_over_folds() -> None:
    spec = make_spec("iris", epochs=10, dataset={"name": "iris", "validation": {"kfold": 3}})
    result, recorder = train(spec)
    history = history_of(recorder)
    assert sorted(history) == [0, 1, 2]
    diagnosis = diagnose(
        spec, result, history, failure_reason=None, train_seconds=1.0, data_dir=None, scope=NO_CURVATURE
    )
    assert diagnosis.verdict is not None and diagnosis.curvature is None


@pytest.mark.parametrize(
    "overrides",
    [
        {"model": {"hidden": []}, "dataset": {"name": "circles", "n_samples": 300}},
        {
            "model": {"hidden": [64] * 4, "activation": "sigmoid"},
            "optimizer": {"name": "sgd", "lr": 0.01, "momentum": 0.0},
        },
        {
            "dataset": {"name": "moons", "n_samples": 300, "train_subset": 20},
            "model": {"hidden": [128, 128]},
            "epochs": 60,
        },
    ],
)
def test_every_remedy_is_a_valid_spec_patch(overrides: dict[str, object]) -> None:
    spec = make_spec("moons", **overrides)
    result, recorder = train(spec)
    diagnosis = diagnose(spec, result, history_of(recorder), failure_reason=None, train_seconds=1.0, data_dir=None)
    original = spec.model_dump(mode="json")
    for finding in diagnosis.findings:
        for remedy in finding.remedies:
            patched = JobSpec.model_validate(merge_patch(original, remedy.spec_patch))
            assert patched != spec, f"{finding.code}: {remedy.title} changes nothing"


def test_constant_labels_leave_nothing_to_judge_the_losses_by(tmp_path: Path) -> None:
    (tmp_path / "datasets").mkdir()
    rows = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    np.savez(tmp_path / "datasets" / "ds_00000000000000aa.npz", X=rows, y=np.ones(50), task=np.array("regression"))
    spec = JobSpec.model_validate({"dataset": {"name": "ds_00000000000000aa"}, "epochs": 3})
    history = {0: {"train_loss": [0.1, 0.01, 0.0], "val_loss": [0.1, 0.01, 0.0], "test_loss": [0.1, 0.01, 0.0]}}
    diagnosis = diagnose(spec, None, history, failure_reason=None, train_seconds=0.1, data_dir=tmp_path)
    assert diagnosis.status == DiagnosisStatus.not_applicable and "labels are the same" in diagnosis.summary
