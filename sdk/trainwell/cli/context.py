"""What every command shares: the global options and the exit-code policy."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import typer

from trainwell._client import Client
from trainwell._exceptions import APIStatusError
from trainwell.diagnosis import Diagnosis
from trainwell.job import Job, JobStatus

EXIT_OK, EXIT_JOB_FAILED, EXIT_API_ERROR = 0, 1, 2


@dataclass
class CliState:
    url: str | None
    api_key: str | None
    _client: Client | None = field(default=None, repr=False)

    def client(self) -> Client:
        # made on first use, so `--help` and usage errors never need a key
        if self._client is None:
            self._client = Client(base_url=self.url, api_key=self.api_key)
        return self._client


def state(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    obj: CliState = root.obj
    return obj


def exit_for(job: Job) -> int:
    return EXIT_OK if job.status == JobStatus.succeeded else EXIT_JOB_FAILED


# the worker diagnoses a job right after it ends; the CLI waits this long for that before giving up
DIAGNOSIS_WAIT_SECONDS = 60.0


def await_diagnosis(client: Client, job: Job, *, timeout: float = DIAGNOSIS_WAIT_SECONDS) -> Diagnosis | None:
    """The finished job's final diagnosis (verdict or not_applicable); None if it never ran, or after `timeout` s."""
    if job.started_at is None:
        return None
    deadline = time.monotonic() + timeout
    while True:
        try:
            diagnosis = client.jobs.diagnosis(job.id)
        except APIStatusError:
            return None
        if diagnosis.status.is_final or time.monotonic() >= deadline:
            return diagnosis if diagnosis.status.is_final else None
        time.sleep(0.5)
