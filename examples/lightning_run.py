"""Train a small model with PyTorch Lightning in your own code, log it to trainwell, and get a verdict.

    pip install "trainwell[lightning]"
    python examples/lightning_run.py                # a small MLP on scikit-learn's digits
    python examples/lightning_run.py --epochs 40

Needs a running service (`make run`); the URL and key come from TRAINWELL_URL / TRAINWELL_API_KEY or the
embedded key file, as for `trainwell.Client()`. The run shows on the dashboard like any job.
"""

from __future__ import annotations

import argparse

import lightning
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import trainwell
from trainwell.integrations.lightning import TrainwellLogger


class DigitsMLP(lightning.LightningModule):
    def __init__(self, hidden: int = 64, lr: float = 1e-3) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> torch.Tensor:
        x, y = batch
        loss = nn.functional.cross_entropy(self.net(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> None:
        x, y = batch
        logits = self.net(x)
        self.log("val_loss", nn.functional.cross_entropy(logits, y))
        self.log("val_accuracy", (logits.argmax(dim=1) == y).float().mean())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams["lr"])


def loaders(
    seed: int = 0,
) -> tuple[DataLoader[tuple[torch.Tensor, ...]], DataLoader[tuple[torch.Tensor, ...]], list[float]]:
    X, y = load_digits(return_X_y=True)
    X_train, X_val, y_train, y_val = train_test_split(X / 16.0, y, test_size=0.25, random_state=seed, stratify=y)

    def loader(X: np.ndarray, y: np.ndarray, shuffle: bool) -> DataLoader[tuple[torch.Tensor, ...]]:
        data = TensorDataset(torch.tensor(X, dtype=torch.float32), torch.tensor(y))
        return DataLoader(data, batch_size=64, shuffle=shuffle)

    prior = (np.bincount(y_train, minlength=10) / len(y_train)).tolist()
    return loader(X_train, y_train, True), loader(X_val, y_val, False), prior


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    lightning.seed_everything(0)
    train, val, prior = loaders()
    client = trainwell.Client()
    logger = TrainwellLogger(
        name="digits-lightning", task="classification", classes=10, class_prior=prior, epochs=args.epochs, client=client
    )
    trainer = lightning.Trainer(
        max_epochs=args.epochs, logger=logger, enable_checkpointing=False, enable_progress_bar=False
    )
    trainer.fit(DigitsMLP(), train, val)
    diagnosis = client.runs.wait_diagnosis(logger.run_id)
    print(f"run {logger.run_id}: {diagnosis.verdict or diagnosis.status} — {diagnosis.summary}")


if __name__ == "__main__":
    main()
