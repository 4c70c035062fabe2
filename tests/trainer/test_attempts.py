"""A checkpoint carries every epoch record before it, handed to `on_fit_resume`; attempts write their own files."""

from __future__ import annotations

from pathlib import Path

import torch

from tests.trainer.builders import Recorder, make_spec, train
from trainer import EpochRecord
from trainer.checkpoint import newest_checkpoint


class ResumeRecorder(Recorder):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.resumed: list[EpochRecord] | None = None

    def on_fit_resume(self, records: list[EpochRecord]) -> None:
        self.resumed = records


def test_a_resumed_fit_hands_over_every_record_its_checkpoint_holds(tmp_path: Path) -> None:
    spec = make_spec("moons", epochs=4, instrumentation={"log_every_steps": 3})
    first, before = train(spec, callbacks=Recorder(stop_after=(0, 2)), checkpoint_dir=tmp_path, attempt=1)
    assert first.status == "stopped"
    resumed = ResumeRecorder()
    train(spec, callbacks=resumed, checkpoint_dir=tmp_path, attempt=2)
    assert resumed.resumed == before.records  # metrics and step metrics, as reported
    assert [r.epoch for r in resumed.records] == [3, 4]

    finished = ResumeRecorder()  # every fold done: nothing trains, and still every record is handed over
    result, _ = train(spec, callbacks=finished, checkpoint_dir=tmp_path, attempt=3)
    assert result.status == "completed" and finished.records == []
    assert finished.resumed is not None and [r.epoch for r in finished.resumed] == [1, 2, 3, 4]


def test_each_attempt_writes_its_own_file_and_resumes_from_the_newest_earlier_one(tmp_path: Path) -> None:
    spec = make_spec("moons", epochs=3)
    train(spec, callbacks=Recorder(stop_after=(0, 1)), checkpoint_dir=tmp_path, attempt=1)
    train(spec, callbacks=Recorder(stop_after=(0, 2)), checkpoint_dir=tmp_path, attempt=2)
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["attempt-1.pt", "attempt-2.pt"]
    assert newest_checkpoint(tmp_path) == tmp_path / "attempt-2.pt"
    assert newest_checkpoint(tmp_path, before=2) == tmp_path / "attempt-1.pt"

    # attempt 1, superseded but still running, only ever rewrites its own file
    stale = torch.load(tmp_path / "attempt-2.pt", weights_only=True)
    train(spec, checkpoint_dir=tmp_path, attempt=1)
    assert torch.load(tmp_path / "attempt-2.pt", weights_only=True)["epoch"] == stale["epoch"] == 2

    resumed = Recorder()
    train(spec, callbacks=resumed, checkpoint_dir=tmp_path, attempt=3)  # from attempt 2's epoch 2
    assert [r.epoch for r in resumed.records] == [3]
