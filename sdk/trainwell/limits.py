"""The service's limits on what a job may ask for, and the one check of a spec against them.

The JobSpec schema bounds what can ever be valid; an operator's deployment allows less
(TRAINWELL_MAX_EPOCHS, TRAINWELL_MAX_MODEL_PARAMETERS). The API refuses a submission past these
limits, and the diagnosis plans its remedies and probes within them, so a remedy it offers is
one that launching accepts.
"""

from __future__ import annotations

from dataclasses import dataclass

from trainwell.model_size import DataShape, count_parameters
from trainwell.spec import JobSpec


@dataclass(frozen=True)
class LimitExceeded:
    code: str  # the API's error code
    field: str
    message: str
    parameters: int | None = None


@dataclass(frozen=True)
class ServiceLimits:
    max_epochs: int
    max_model_parameters: int

    def exceeded(self, spec: JobSpec, shape: DataShape) -> LimitExceeded | None:
        """The first limit `spec` goes past on data of this shape, or None."""
        if spec.epochs > self.max_epochs:
            return LimitExceeded("invalid_request", "epochs", f"at most {self.max_epochs} allowed, got {spec.epochs}")
        parameters = count_parameters(spec, shape)
        if parameters > self.max_model_parameters:
            return LimitExceeded(
                "model_too_large",
                "model",
                f"{parameters:,} parameters on {spec.dataset.name}; at most {self.max_model_parameters:,} "
                "allowed (fewer or narrower hidden layers)",
                parameters,
            )
        return None

    def fits(self, spec: JobSpec, shape: DataShape) -> bool:
        return self.exceeded(spec, shape) is None
