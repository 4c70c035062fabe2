"""trainwell: the client distribution — the job spec, the shared vocabulary, the Client and the CLI.

import trainwell
with trainwell.Client() as client:
    job = client.jobs.create("examples/digits-adam.yaml").wait()
    print(job.summary)
"""

import os
from typing import TYPE_CHECKING

from trainwell._client import AsyncClient, Client
from trainwell._exceptions import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    PredictionFailedError,
    RateLimitError,
    TrainwellError,
    UnprocessableEntityError,
    WaitTimeoutError,
)
from trainwell._handle import AsyncJobHandle, JobHandle
from trainwell._pagination import AsyncCursorPage, SyncCursorPage
from trainwell._spec_file import SpecFileError, load_spec_file
from trainwell._sweep_table import SweepTable
from trainwell.dataset import Dataset, DatasetKind
from trainwell.diagnosis import Diagnosis, Finding, Probe, ProbeKind, Remedy, RemedyJob, Verdict
from trainwell.events import DiagnosisEvent, EpochEvent, JobEvent, StatusEvent
from trainwell.job import FailureReason, Job, JobMetrics, JobOrigin, JobPage, JobStatus, MetricPoint, MetricSeries
from trainwell.landscape import Landscape, LandscapeStatus, LossLine, LossSurface
from trainwell.metrics import MetricName
from trainwell.predictions import PredictionRequest, Predictions, PredictionStatus, PredictionTable
from trainwell.spec import JobSpec
from trainwell.sweep import (
    Asha,
    Comparison,
    Distribution,
    EarlyStop,
    ParameterImportance,
    Search,
    Stat,
    Sweep,
    SweepAccounting,
    SweepCell,
    SweepCounts,
    SweepFinding,
    SweepImportance,
    SweepPage,
    SweepRequest,
    SweepStatus,
)
from trainwell.usage import Usage

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "Asha",
    "AsyncClient",
    "AsyncCursorPage",
    "AsyncJobHandle",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "Comparison",
    "ConflictError",
    "Dataset",
    "DatasetKind",
    "Diagnosis",
    "DiagnosisEvent",
    "Distribution",
    "EarlyStop",
    "EpochEvent",
    "FailureReason",
    "Finding",
    "InternalServerError",
    "Job",
    "JobEvent",
    "JobHandle",
    "JobMetrics",
    "JobOrigin",
    "JobPage",
    "JobSpec",
    "JobStatus",
    "Landscape",
    "LandscapeStatus",
    "LossLine",
    "LossSurface",
    "MetricName",
    "MetricPoint",
    "MetricSeries",
    "NotFoundError",
    "ParameterImportance",
    "PermissionDeniedError",
    "PredictionFailedError",
    "PredictionRequest",
    "PredictionStatus",
    "PredictionTable",
    "Predictions",
    "Probe",
    "ProbeKind",
    "RateLimitError",
    "Remedy",
    "RemedyJob",
    "Search",
    "SpecFileError",
    "Stat",
    "StatusEvent",
    "Sweep",
    "SweepAccounting",
    "SweepCell",
    "SweepCounts",
    "SweepFinding",
    "SweepImportance",
    "SweepPage",
    "SweepRequest",
    "SweepStatus",
    "SweepTable",
    "SyncCursorPage",
    "TrainwellError",
    "UnprocessableEntityError",
    "Usage",
    "Verdict",
    "WaitTimeoutError",
    "load_model",
    "load_spec_file",
]
__version__ = "0.1.0"


if TYPE_CHECKING:
    from trainwell.torch_model import RawRowsModel


def load_model(path: str | os.PathLike[str]) -> "RawRowsModel":
    """A downloaded safetensors model file rebuilt as a torch module (the `[torch]` extra): raw rows in,
    logits for `model.labels` or values out. torch is imported here, never by `import trainwell`."""
    from trainwell.torch_model import load_model as load

    return load(path)
