"""The API's resources, one module each: `client.jobs`, `client.datasets`, `client.sweeps`."""

from trainwell.resources.datasets import AsyncDatasets, Datasets
from trainwell.resources.jobs import AsyncJobs, Jobs
from trainwell.resources.sweeps import AsyncSweeps, Sweeps

__all__ = ["AsyncDatasets", "AsyncJobs", "AsyncSweeps", "Datasets", "Jobs", "Sweeps"]
