"""trainwell: the client distribution — the job spec, the shared vocabulary, and (soon) the Client and CLI."""

from trainwell.job import Job, JobMetrics, JobOrigin, JobStatus, MetricSeries
from trainwell.metrics import MetricName
from trainwell.spec import JobSpec

__all__ = ["Job", "JobMetrics", "JobOrigin", "JobSpec", "JobStatus", "MetricName", "MetricSeries"]
__version__ = "0.1.0"
