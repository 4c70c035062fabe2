"""A trained model's answers on raw rows: the predicted class index (and every class's probability) or value.

Plain PyTorch on the CPU, in eval mode under `torch.inference_mode()`, a batch at a time so the
activations of a large table stay bounded (65,536 rows × a 128-wide layer is 32 MB of float32).
"""

from __future__ import annotations

import numpy as np
import torch

from trainwell.torch_model import RawRowsModel

BATCH_ROWS = 65_536


def predict(model: RawRowsModel, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(class indices int64, probabilities float32 [n, classes]) for a classifier, (values float32, None)
    for a regression model; `rows` are raw float32 [n, features] in the model's feature order."""
    model.eval()
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(rows), BATCH_ROWS):
            outputs.append(model(torch.from_numpy(np.ascontiguousarray(rows[start : start + BATCH_ROWS]))))
    output = torch.cat(outputs) if outputs else torch.empty(0, model.card.output_dim)
    if model.card.task == "regression":
        return output.reshape(-1).numpy().astype(np.float32), None
    probabilities = torch.softmax(output, dim=1)
    return probabilities.argmax(1).numpy(), probabilities.numpy().astype(np.float32)
