"""The job spec: the one definition of what a training job is.

The API validates requests with it, the worker hands it to the trainer, the
trainer reads it, the SDK builds it, and the OpenAPI schema is generated from
it. Every model forbids unknown fields so a typo ("learning_rate") is a 422
naming the field, not a silently ignored setting.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from trainwell.catalog import (
    CLASSIFICATION_LOSSES,
    DEFAULT_N_SAMPLES,
    IMAGE_DATASETS,
    REGRESSION_LOSSES,
    SHIPPED_DATASETS,
    SYNTHETIC_DATASETS,
    Incompatibility,
    Task,
    incompatibility,
)
from trainwell.split_sizes import split_problem

__all__ = ["CLASSIFICATION_LOSSES", "IMAGE_DATASETS", "KNOWN_DATASETS", "REGRESSION_LOSSES", "Task"]

KNOWN_DATASETS: dict[str, Task] = {name: d.task for name, d in SHIPPED_DATASETS.items()}
# numpy's legacy RandomState and scikit-learn's random_state take seeds below 2**32.
MAX_SEED = 2**32 - 1
# Uploaded datasets are named by id: "ds_" and the first 16 hex digits of the content hash.
UPLOADED_DATASET_ID = re.compile(r"^ds_[0-9a-f]{16}$")


class SpecModel(BaseModel):
    # Boolean fields are declared strict: pydantic's lax mode would take 0, 1 or "yes" for them, which the
    # published schema (type boolean) refuses, so a client built from the schema and the service would disagree.
    model_config = ConfigDict(extra="forbid")


class Holdout(SpecModel):
    holdout: float = Field(0.2, gt=0.0, lt=0.9, description="fraction of the non-test rows held out for validation")


class KFold(SpecModel):
    kfold: int = Field(..., ge=2, le=20, description="number of cross-validation folds")


class DatasetSpec(SpecModel):
    # Swagger fills an example from each field's type otherwise ("string", n_samples on digits): refused
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "digits"}, {"name": "moons", "n_samples": 500, "noise": 0.2}]}
    )

    name: str = Field(..., description="a built-in or synthetic dataset, or an uploaded dataset id (ds_…)")
    test_fraction: float = Field(
        0.2, gt=0.0, lt=0.9, description="cut first; never used for training or model selection"
    )
    validation: Holdout | KFold = Field(default_factory=Holdout)
    feature_norm: Literal["none", "standard", "minmax"] = "standard"
    n_samples: int | None = Field(None, ge=20, le=1_000_000, description="synthetic datasets only; default 1000")
    noise: float | None = Field(None, ge=0.0, le=10.0, description="synthetic datasets only")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="seed of the synthetic generator, the splits and the modifiers")
    label_noise: float = Field(0.0, ge=0.0, le=1.0, description="fraction of training labels replaced at random")
    train_subset: int | None = Field(None, ge=2, description="keep only this many training rows")
    test_shift: float = Field(
        0.0, ge=-100.0, le=100.0, description="shift of the test features, in training standard deviations"
    )

    @field_validator("name")
    @classmethod
    def _known_dataset(cls, name: str) -> str:
        if name in KNOWN_DATASETS or UPLOADED_DATASET_ID.match(name):
            return name
        available = ", ".join(sorted(KNOWN_DATASETS))
        raise ValueError(f"unknown dataset {name!r}; available: {available}, or an uploaded dataset id (ds_…)")

    @model_validator(mode="after")
    def _synthetic_only_options(self) -> DatasetSpec:
        if self.name not in SYNTHETIC_DATASETS:
            for option in ("n_samples", "noise"):
                if getattr(self, option) is not None:
                    raise ValueError(f"{option} applies to synthetic datasets only ({', '.join(SYNTHETIC_DATASETS)})")
        shipped = SHIPPED_DATASETS.get(self.name)
        if shipped is not None:  # an upload's rows are known to the server alone
            problem = self.split_problem(shipped.rows or self.n_samples or DEFAULT_N_SAMPLES, shipped.classes)
            if problem is not None:
                raise ValueError(f"{problem.field.removeprefix('dataset.')}: {problem.message}")
        return self

    def split_problem(self, rows: int, classes: int) -> Incompatibility | None:
        """Why this dataset's splits cannot be cut from `rows` rows of `classes` classes (0: regression)."""
        holdout = self.validation.holdout if isinstance(self.validation, Holdout) else None
        kfold = self.validation.kfold if isinstance(self.validation, KFold) else None
        return split_problem(rows, classes, test_fraction=self.test_fraction, holdout=holdout, kfold=kfold)

    @property
    def task(self) -> Task | None:
        """The task of a built-in or synthetic dataset; None for an uploaded one (known to the server)."""
        return KNOWN_DATASETS.get(self.name)


class ModelSpec(SpecModel):
    kind: Literal["mlp", "cnn"] = "mlp"
    hidden: list[Annotated[int, Field(ge=1, le=8192)]] = Field(
        default_factory=lambda: [128, 128], max_length=32, description="hidden layer widths; [] is a linear model"
    )
    channels: list[Annotated[int, Field(ge=1, le=1024)]] = Field(
        default_factory=lambda: [16, 32], max_length=8, description="cnn only: convolution channels, one 3×3 layer each"
    )
    activation: Literal["relu", "leaky_relu", "sigmoid", "tanh", "gelu"] = "relu"
    norm: Literal["none", "batch", "layer"] = "none"
    norm_position: Literal["before_activation", "after_activation"] = "before_activation"
    dropout: float = Field(0.0, ge=0.0, lt=1.0)


class OptimizerSpec(SpecModel):
    name: Literal["sgd", "adagrad", "rmsprop", "adam", "adamw"] = "adam"
    lr: float = Field(0.001, gt=0.0, le=100.0)
    momentum: float = Field(0.0, ge=0.0, lt=1.0, description="sgd and rmsprop")
    nesterov: bool = Field(False, strict=True, description="sgd with momentum > 0")
    alpha: float = Field(0.99, gt=0.0, lt=1.0, description="rmsprop smoothing constant")
    betas: tuple[Annotated[float, Field(ge=0.0, lt=1.0)], Annotated[float, Field(ge=0.0, lt=1.0)]] = (0.9, 0.999)
    weight_decay: float = Field(0.0, ge=0.0, le=10.0)
    grad_clip: float | None = Field(None, gt=0.0, description="clip the global gradient norm to this value")

    @model_validator(mode="after")
    def _nesterov_needs_momentum(self) -> OptimizerSpec:
        if self.nesterov and (self.name != "sgd" or self.momentum == 0.0):
            raise ValueError("nesterov requires optimizer sgd with momentum > 0")
        return self


class ScheduleSpec(SpecModel):
    name: Literal["constant", "step", "exponential", "cosine"] = "constant"
    warmup_epochs: int = Field(0, ge=0, description="linear warm-up from lr/10 before the schedule starts")
    step_size: int = Field(10, ge=1, description="step: epochs between decays")
    gamma: float | None = Field(
        None, gt=0.0, le=1.0, description="step (default 0.1) and exponential (default 0.95) decay"
    )
    min_lr: float = Field(0.0, ge=0.0, description="cosine: the floor the lr anneals to")


class EarlyStopping(SpecModel):
    patience: int = Field(5, ge=1)
    min_delta: float = Field(
        0.0, ge=0.0, description="an improvement of the validation loss smaller than this does not count"
    )


class Augmentation(SpecModel):
    gaussian_noise: float = Field(
        0.0, ge=0.0, le=10.0, description="std of noise added to standardized training features"
    )
    pixel_shift: bool = Field(
        False, strict=True, description="image datasets: random ±1-pixel shifts of training images"
    )


class Instrumentation(SpecModel):
    enabled: bool = Field(True, strict=True, description="gradient, update and activation statistics per epoch")
    log_every_steps: int = Field(0, ge=0, description="also record loss, gradient norm and lr every N steps; 0 = off")


class DiagnosisOptions(SpecModel):
    probes: bool = Field(
        True,
        strict=True,
        description=(
            "when the training loss is high, queue up to two short probe jobs (shallower and bigger) "
            "whose training losses tell an optimization problem from model bias"
        ),
    )


class JobSpec(SpecModel):
    # The examples /docs offers (the first is Swagger's default body): each one a service accepts, the
    # last once its dataset.name is replaced by the id POST /v1/datasets answered (tests/service/test_examples.py).
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "digits-mlp",
                    "dataset": {"name": "digits"},
                    "model": {"hidden": [64]},
                    "optimizer": {"name": "adam", "lr": 0.001},
                    "epochs": 10,
                },
                {
                    "name": "wine-5-fold",
                    "dataset": {"name": "wine", "validation": {"kfold": 5}},
                    "model": {"hidden": [32]},
                    "epochs": 20,
                },
                {
                    "name": "my-upload",
                    "dataset": {"name": "ds_0123456789abcdef"},
                    "model": {"hidden": [32]},
                    "epochs": 10,
                },
            ]
        }
    )

    name: str | None = Field(None, min_length=1, max_length=200)
    dataset: DatasetSpec
    model: ModelSpec = Field(
        default_factory=ModelSpec,
        description="a service refuses a model of more trainable parameters (counted from the spec and the "
        "dataset's shape) than its TRAINWELL_MAX_MODEL_PARAMETERS, 50,000,000 by default: 422 model_too_large",
    )
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec)
    schedule: ScheduleSpec = Field(default_factory=ScheduleSpec)
    loss: Literal["cross_entropy", "mse", "mae", "huber"] | None = Field(
        None, description="default: cross_entropy for classification, mse for regression"
    )
    batch_size: int = Field(64, ge=1, le=65536)
    epochs: int = Field(
        20,
        ge=1,
        le=100_000,
        description="a service allows at most its TRAINWELL_MAX_EPOCHS, 10,000 by default "
        "(its /openapi.json gives that as the maximum)",
    )
    early_stopping: EarlyStopping | None = None
    augmentation: Augmentation = Field(default_factory=Augmentation)
    instrumentation: Instrumentation = Field(default_factory=Instrumentation)
    seed: int = Field(0, ge=0, le=MAX_SEED, description="weight initialization and batch order")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["fp32", "bf16"] = Field("fp32", description="bf16 autocast applies on CUDA only")
    diagnosis: DiagnosisOptions = Field(default_factory=DiagnosisOptions)

    @model_validator(mode="after")
    def _consistent(self) -> JobSpec:
        shipped = SHIPPED_DATASETS.get(self.dataset.name)
        if shipped is not None:  # an upload's task and shape are known to the server alone
            problem = incompatibility(
                dataset=shipped.name,
                task=shipped.task,
                images=shipped.image is not None,
                loss=self.loss,
                model_kind=self.model.kind,
            )
            if problem is not None:
                raise ValueError(f"{problem.field}: {problem.message}")
        if self.augmentation.pixel_shift and self.model.kind != "cnn":
            raise ValueError("augmentation.pixel_shift applies to model kind 'cnn' only")
        return self

    def resolved_loss(self, task: Task) -> str:
        """The loss the trainer uses: the spec's, or the task's default."""
        return self.loss or ("cross_entropy" if task == "classification" else "mse")
