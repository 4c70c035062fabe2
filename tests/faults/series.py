"""A job's metric series, and the check that an interrupted run's are an uninterrupted run's."""

from __future__ import annotations

import httpx

# measured, not computed: they differ between any two runs
TIMING_METRICS = {"epoch_seconds", "samples_per_second"}

Series = dict[tuple[str, int], list[tuple[int, float]]]


def series_of(client: httpx.Client, job_id: str) -> Series:
    """(name, fold) → [(epoch, value)] of every stored point."""
    series = client.get(f"/v1/jobs/{job_id}/metrics").json()["series"]
    return {(s["name"], s["fold"]): [(p["epoch"], p["value"]) for p in s["points"]] for s in series}


def assert_same_run(resumed: Series, uninterrupted: Series, epochs: int) -> None:
    """Every epoch once, and every value but the timings equal to the uninterrupted run's."""
    assert resumed.keys() == uninterrupted.keys()
    for (name, fold), points in resumed.items():
        assert [epoch for epoch, _ in points] == list(range(1, epochs + 1)), f"{name}: each epoch once"
        if name not in TIMING_METRICS:
            assert points == uninterrupted[(name, fold)], f"{name} differs from the uninterrupted run"
