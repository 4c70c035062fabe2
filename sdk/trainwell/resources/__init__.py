"""The API's resources, one module each: `client.jobs`."""

from trainwell.resources.jobs import AsyncJobs, Jobs

__all__ = ["AsyncJobs", "Jobs"]
