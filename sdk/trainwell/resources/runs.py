"""`client.runs`: runs from your own training loop — start one, log to it, finish it.

    with client.runs.start(name="resnet", task="classification", classes=10) as run:
        for epoch in range(epochs):
            ...
            run.log(epoch=epoch, train_loss=train_loss, val_loss=val_loss)
    client.jobs.diagnosis(run.id)

The run is a job (origin "external"): `client.jobs` reads its metrics, events and diagnosis.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from trainwell._base_client import Call
from trainwell._exceptions import WaitTimeoutError
from trainwell._run_logger import Run
from trainwell.diagnosis import Diagnosis, DiagnosisStatus
from trainwell.job import Job
from trainwell.run import RunLoss, RunPointsAccepted, RunSpec

if TYPE_CHECKING:
    from trainwell._client import Client


def _path(run_id: str, suffix: str) -> str:
    if not run_id:
        raise ValueError("run id must be a non-empty string")
    return f"/v1/runs/{quote(run_id, safe='')}{suffix}"


class Runs:
    def __init__(self, client: Client) -> None:
        self._client = client

    def create(self, spec: RunSpec) -> Job:
        return self._client.request(Call("POST", "/v1/runs", Job, json=spec.model_dump(mode="json", exclude_none=True)))

    def log_points(self, run_id: str, points: list[dict[str, Any]]) -> RunPointsAccepted:
        """Send one batch of points (`{name, step, epoch, fold, value}`) as it is; `Run.log` batches for you."""
        return self._client.request(Call("POST", _path(run_id, "/metrics"), RunPointsAccepted, json={"points": points}))

    def finish(self, run_id: str) -> Job:
        return self._client.request(Call("POST", _path(run_id, "/finish"), Job))

    def wait_diagnosis(self, run_id: str, *, timeout: float = 300.0, poll_interval: float = 0.5) -> Diagnosis:
        """The finished run's diagnosis once a worker has made it; `WaitTimeoutError` after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            diagnosis = self._client.jobs.diagnosis(run_id)
            if diagnosis.status is not DiagnosisStatus.pending:
                return diagnosis
            if time.monotonic() >= deadline:
                raise WaitTimeoutError(run_id, timeout)
            time.sleep(poll_interval)

    def start(
        self,
        *,
        task: str,
        name: str | None = None,
        classes: int | None = None,
        loss: RunLoss | None = None,
        class_prior: list[float] | None = None,
        target_variance: float | None = None,
        epochs: int | None = None,
        config: dict[str, Any] | None = None,
        batch_points: int = 1000,
        flush_seconds: float = 1.0,
    ) -> Run:
        """Create a run and return its logger. `class_prior` (classification) or `target_variance`
        (regression) of the training labels lets the diagnosis compare the losses with the trivial
        predictor's; `config` is yours (hyperparameters, a code version), stored as sent."""
        spec = RunSpec.model_validate(
            {
                "name": name,
                "task": task,
                "classes": classes,
                "loss": loss,
                "class_prior": class_prior,
                "target_variance": target_variance,
                "epochs": epochs,
                "config": config or {},
            }
        )
        job = self.create(spec)
        return Run(
            job,
            send=lambda points: self.log_points(job.id, points),
            finish=lambda: self.finish(job.id),
            batch_points=batch_points,
            flush_seconds=flush_seconds,
        )
