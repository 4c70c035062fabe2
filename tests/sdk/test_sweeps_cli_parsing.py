"""What needs no service: how `sweeps create` reads `--grid` and `--seeds`, the rows' DataFrame (and its
error without pandas), the mean curve a sweep plot draws, and a JobSpec base sent as written."""

from __future__ import annotations

import math
import sys
from typing import Any

import pytest
from typer.testing import CliRunner

from trainwell import JobSpec, SweepCell, SweepTable
from trainwell._sweep_plot import mean_curve
from trainwell._sweep_table import cell_label, to_pandas
from trainwell.cli import app
from trainwell.cli.sweeps import parse_grid, parse_seeds, parse_value, split_values
from trainwell.job import MetricSeries
from trainwell.resources.sweeps import base_payload


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("16", 16),
        ("0.001", 0.001),
        ("1e-3", 0.001),
        ("true", True),
        ("null", None),
        ("[64,64]", [64, 64]),
        ("[]", []),
        ('{"name":"sgd","momentum":0.9}', {"name": "sgd", "momentum": 0.9}),
        ('"16"', "16"),  # quoted: the string, for a field that takes one
        ("adam", "adam"),
        (" sgd ", "sgd"),
        ("cosine-annealing", "cosine-annealing"),
        ("[64", "[64"),  # not JSON: kept as written, for the service's 422 to name
    ],
)
def test_a_value_is_json_where_it_parses_else_a_string(text: str, value: Any) -> None:
    assert parse_value(text) == value and type(parse_value(text)) is type(value)


def test_values_split_on_top_level_commas_only() -> None:
    assert split_values("16,1024") == ["16", "1024"]
    assert split_values("[64],[128,128]") == ["[64]", "[128,128]"]
    assert split_values('{"name":"sgd","lr":0.1},{"name":"adam"}') == ['{"name":"sgd","lr":0.1}', '{"name":"adam"}']
    assert split_values('[[8,8],{"a":[1,2]}],x') == ['[[8,8],{"a":[1,2]}]', "x"]
    assert split_values('"a,b",c') == ['"a,b"', "c"]
    assert split_values(r'"a\",b",c') == [r'"a\",b"', "c"], "an escaped quote does not end the string"
    assert split_values("adam") == ["adam"]


@pytest.mark.parametrize("text", ["[64,[128]", "64]", '"open,', "{"])
def test_unbalanced_values_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"unclosed|closes nothing"):
        split_values(text)


def test_grid_options_become_the_request_grid_in_order() -> None:
    grid = parse_grid(
        [
            "batch_size=16,1024",
            "optimizer.name=sgd,adam",
            "model.hidden=[64],[128,128]",
            'optimizer={"name":"sgd","momentum":0.9},{"name":"adam"}',
            "dataset.feature_norm=standard",
        ]
    )
    assert grid == {
        "batch_size": [16, 1024],
        "optimizer.name": ["sgd", "adam"],
        "model.hidden": [[64], [128, 128]],
        "optimizer": [{"name": "sgd", "momentum": 0.9}, {"name": "adam"}],
        "dataset.feature_norm": ["standard"],
    }
    assert list(grid) == ["batch_size", "optimizer.name", "model.hidden", "optimizer", "dataset.feature_norm"]
    assert parse_grid(["optimizer.lr = 0.1, 0.01"]) == {"optimizer.lr": [0.1, 0.01]}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["batch_size"], "KEY=VALUE"),
        (["=16,32"], "KEY=VALUE"),
        (["batch_size=16,,32"], "batch_size: an empty value"),
        (["batch_size="], "batch_size: an empty value"),
        (["batch_size=16", "batch_size=32"], "given twice"),
        (["model.hidden=[64],[128"], "model.hidden: .*unclosed"),
    ],
)
def test_bad_grid_options_name_the_problem(options: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_grid(options)


def test_seeds() -> None:
    assert parse_seeds("0,1,2") == [0, 1, 2]
    assert parse_seeds(" 7 ") == [7]
    with pytest.raises(ValueError, match="integers"):
        parse_seeds("0,one")


def test_the_cli_refuses_a_bad_grid_before_any_request(tmp_path: Any) -> None:
    spec = tmp_path / "base.yaml"
    spec.write_text("dataset: {name: iris}\n")
    # no key and an unreachable URL: a request would fail differently than this usage error
    args = ["--url", "http://127.0.0.1:9", "--api-key", "tw_unused"]
    bad_grid = CliRunner().invoke(app, [*args, "sweeps", "create", str(spec), "--grid", "model.hidden=[64"])
    assert bad_grid.exit_code == 2 and "--grid" in bad_grid.output and "unclosed" in bad_grid.output
    bad_seeds = CliRunner().invoke(app, [*args, "sweeps", "create", str(spec), "-g", "epochs=1", "--seeds", "a"])
    assert bad_seeds.exit_code == 2 and "--seeds" in bad_seeds.output


def _cell(index: int, optimizer: str, mean: float | None, *, n: int) -> SweepCell:
    stat = {"mean": mean, "std": None if n < 2 else 0.1, "n": n}
    return SweepCell.model_validate(
        {
            "cell": index,
            "values": {"optimizer.name": optimizer, "model.hidden": [8]},
            "job_ids": [f"job-{index}-{seed}" for seed in range(n)],
            "succeeded": n,
            "metrics": {"best_val_loss": stat, "best_val_accuracy": stat},
            "best_epoch": {"mean": 2.0, "std": None, "n": n},
            "seconds": stat,
            "lambda_max": {"mean": None, "std": None, "n": 0},
            "verdicts": {"good_fit": n},
        }
    )


def test_to_pandas_flattens_a_row_per_cell() -> None:
    table = SweepTable([_cell(0, "sgd", 0.9, n=2), _cell(1, "adam", 0.3, n=1)])
    frame = table.to_pandas()
    assert list(frame["cell"]) == [0, 1] and list(frame["optimizer.name"]) == ["sgd", "adam"]
    assert list(frame["model.hidden"]) == [[8], [8]]
    assert list(frame["best_val_loss_mean"]) == [0.9, 0.3] and list(frame["best_val_loss_n"]) == [2, 1]
    assert frame["best_val_loss_std"][0] == 0.1 and math.isnan(frame["best_val_loss_std"][1])
    assert list(frame["verdict_good_fit"]) == [2, 1] and list(frame["verdict_overfitting"]) == [0, 0]
    assert {"best_epoch_mean", "seconds_std", "lambda_max_n", "succeeded", "job_ids"} <= set(frame.columns)
    assert to_pandas([]).empty


def test_to_pandas_without_pandas_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # what `import pandas` sees where it is not installed
    with pytest.raises(ImportError, match=r"pip install 'trainwell\[pandas\]'"):
        SweepTable([_cell(0, "sgd", 0.9, n=2)]).to_pandas()
    with pytest.raises(ImportError, match="pandas"):
        to_pandas([])


def test_cell_label() -> None:
    assert cell_label({"optimizer.name": "adam", "model.hidden": [64, 64], "x": None}) == (
        "optimizer.name=adam, model.hidden=[64,64], x=null"
    )


def _series(values: list[float]) -> MetricSeries:
    points = [{"epoch": epoch, "step": epoch * 10, "value": value} for epoch, value in enumerate(values, 1)]
    return MetricSeries.model_validate({"name": "val_loss", "fold": 0, "points": points})


def test_mean_curve_averages_the_trials_that_reached_each_epoch() -> None:
    curve = mean_curve([_series([1.0, 0.5, 0.25]), _series([3.0, 1.5])])  # the second stopped early
    assert curve.epochs == [1, 2, 3] and curve.counts == [2, 2, 1]
    assert curve.means == [2.0, 1.0, 0.25]
    assert curve.stds[0] == pytest.approx(math.sqrt(2)) and math.isnan(curve.stds[2])

    per_step = MetricSeries.model_validate(
        {"name": "train_loss", "fold": 0, "points": [{"epoch": 1, "step": s, "value": v} for s, v in [(1, 9), (2, 4)]]}
    )
    assert mean_curve([per_step]).means == [4.0], "an epoch counts with its last step's value"


def test_a_jobspec_base_is_sent_as_written() -> None:
    base = JobSpec.model_validate({"dataset": {"name": "iris"}, "model": {"hidden": [8]}, "epochs": 2})
    # a full dump would send diagnosis.probes: true and turn every trial's probes on
    assert base_payload(base) == {"dataset": {"name": "iris"}, "model": {"hidden": [8]}, "epochs": 2}
    assert base_payload({"dataset": {"name": "iris"}, "epoch": 2}) == {"dataset": {"name": "iris"}, "epoch": 2}
