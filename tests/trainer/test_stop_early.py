"""Callbacks.stop_early: a reason after an epoch's report ends the run there as finished — status completed,
the best weights restored, no later fold — and the summary keeps the reason, also when the run is resumed
from the checkpoint written at that epoch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.trainer.builders import Recorder, make_spec, train
from trainer import EpochRecord, fit


class StopAt(Recorder):
    """Ends the run after epoch `epoch` of fold 0 with a reason, as a sweep's rung would."""

    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.epoch = epoch
        self.asked: list[int] = []

    def stop_early(self) -> dict[str, Any] | None:
        last: EpochRecord = self.records[-1]
        self.asked.append(last.epoch)
        return {"rung": 0, "reason": "weak"} if (last.fold, last.epoch) == (0, self.epoch) else None


def test_a_stop_early_ends_the_run_completed_with_its_reason(tmp_path: Path) -> None:
    spec = make_spec(epochs=6)
    callbacks = StopAt(2)
    result, _ = train(spec, callbacks=callbacks, checkpoint_dir=tmp_path)
    assert result.status == "completed"
    assert [r.epoch for r in callbacks.records] == [1, 2]
    summary = result.summary()
    assert summary["stopped_early"] == {"rung": 0, "reason": "weak"}
    assert summary["epochs_run"] == 2 and summary["early_stopped"] is True
    assert result.state_dict is not None

    # resumed from the checkpoint of that epoch (the job's process died after writing it): nothing more trains
    again = StopAt(2)
    resumed = fit(spec, again, checkpoint_dir=tmp_path)
    assert resumed.status == "completed" and again.records == [] and again.asked == []
    assert resumed.summary()["stopped_early"] == summary["stopped_early"]
    assert resumed.state_dict is not None


def test_a_run_never_stopped_early_has_no_reason_and_is_not_asked_at_its_last_epoch() -> None:
    callbacks = StopAt(99)
    result, _ = train(make_spec(epochs=3), callbacks=callbacks)
    assert "stopped_early" not in result.summary() and result.summary()["epochs_run"] == 3
    assert callbacks.asked == [1, 2], "its last epoch ends it anyway"


def test_a_kfold_run_stopped_early_trains_no_later_fold() -> None:
    spec = make_spec(epochs=4, dataset={"validation": {"kfold": 3}})
    callbacks = StopAt(1)
    result, _ = train(spec, callbacks=callbacks)
    assert result.status == "completed" and len(result.folds) == 1
    assert {r.fold for r in callbacks.records} == {0}
