"""A finished job's loss landscape: asking a worker to compute it, and reading it once ready.

The landscape is the loss along the line from the initial to the final weights, and on a grid
along two filter-normalized random directions (Li et al. 2018), so it needs a job that trained
at least one epoch and has stopped changing its weights.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from api.services.errors import Conflict, NotFound
from core.broker import enqueue_landscape
from store import landscapes as landscape_store
from store import models
from trainwell.job import FINAL_STATUSES, JobOrigin, JobStatus
from trainwell.landscape import Landscape, LandscapeStatus


@dataclass(frozen=True)
class LandscapeRequest:
    landscape: Landscape
    sent: bool  # False: already computed or under way, returned as it is


def request_landscape(*, session: Session, job: models.Job) -> LandscapeRequest:
    """Queue the job's landscape for a worker; a failed one is computed again."""
    if job.origin == JobOrigin.external.value:
        raise Conflict("no_weights", f"run {job.id!r} trained in its owner's loop: the service has no weights of it")
    if JobStatus(job.status) not in FINAL_STATUSES:
        raise Conflict("job_not_finished", f"job {job.id!r} is {job.status}; its landscape needs its final weights")
    if job.epoch == 0:
        raise Conflict("no_weights", f"job {job.id!r} finished no epoch: there are no trained weights to look at")
    row, send = landscape_store.request_landscape(session=session, job_id=job.id)
    session.commit()
    if send:
        enqueue_landscape(job.id, job.queue)  # a lost send is made again by the next request (the row stays queued)
    landscape = landscape_store.get_landscape(session=session, job_id=row.job_id)
    assert landscape is not None
    return LandscapeRequest(_public(landscape), sent=send)


def read_landscape(*, session: Session, job: models.Job) -> Landscape:
    """The landscape's numbers; `plot_url` names the contour plot once it is ready."""
    landscape = landscape_store.get_landscape(session=session, job_id=job.id)
    if landscape is None:
        raise NotFound(
            "landscape",
            job.id,
            f"job {job.id!r} has no landscape; POST /v1/jobs/{job.id}/landscape computes it",
            code="landscape_not_found",
        )
    return _public(landscape)


def read_landscape_plot(*, session: Session, job: models.Job) -> bytes:
    """The contour plot as PNG bytes, once the landscape is ready."""
    png = landscape_store.landscape_png(session=session, job_id=job.id)
    if png is None:
        raise NotFound(
            "landscape", job.id, f"job {job.id!r} has no computed landscape (yet)", code="landscape_not_found"
        )
    return png


def _public(landscape: Landscape) -> Landscape:
    if landscape.status is LandscapeStatus.ready:
        landscape.plot_url = f"/v1/jobs/{landscape.job_id}/landscape.png"
    return landscape
