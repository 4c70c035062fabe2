from __future__ import annotations

import random

from core.downsample import downsample


def test_short_series_are_returned_whole() -> None:
    assert downsample([1, 2, 3], [1.0, 2.0, 3.0], 10) == [1, 2, 3]


def test_a_single_spike_survives_downsampling() -> None:
    rng = random.Random(0)
    values = [1.0 / (i + 1) + rng.uniform(0, 0.01) for i in range(10_000)]
    values[7_321] = 50.0  # one exploding step
    values[2_000] = -3.0  # and one dip
    points = list(range(len(values)))
    kept = downsample(points, values, 200)
    assert len(kept) <= 200
    assert 7_321 in kept and 2_000 in kept
    assert kept[0] == 0 and kept[-1] == len(values) - 1
    assert kept == sorted(kept), "order is preserved"


def test_tiny_budgets_keep_the_ends() -> None:
    assert downsample(list(range(100)), [0.0] * 100, 2) == [0, 99]
