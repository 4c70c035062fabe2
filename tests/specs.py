"""Job specs several test packages share, each built to behave a known way."""

from __future__ import annotations

from typing import Any

# A linear model on circles cannot fit them: a high training loss, the rules call it model bias, and
# its bigger probe (an MLP) fits the circles. 15 epochs of Adam at 0.05 converge in a second.
LINEAR_ON_CIRCLES: dict[str, Any] = {
    "name": "linear-circles",
    "dataset": {"name": "circles", "n_samples": 400},
    "model": {"hidden": []},
    "optimizer": {"name": "adam", "lr": 0.05},
    "epochs": 15,
}
