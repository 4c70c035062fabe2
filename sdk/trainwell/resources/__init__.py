"""The API's resources, one module each: `client.jobs`, `client.datasets`."""

from trainwell.resources.datasets import AsyncDatasets, Datasets
from trainwell.resources.jobs import AsyncJobs, Jobs

__all__ = ["AsyncDatasets", "AsyncJobs", "Datasets", "Jobs"]
