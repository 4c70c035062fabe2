"""The side-by-side bench's reads, export and peak memory (bench/mlflow_side_by_side.py), and its verdicts.

Each read is a whole HTTP exchange as a client sees it, JSON parsed. The two systems take turns in
every round, the first of them alternating.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bench import mlflow_server as mlflow
from bench.metric_export import peak_rss_mb, read_streamed
from bench.metrics import NAMES, is_spike, ms

if TYPE_CHECKING:
    from bench.mlflow_side_by_side import Systems

MAX_POINTS = 1000
EXPORT_ROUNDS = 3
MLFLOW_EXPORT_ROUNDS = 2  # its paged export of 1M points takes minutes a round on this machine
MLFLOW_MIN_ROUNDS = 3
MLFLOW_BUDGET_S = 60
# the targets BENCHMARKS.md holds the metric store to
SAMPLED_RATIO, SAMPLED_P95_MS = 25, 50
INGEST_RATIO = 10
EXPORT_RATIO, EXPORT_RSS_MB = 5, 20


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    out = call()
    return time.perf_counter() - began, out


def _pair(
    tw: Callable[[], Any], ml: Callable[[], Any], rounds: int, *, ml_rounds: int = MLFLOW_MIN_ROUNDS
) -> tuple[list[float], list[float], Any, Any]:
    """`rounds` of each system, taking turns; MLflow's rounds stop after `ml_rounds` once they have taken
    MLFLOW_BUDGET_S (at 1M points one of its reads takes seconds to a minute), trainwell's go on alone."""
    tw_times: list[float] = []
    ml_times: list[float] = []
    tw_out = ml_out = None
    for i in range(rounds):
        with_ml = len(ml_times) < ml_rounds or sum(ml_times) < MLFLOW_BUDGET_S
        for system in ("tw", "ml") if i % 2 == 0 else ("ml", "tw"):
            if system == "tw":
                elapsed, tw_out = timed(tw)
                tw_times.append(elapsed)
            elif with_ml:
                elapsed, ml_out = timed(ml)
                ml_times.append(elapsed)
    return tw_times, ml_times, tw_out, ml_out


def _figures(tw_times: list[float], ml_times: list[float]) -> dict[str, Any]:
    tw, ml = ms(tw_times), ms(ml_times)
    return {
        "trainwell": tw,
        "mlflow": ml,
        "ratio_p50": round(ml["p50_ms"] / tw["p50_ms"], 1),
        "ratio_p95": round(ml["p95_ms"] / tw["p95_ms"], 1),
        "rounds": {"trainwell": len(tw_times), "mlflow": len(ml_times)},
    }


def reads(systems: Systems, steps: int, repeats: int) -> dict[str, Any]:
    one, four = [NAMES[0]], list(NAMES)
    zoom = (steps // 2, steps // 2 + steps // 10 - 1)

    def tw_read(names: list[str], **params: int) -> list[dict[str, Any]]:
        response = systems.tw.get(f"/v1/jobs/{systems.tw_run}/metrics", params={"names": ",".join(names), **params})
        assert response.status_code == 200, response.text
        return list(response.json()["series"])

    def ml_sampled(names: list[str], window: tuple[int, int] | None = None) -> list[dict[str, Any]]:
        return [m for n in names for m in mlflow.sampled_history(systems.ml, systems.ml_run, n, MAX_POINTS, window)]

    cases: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
        "sampled_1_series": (lambda: tw_read(one, max_points=MAX_POINTS), lambda: ml_sampled(one)),
        "sampled_4_series": (lambda: tw_read(four, max_points=MAX_POINTS), lambda: ml_sampled(four)),
        "zoom_1_series": (
            lambda: tw_read(one, max_points=MAX_POINTS, from_step=zoom[0], to_step=zoom[1]),
            lambda: ml_sampled(one, zoom),
        ),
        "full_1_series": (lambda: tw_read(one), lambda: mlflow.full_history(systems.ml, systems.ml_run, one[0])),
    }
    out: dict[str, Any] = {"repeats": repeats}
    for name, (tw, ml) in cases.items():
        tw_times, ml_times, tw_out, ml_out = _pair(tw, ml, repeats)
        out[name] = _figures(tw_times, ml_times)
        tw_points = [p for series in tw_out for p in series["points"]]
        out[name]["points_returned"] = {
            "trainwell": len(tw_points),
            "mlflow": ml_out if isinstance(ml_out, int) else len(ml_out),
        }
        if name == "sampled_1_series":
            out["spikes_kept_1_series"] = {
                "trainwell": sum(is_spike(p["step"]) for p in tw_points),
                "mlflow": sum(is_spike(int(m["step"])) for m in ml_out),
                "of": sum(is_spike(s) for s in range(steps)),
            }
        print(name, out[name], flush=True)
    return out


def export_and_memory(systems: Systems, steps: int) -> dict[str, Any]:
    """Every point of the run out of freshly started servers, and what it grew their peak RSS by."""
    export = "/v1/jobs/{job}/metrics/export"
    read_streamed(systems.tw, export.format(job=systems.tw_warm), {"format": "csv"})
    for _ in range(2):  # requests land on any of MLflow's workers: warm more than one
        for name in NAMES:
            mlflow.full_history(systems.ml, systems.ml_warm, name)
    assert systems.services.api is not None
    tw_pid = systems.services.api.pid
    tw_before, ml_before = peak_rss_mb(tw_pid), systems.server.peak_rss_mb()
    received: list[int] = []

    def tw_export() -> None:
        received.append(read_streamed(systems.tw, export.format(job=systems.tw_run), {"format": "csv"})[1])

    def ml_export() -> int:
        return sum(mlflow.full_history(systems.ml, systems.ml_run, name) for name in NAMES)

    tw_times, ml_times, _, ml_points = _pair(tw_export, ml_export, EXPORT_ROUNDS, ml_rounds=MLFLOW_EXPORT_ROUNDS)
    tw_after, ml_after = peak_rss_mb(tw_pid), systems.server.peak_rss_mb()
    growth = {pid: ml_after[pid] - ml_before[pid] for pid in ml_after if pid in ml_before}
    out = _figures(tw_times, ml_times)
    out.update(
        trainwell_csv_mb=round(received[0] / 1e6, 1),
        mlflow_points_read=ml_points,
        trainwell_rss={"peak_before_mb": round(tw_before, 1), "growth_mb": round(tw_after - tw_before, 1)},
        mlflow_rss={
            "processes": len(ml_after),
            "peak_before_mb_sum": round(sum(ml_before.values()), 1),
            "growth_mb_sum": round(sum(growth.values()), 1),
            "growth_mb_max_process": round(max(growth.values()), 1),
        },
    )
    print("export", out, flush=True)
    return out


def verdicts(results: dict[str, Any]) -> dict[str, str]:
    """Each target on one backend: met or missed, with the measured figure."""
    sampled = results["reads"]["sampled_4_series"]
    ratio, p95 = sampled["ratio_p50"], sampled["trainwell"]["p95_ms"]
    ingest = results["ingest"]["ratio_trainwell_http_over_mlflow"]
    export = results["export"]
    growth = export["trainwell_rss"]["growth_mb"]

    def word(ok: bool) -> str:
        return "met" if ok else "missed"

    return {
        "sampled_4_series": f"{word(ratio >= SAMPLED_RATIO and p95 <= SAMPLED_P95_MS)}: {ratio}× MLflow's median "
        f"(≥ {SAMPLED_RATIO}×), p95 {p95} ms (≤ {SAMPLED_P95_MS} ms)",
        "ingest": f"{word(ingest >= INGEST_RATIO)}: {ingest}× MLflow's log-batch rate (≥ {INGEST_RATIO}×)",
        "export": f"{word(export['ratio_p50'] >= EXPORT_RATIO and growth <= EXPORT_RSS_MB)}: {export['ratio_p50']}× "
        f"faster than MLflow's paged get-history (≥ {EXPORT_RATIO}×), RSS growth {growth} MB (≤ {EXPORT_RSS_MB} MB)",
    }
