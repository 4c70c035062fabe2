"""What to change, as JSON merge patches on the job's spec: each remedy is a spec the user can launch.

Every builder returns None when the remedy does not apply to the spec (already applied, or invalid for
it), so a finding lists only remedies that would change something. Patches keep the spec valid:
switching away from SGD also switches Nesterov off, pixel shifts are offered to CNNs only, and so on.

A remedy is offered only if launching it would be accepted: `present` builds each patched spec (the
JobSpec schema's own bounds) and checks it against the job's `ServiceLimits` on the job's data shape
(the check the submit path makes). The two remedies that grow the job stay within those limits rather
than being dropped: more epochs up to the epoch limit, a bigger model shrunk until it fits.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from trainer.diagnose.history import JobRecord
from trainwell.diagnosis import Remedy, patched_spec
from trainwell.model_size import count_parameters
from trainwell.spec import JobSpec

# The schema's bounds, read from the JobSpec's published schema (the one the API validates against).
_SCHEMA: dict[str, Any] = JobSpec.model_json_schema()
_HIDDEN: dict[str, Any] = _SCHEMA["$defs"]["ModelSpec"]["properties"]["hidden"]
SCHEMA_MAX_EPOCHS: int = _SCHEMA["properties"]["epochs"]["maximum"]
MAX_WIDTH: int = _HIDDEN["items"]["maximum"]
MAX_LAYERS: int = _HIDDEN["maxItems"]
BIGGER_WIDTH = 64  # the hidden layer a bigger model gives a linear one


def launchable(job: JobRecord, patch: dict[str, Any]) -> bool:
    """Whether the job's spec with `patch` applied is a valid JobSpec that the service's limits accept."""
    try:
        spec = patched_spec(job.spec, patch)
    except ValidationError:
        return False
    return job.limits is None or job.limits.fits(spec, job.facts.shape)


def present(job: JobRecord, *remedies: Remedy | None) -> list[Remedy]:
    """The remedies that apply and that launching would accept, in the order given."""
    return [remedy for remedy in remedies if remedy is not None and launchable(job, remedy.spec_patch)]


def max_epochs(job: JobRecord) -> int:
    """The most epochs a launched job may train: the schema's bound, or the deployment's if lower."""
    return min(SCHEMA_MAX_EPOCHS, job.limits.max_epochs) if job.limits is not None else SCHEMA_MAX_EPOCHS


def _remedy(title: str, rationale: str, patch: dict[str, object]) -> Remedy:
    return Remedy(title=title, rationale=rationale, spec_patch=patch)


def lower_lr(spec: JobSpec, factor: float = 10.0) -> Remedy:
    lr = spec.optimizer.lr / factor
    return _remedy(
        f"lr ÷ {factor:g} ({spec.optimizer.lr:g} → {lr:.3g})",
        "smaller steps stay inside the region where the loss behaves like its local quadratic model",
        {"optimizer": {"lr": lr}},
    )


def raise_lr(spec: JobSpec, factor: float = 3.0) -> Remedy:
    lr = spec.optimizer.lr * factor  # past the schema's bound, `present` drops it
    return _remedy(
        f"lr × {factor:g} ({spec.optimizer.lr:g} → {lr:.3g})",
        "the steps were too small to move the weights within the epochs given",
        {"optimizer": {"lr": lr}},
    )


def clip_gradients(spec: JobSpec) -> Remedy | None:
    if spec.optimizer.grad_clip is not None and spec.optimizer.grad_clip <= 1.0:
        return None
    return _remedy(
        "clip the gradient norm at 1",
        "a single huge gradient can no longer throw the weights away",
        {"optimizer": {"grad_clip": 1.0}},
    )


def adam(spec: JobSpec) -> Remedy | None:
    if spec.optimizer.name in ("adam", "adamw"):
        return None
    return _remedy(
        "Adam, lr 0.001",
        "per-parameter step sizes cross flat regions and narrow valleys that plain SGD crawls through",
        {"optimizer": {"name": "adam", "lr": 0.001, "nesterov": False, "momentum": 0.0}},
    )


def momentum(spec: JobSpec) -> Remedy | None:
    if spec.optimizer.name != "sgd" or spec.optimizer.momentum > 0:
        return None
    return _remedy(
        "SGD with momentum 0.9",
        "momentum accumulates a consistent small gradient into real progress across plateaus",
        {"optimizer": {"momentum": 0.9}},
    )


def normalize_features(spec: JobSpec) -> Remedy | None:
    if spec.dataset.feature_norm != "none":
        return None
    return _remedy(
        "standardize the features",
        "features on one scale give the loss a round bowl instead of a long narrow valley",
        {"dataset": {"feature_norm": "standard"}},
    )


def batch_norm(spec: JobSpec) -> Remedy | None:
    if spec.model.norm == "batch" or (spec.model.kind == "mlp" and not spec.model.hidden):
        return None
    return _remedy(
        "BatchNorm before each activation",
        "keeps every layer's inputs centred and scaled, so gradients neither vanish nor saturate",
        {"model": {"norm": "batch", "norm_position": "before_activation"}},
    )


def relu(spec: JobSpec) -> Remedy | None:
    if spec.model.activation in ("relu", "leaky_relu", "gelu") or not _has_hidden(spec):
        return None
    return _remedy(
        "ReLU activations",
        "a ReLU passes gradients with slope 1 where a sigmoid passes at most 0.25 per layer",
        {"model": {"activation": "relu"}},
    )


def leaky_relu(spec: JobSpec) -> Remedy | None:
    if spec.model.activation != "relu":
        return None
    return _remedy(
        "leaky ReLU activations",
        "a leaky unit keeps a small gradient when off, so it can come back",
        {"model": {"activation": "leaky_relu"}},
    )


def shallower(spec: JobSpec) -> Remedy | None:
    if len(spec.model.hidden) < 2:
        return None
    hidden = [max(spec.model.hidden)]
    return _remedy(
        f"one hidden layer of {hidden[0]} ReLU units",
        "a shallower network is easier to optimize; if it trains better, depth was the obstacle",
        {"model": {"hidden": hidden, "activation": "relu"}},
    )


def bigger(job: JobRecord) -> Remedy | None:
    """Twice the width and one more layer, narrowed (every width halved) until the service's parameter
    limit admits it; None when nothing bigger than the job's own model fits."""
    spec, shape = job.spec, job.facts.shape
    hidden = [min(2 * width, MAX_WIDTH) for width in spec.model.hidden] or [BIGGER_WIDTH]
    if len(hidden) < MAX_LAYERS:
        hidden = [*hidden, hidden[-1]]
    parameters = count_parameters(spec, shape)
    grown = patched_spec(spec, {"model": {"hidden": hidden}})
    while job.limits is not None and not job.limits.fits(grown, shape):
        narrower = [max(1, width // 2) for width in hidden]
        if narrower == hidden:
            return None
        hidden, grown = narrower, patched_spec(spec, {"model": {"hidden": narrower}})
    if count_parameters(grown, shape) <= parameters:
        return None  # narrowed down to the job's own size or below: not a bigger model
    return _remedy(
        f"a bigger model: hidden {hidden}",
        "more units and one more layer can represent boundaries the current model cannot",
        {"model": {"hidden": hidden}},
    )


def smaller(spec: JobSpec) -> Remedy | None:
    if not spec.model.hidden:
        return None
    hidden = [max(1, width // 4) for width in spec.model.hidden]
    return _remedy(
        f"a smaller model: hidden {hidden}",
        "fewer parameters have less room to memorize the training rows",
        {"model": {"hidden": hidden}},
    )


def more_epochs(job: JobRecord) -> Remedy | None:
    """Twice the epochs, up to the most a launched job may train; None when the job is there already."""
    epochs = min(2 * job.spec.epochs, max_epochs(job))
    if epochs <= job.spec.epochs:
        return None
    return _remedy(f"{epochs} epochs", "the loss was still going down when training stopped", {"epochs": epochs})


def cosine_schedule(spec: JobSpec) -> Remedy | None:
    if spec.schedule.name == "cosine":
        return None
    return _remedy(
        "cosine learning-rate schedule",
        "large steps early, small steps late: fast progress, then a quiet settling into the minimum",
        {"schedule": {"name": "cosine"}},
    )


def early_stopping(spec: JobSpec) -> Remedy | None:
    if spec.early_stopping is not None:
        return None
    return _remedy(
        "early stopping (patience 5)",
        "keeps the weights of the best validation epoch instead of the last",
        {"early_stopping": {"patience": 5}},
    )


def weight_decay(spec: JobSpec) -> Remedy:
    decay = max(10 * spec.optimizer.weight_decay, 1e-3)
    return _remedy(
        f"weight decay {decay:g}",
        "penalizing large weights favours smoother functions",
        {"optimizer": {"weight_decay": decay}},
    )


def dropout(spec: JobSpec) -> Remedy | None:
    if not _has_hidden(spec) or spec.model.dropout >= 0.3:
        return None
    return _remedy("dropout 0.3", "units cannot co-adapt to memorize single rows", {"model": {"dropout": 0.3}})


def augmentation(spec: JobSpec) -> Remedy | None:
    if spec.model.kind == "cnn" and not spec.augmentation.pixel_shift:
        return _remedy(
            "±1-pixel shifts", "more varied training images for free", {"augmentation": {"pixel_shift": True}}
        )
    if spec.augmentation.gaussian_noise >= 0.1:
        return None
    return _remedy(
        "Gaussian feature noise 0.1",
        "noisy copies of the rows make memorizing them harder",
        {"augmentation": {"gaussian_noise": 0.1}},
    )


def full_training_set(spec: JobSpec) -> Remedy | None:
    if spec.dataset.train_subset is None:
        return None
    return _remedy(
        "use all training rows", "more data is the surest cure for overfitting", {"dataset": {"train_subset": None}}
    )


def clean_labels(spec: JobSpec) -> Remedy | None:
    if spec.dataset.label_noise == 0:
        return None
    return _remedy(
        "no label noise", "the model is fitting labels that were replaced at random", {"dataset": {"label_noise": 0.0}}
    )


def unshifted_test(spec: JobSpec) -> Remedy | None:
    if spec.dataset.test_shift == 0:
        return None
    return _remedy(
        "test on unshifted data",
        "the test features were moved away from the training distribution",
        {"dataset": {"test_shift": 0.0}},
    )


def cross_entropy(spec: JobSpec) -> Remedy:
    return _remedy(
        "cross-entropy loss",
        "its gradient stays large on confidently wrong predictions, where MSE on softmax outputs vanishes",
        {"loss": "cross_entropy"},
    )


def smaller_batch(spec: JobSpec, n_train: int) -> Remedy | None:
    size = max(1, min(64, n_train // 10))
    if size >= spec.batch_size:
        return None
    return _remedy(
        f"batch size {size}",
        "more, noisier steps per epoch; the noise steers away from sharp minima",
        {"batch_size": size},
    )


def _has_hidden(spec: JobSpec) -> bool:
    return bool(spec.model.hidden) or spec.model.kind == "cnn"
