"""A fit's kept weights as a model file and its exports: the regression path, where the graph also
de-standardizes the target, reproduces the test MAE the fit reported from raw rows, in every format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch

from trainer import fit
from trainer.datasets import load_dataset
from trainer.model_export import export_model
from trainer.model_file import MODEL_FILE, model_card, write_model_file
from trainer.splits import fold_data
from trainwell.metrics import MetricName
from trainwell.spec import JobSpec
from trainwell.torch_model import load_model


def test_a_regression_model_answers_in_the_targets_units_in_every_format(tmp_path: Path) -> None:
    spec = JobSpec.model_validate(
        {
            "dataset": {"name": "diabetes", "feature_norm": "minmax"},
            "model": {"hidden": [16], "norm": "layer"},
            "loss": "mae",
            "epochs": 4,
        }
    )
    result = fit(spec)
    dataset = load_dataset(spec.dataset)
    assert result.state_dict is not None
    card = model_card(spec, result, dataset, target="progression")
    assert card.epoch == 4 and card.labels is None and card.target == "progression"
    assert card.target_scale > 1 and card.feature_norm == "minmax" and card.features[0] == "x0"
    path = tmp_path / MODEL_FILE
    write_model_file(path, result.state_dict, card)

    data = next(iter(fold_data(dataset, spec.dataset)))
    assert data.test_rows is not None
    raw, truth = dataset.X[data.test_rows], dataset.y[data.test_rows]
    reported = result.folds[0].final_metrics[MetricName.test_mae]

    model = load_model(path)
    with torch.no_grad():
        values = model(torch.from_numpy(raw)).numpy()
    program = torch.export.load(str(export_model(path, "pt2"))).module()
    with torch.no_grad():
        from_pt2 = program(torch.from_numpy(raw)).numpy()
    session = onnxruntime.InferenceSession(str(export_model(path, "onnx")), providers=["CPUExecutionProvider"])
    (from_onnx,) = session.run(None, {"rows": raw})
    for predicted in (values, from_pt2, from_onnx):
        assert predicted.shape == truth.shape
        assert float(np.abs(predicted - truth).mean()) == pytest.approx(reported, rel=1e-4)
    assert export_model(path, "safetensors") == path
    with pytest.raises(ValueError, match="allowed: safetensors, pt2, onnx"):
        export_model(path, "pickle")
