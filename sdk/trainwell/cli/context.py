"""What every command shares: the global options and the exit-code policy."""

from __future__ import annotations

from dataclasses import dataclass, field

import typer

from trainwell._client import Client
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
