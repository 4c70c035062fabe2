"""`TrainwellLogger`: a Lightning Logger that logs the run to trainwell and gets it diagnosed.

    logger = TrainwellLogger(name="mnist-mlp", task="classification", classes=10)
    lightning.Trainer(logger=logger, max_epochs=20).fit(model, data)
    print(client.jobs.diagnosis(logger.run_id).verdict)

Metrics logged with `self.log(...)` under the shared names (train_loss, val_loss, train_accuracy, …)
reach the diagnosis; Lightning's `_epoch` suffix (`on_step=True, on_epoch=True`) is dropped, and any
other name is logged as `custom/<name>`. The run ends when the trainer finalizes the logger.
"""

from __future__ import annotations

import re
from argparse import Namespace
from typing import Any

from lightning.pytorch.loggers.logger import Logger, rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_only

from trainwell._client import Client
from trainwell._run_logger import Run
from trainwell.metrics import CUSTOM_PREFIX, METRIC_NAMES, is_metric_name

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-/]")


def metric_name(key: str) -> str | None:
    """The trainwell name of a Lightning metric key; None for Lightning's own bookkeeping (`epoch`)."""
    if key == "epoch":
        return None
    base = key.removesuffix("_epoch")
    if base in METRIC_NAMES:
        return base
    name = CUSTOM_PREFIX + _UNSAFE.sub("_", key)[:57]
    return name if is_metric_name(name) else None


class TrainwellLogger(Logger):
    """Logs a Lightning run as a trainwell external run. `client` defaults to `Client()` (its environment
    fallbacks); the other arguments are `client.runs.start`'s."""

    def __init__(
        self,
        *,
        task: str,
        name: str | None = None,
        classes: int | None = None,
        client: Client | None = None,
        **run_arguments: Any,
    ) -> None:
        super().__init__()
        self._client = client or Client()
        self._name = name
        self._arguments = {"task": task, "name": name, "classes": classes, **run_arguments}
        self._run: Run | None = None
        self._config: dict[str, Any] = {}

    @property
    def name(self) -> str:
        return self._name or "trainwell"

    @property
    def version(self) -> str:
        return self.run_id

    @property
    def run_id(self) -> str:
        return self.experiment.id

    @property
    @rank_zero_experiment
    def experiment(self) -> Run:
        """The trainwell run, started on first use."""
        if self._run is None:
            config = {**self._arguments.pop("config", {}), **self._config}
            self._run = self._client.runs.start(**self._arguments, config=config)
        return self._run

    @rank_zero_only
    def log_hyperparams(self, params: dict[str, Any] | Namespace, *args: Any, **kwargs: Any) -> None:
        values = vars(params) if isinstance(params, Namespace) else dict(params)
        self._config.update(
            {k: v if isinstance(v, int | float | str | bool | None) else str(v) for k, v in values.items()}
        )

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        epoch = metrics.get("epoch")
        named = {n: float(v) for k, v in metrics.items() if (n := metric_name(k)) is not None}
        if named:
            self.experiment.log(named, epoch=int(epoch) if epoch is not None else None, step=step)

    @rank_zero_only
    def finalize(self, status: str) -> None:
        if self._run is not None:
            self._run.finish()
