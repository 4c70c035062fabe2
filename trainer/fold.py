"""Training one fold: the epoch loop, in nanoGPT's phases (batch → forward/backward → clip → step → log → stop).

Speed is a requirement (≤1.05× a hand-written loop, bench/trainer.py), so the step does only what a careful
hand loop does: index a device tensor with a randperm slice, forward, backward, step. Everything the
epoch reports is derived at the epoch end from the batch outputs kept on the device, and read back
with one host sync per epoch; nothing calls .item() per step.
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.utils import clip_grad_norm_, clip_grads_with_norm_

from trainer.augmentation import build_augmentation
from trainer.callbacks import Callbacks, EpochRecord, FoldResult
from trainer.checkpoint import rng_state, seed_everything, set_rng_state
from trainer.datasets import Dataset
from trainer.divergence import divergence_message
from trainer.early_stopping import BestEpoch
from trainer.instrumentation import Instruments, norms_of
from trainer.losses import Objective
from trainer.models import build_model
from trainer.optim import build_optimizer, build_schedule
from trainer.splits import FoldData
from trainwell.metrics import MetricName
from trainwell.spec import JobSpec

EVAL_BATCH = 8192  # rows per evaluation forward pass: bounds activation memory on large splits
EpochOutcome = Literal["continue", "done", "stopped", "diverged"]


def fold_seed(seed: int, fold: int) -> int:
    """The seed a fold starts from: its own, so a resumed run never depends on how earlier folds consumed RNG."""
    return int(np.random.SeedSequence([seed, fold]).generate_state(1)[0])


def initial_model(spec: JobSpec, fold: int, dataset: Dataset) -> nn.Module:
    """The model `fold` starts training from, on the CPU: seed every generator with the fold's seed, then build.

    The initial weights are stored nowhere; this is how they are known again (the loss landscape draws
    the line from them to the final weights). FoldRun builds its model with this very function, so the
    two cannot drift. Leaves the global generators seeded as a fold's training expects to find them.
    """
    seed_everything(fold_seed(spec.seed, fold))
    return build_model(spec.model, dataset.X.shape[1], dataset.output_dim, dataset.image_shape)


class FoldRun:
    def __init__(
        self, spec: JobSpec, fold: int, data: FoldData, dataset: Dataset, device: torch.device, callbacks: Callbacks
    ) -> None:
        self.spec, self.fold, self.device, self.callbacks = spec, fold, device, callbacks
        # Seeds every generator first (the fold's own seed); nothing random may run before the model is built.
        self.model = initial_model(spec, fold, dataset).to(device)
        self.X_train, self.y_train = _on(device, data.X_train, data.y_train)
        self.X_val, self.y_val = _on(device, data.X_val, data.y_val)
        self.X_test, self.y_test = _on(device, data.X_test, data.y_test)
        self.objective = Objective(
            spec.resolved_loss(dataset.task), dataset.task, dataset.num_classes, data.target_scale
        )
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = build_optimizer(spec.optimizer, self.params)
        self.schedule = build_schedule(spec.schedule, self.optimizer, spec.epochs)
        self.augment = build_augmentation(spec.augmentation, dataset.image_shape)
        n, size = len(self.X_train), spec.batch_size
        self.batches = [(start, min(start + size, n)) for start in range(0, n, size)]
        if spec.model.norm == "batch" and len(self.batches) > 1 and self.batches[-1][1] - self.batches[-1][0] == 1:
            self.batches.pop()  # BatchNorm cannot normalize a batch of one row; drop that row this epoch
        self.instruments = Instruments(self.model, len(self.batches), device) if spec.instrumentation.enabled else None
        self.bf16 = spec.precision == "bf16" and device.type == "cuda"
        self.best = BestEpoch(spec.early_stopping)
        self.epoch = self.step = 0
        self.last_metrics: dict[str, float] = {}
        self.early_stopped = False
        self.stopped_early: dict[str, Any] | None = None  # the callbacks' reason for ending it (stop_early)
        self.message = ""

    # -- one epoch -------------------------------------------------------------------------------

    def run_epoch(self) -> EpochOutcome:
        """Train one epoch, report it, and say what comes next."""
        started = time.perf_counter()
        epoch, first_step = self.epoch + 1, self.step
        lr = self.optimizer.param_groups[0]["lr"]
        model, optimizer, objective, instruments = self.model, self.optimizer, self.objective, self.instruments
        X, y, augment, params = self.X_train, self.y_train, self.augment, self.params
        clip, log_every = self.spec.optimizer.grad_clip, self.spec.instrumentation.log_every_steps
        logged_norms: dict[int, Tensor] = {}
        outputs: list[Tensor] = []
        model.train()
        if instruments is not None:
            instruments.start_epoch()
        order = torch.randperm(len(X), device=self.device)
        for i, (start, end) in enumerate(self.batches):
            # batch
            rows = order[start:end]
            inputs, targets = X[rows], y[rows]
            if augment is not None:
                inputs = augment(inputs)
            # forward / backward
            with self._autocast():
                out = model(inputs)
                loss = objective.loss(out, targets)
            if instruments is not None and i == 0:
                instruments.remove_hooks()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            # clip (and record gradient norms)
            norm = None
            if instruments is not None:
                norms = instruments.record_gradients(i, [p.grad for p in params])  # type: ignore[misc]
                if clip is not None:
                    norm = torch.linalg.vector_norm(norms)
                    clip_grads_with_norm_(params, clip, norm)
            elif clip is not None:
                norm = clip_grad_norm_(params, clip)
            # step
            optimizer.step()
            self.step += 1
            outputs.append(out.detach())
            # log (read back at the epoch end, never here)
            if log_every and self.step % log_every == 0:
                logged_norms[self.step] = norm if norm is not None else self._step_norm(i)
            # stop
            if self.callbacks.should_stop():
                return "stopped"
        self.schedule.step()
        if self.device.type == "cuda":
            torch.cuda.synchronize()  # so the training time below is not just the time to queue kernels
        train_seconds = time.perf_counter() - started
        return self._finish_epoch(epoch, first_step, lr, order, outputs, logged_norms, started, train_seconds)

    def _finish_epoch(
        self,
        epoch: int,
        first_step: int,
        lr: float,
        order: Tensor,
        outputs: list[Tensor],
        logged_norms: dict[int, Tensor],
        started: float,
        train_seconds: float,
    ) -> EpochOutcome:
        trained = self.batches[-1][1]
        train_outputs, train_targets = torch.cat(outputs).float(), self.y_train[order[:trained]]
        metrics = self.objective.metrics("train", train_outputs, train_targets)
        for split, X, y in (("val", self.X_val, self.y_val), ("test", self.X_test, self.y_test)):
            metrics.update(self.objective.metrics(split, self._predict(X), y))
        if self.instruments is not None:
            metrics.update(self.instruments.epoch_metrics(len(self.batches)))
        row_losses = self.objective.row_losses(train_outputs, train_targets)
        step_losses = {s: row_losses[slice(*self.batches[s - first_step - 1])].mean() for s in logged_norms}
        # one host sync for everything the epoch reports
        names = [
            *metrics,
            *[MetricName.step_loss.value] * len(step_losses),
            *[MetricName.step_grad_norm.value] * len(logged_norms),
        ]
        values = torch.stack([*metrics.values(), *step_losses.values(), *logged_norms.values()]).float().tolist()
        bad = next((i for i, value in enumerate(values) if not math.isfinite(value)), None)
        if bad is not None:
            self.message = divergence_message(
                fold=self.fold,
                epoch=epoch,
                first_step=first_step,
                batches=self.batches,
                row_losses=row_losses,
                name=names[bad],
                value=values[bad],
            )
            return "diverged"
        record = dict(zip(metrics, values, strict=False))
        record[MetricName.lr.value] = lr
        record[MetricName.epoch_seconds.value] = time.perf_counter() - started
        record[MetricName.samples_per_second.value] = trained / max(train_seconds, 1e-9)
        logged = values[len(metrics) :]
        step_metrics = [
            (
                step,
                {MetricName.step_loss.value: loss, MetricName.step_grad_norm.value: norm, MetricName.step_lr.value: lr},
            )
            for step, loss, norm in zip(
                step_losses, logged[: len(step_losses)], logged[len(step_losses) :], strict=True
            )
        ]
        self.epoch = epoch
        self.last_metrics = record
        self.early_stopped = self.best.update(epoch, record, self.model)
        self.callbacks.on_epoch_end(EpochRecord(self.fold, epoch, self.step, dict(record), step_metrics))
        if not self.early_stopped and epoch < self.spec.epochs:
            self.stopped_early = self.callbacks.stop_early()
            self.early_stopped = self.stopped_early is not None
        if self.early_stopped or epoch >= self.spec.epochs:
            self.best.restore_best(self.model)
            return "done"
        return "continue"

    def _step_norm(self, step_in_epoch: int) -> Tensor:
        """The global gradient norm of this step (before clipping): read from the instruments, or computed."""
        if self.instruments is not None:
            return self.instruments.step_norm(step_in_epoch)
        return torch.linalg.vector_norm(norms_of([p.grad for p in self.params if p.grad is not None]))

    @torch.no_grad()
    def _predict(self, X: Tensor) -> Tensor:
        self.model.eval()
        with self._autocast():
            return torch.cat(
                [self.model(X[start : start + EVAL_BATCH]) for start in range(0, len(X), EVAL_BATCH)]
            ).float()

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        # bf16 autocast on CUDA only: CPU autocast is slow and the spec promises it for GPUs
        if self.bf16:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    # -- results and checkpoints -----------------------------------------------------------------

    def result(self) -> FoldResult:
        return FoldResult(
            self.best.epoch,
            self.epoch,
            self.early_stopped,
            dict(self.best.metrics),
            dict(self.last_metrics),
            self.stopped_early,
        )

    def state(self) -> dict[str, Any]:
        return {
            "fold": self.fold,
            "epoch": self.epoch,
            "step": self.step,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "best": self.best.state_dict(),
            "last_metrics": dict(self.last_metrics),
            "early_stopped": self.early_stopped,
            "rng": rng_state(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.best.load_state_dict(state["best"])
        self.epoch, self.step = state["epoch"], state["step"]
        self.last_metrics, self.early_stopped = dict(state["last_metrics"]), state["early_stopped"]
        set_rng_state(state["rng"])


def _on(device: torch.device, *arrays: np.ndarray) -> list[Tensor]:
    return [torch.from_numpy(a).to(device) for a in arrays]
