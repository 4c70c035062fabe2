"""ASHA's rule (core/asha.py) replayed against Optuna's SuccessiveHalvingPruner: recorded sequences of trials
reaching rungs, interleaved as asynchronous trials reach them, get the same decision from both."""

from __future__ import annotations

import random

import optuna
import pytest
from optuna.pruners import SuccessiveHalvingPruner

from core.asha import decide
from trainwell.sweep import Asha

optuna.logging.set_verbosity(optuna.logging.WARNING)


def replay(events: list[tuple[int, float]], *, factor: int, maximize: bool) -> list[bool]:
    """Our decisions for `events` — (trial, value) in the order trials reach rungs; a trial's k-th event is its
    rung k — each against the values its rung recorded before, as store/sweep_rungs.py reaches them."""
    at_rung: dict[int, list[float]] = {}
    reached: dict[int, int] = {}
    stopped: set[int] = set()
    decisions = []
    for trial, value in events:
        assert trial not in stopped, "a stopped trial reaches no later rung"
        rung = reached.get(trial, 0)
        decision = decide(value, at_rung.get(rung, []), reduction_factor=factor, maximize=maximize)
        at_rung.setdefault(rung, []).append(value)
        reached[trial] = rung + 1
        if not decision.promoted:
            stopped.add(trial)
        decisions.append(decision.promoted)
    return decisions


def optuna_replay(events: list[tuple[int, float]], *, factor: int, maximize: bool) -> list[bool]:
    """Optuna's pruner on the same events: each trial reports its value at its rung's step and asks."""
    pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=factor, min_early_stopping_rate=0)
    study = optuna.create_study(direction="maximize" if maximize else "minimize", pruner=pruner)
    trials: dict[int, optuna.Trial] = {}
    reached: dict[int, int] = {}
    decisions = []
    for trial, value in events:
        if trial not in trials:
            trials[trial] = study.ask()
        rung = reached.get(trial, 0)
        trials[trial].report(value, step=factor**rung)  # rung k's step: min_resource · η^k
        reached[trial] = rung + 1
        decisions.append(not trials[trial].should_prune())
    return decisions


def recorded(seed: int, trials: int, rungs: int, factor: int) -> list[tuple[int, float]]:
    """An asynchronous search's sequence: trials start in order, each goes on to its next rung at a random
    later moment while it is promoted; a trial's value improves a little with each rung."""
    rng = random.Random(seed)
    quality = [rng.lognormvariate(0, 1) for _ in range(trials)]
    events: list[tuple[int, float]] = []
    running: list[tuple[int, int]] = []  # (trial, its next rung)
    started = 0
    stopped: set[int] = set()
    at_rung: dict[int, list[float]] = {}
    while started < trials or running:
        if started < trials and (not running or rng.random() < 0.5):
            running.append((started, 0))
            started += 1
            continue
        trial, rung = running.pop(rng.randrange(len(running)))
        value = quality[trial] / (1 + rung) + rng.random() * 0.01
        events.append((trial, value))
        promoted = decide(value, at_rung.get(rung, []), reduction_factor=factor, maximize=False).promoted
        at_rung.setdefault(rung, []).append(value)
        if promoted and rung + 1 < rungs:
            running.append((trial, rung + 1))
        elif not promoted:
            stopped.add(trial)
    return events


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("factor", [2, 3, 4])
def test_the_rule_decides_as_optunas_successive_halving_pruner(seed: int, factor: int) -> None:
    events = recorded(seed, trials=30, rungs=3, factor=factor)
    ours = replay(events, factor=factor, maximize=False)
    assert ours == optuna_replay(events, factor=factor, maximize=False)
    assert 0 < ours.count(False) < len(ours), "the sequence has stops and promotions both"


@pytest.mark.parametrize("seed", range(3))
def test_a_maximized_metric_is_decided_as_optuna_decides_it(seed: int) -> None:
    events = [(trial, -value) for trial, value in recorded(seed, trials=20, rungs=2, factor=3)]
    # the sequence's rungs were decided minimizing; re-decided maximizing, a trial may now be stopped
    # earlier, so replay only the prefix both would have produced: each trial's first rung
    first = [event for n, event in enumerate(events) if event[0] not in {e[0] for e in events[:n]}]
    assert replay(first, factor=3, maximize=True) == optuna_replay(first, factor=3, maximize=True)


def test_a_recorded_first_rung_by_hand() -> None:
    """η = 3 at one rung: the first trial always goes on; then the best so far while fewer than 6 have
    reached it (top ⌊n/3⌋ is the best alone), the best two from the sixth."""
    values = [0.5, 0.7, 0.4, 0.6, 0.45, 0.41, 0.42, 0.9]
    assert replay(list(enumerate(values)), factor=3, maximize=False) == [
        True,  # alone: always on
        False,  # 0.7 > 0.5
        True,  # 0.4, the best of 3
        False,
        False,  # 0.45: ⌊5/3⌋ = 1, the best only (0.4)
        True,  # 0.41: ⌊6/3⌋ = 2, the best two (0.4, 0.41)
        False,  # 0.42: ⌊7/3⌋ = 2 → cutoff 0.41
        False,
    ]
    decision = decide(0.42, values[:6], reduction_factor=3, maximize=False)
    assert (decision.cutoff, decision.competitors) == (0.41, 7)


def test_rungs_are_min_epochs_times_powers_of_eta_below_the_last_epoch() -> None:
    assert Asha(min_epochs=1, reduction_factor=3).rungs(27) == [1, 3, 9]
    assert Asha(min_epochs=2, reduction_factor=3).rungs(20) == [2, 6, 18]
    assert Asha(min_epochs=2, reduction_factor=2).rungs(2) == []
