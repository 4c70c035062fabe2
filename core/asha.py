"""ASHA's promotion rule: does a trial that has just reached a rung go on?

Asynchronous successive halving (Li et al., MLSys 2020, Algorithm 2) promotes a configuration out of rung k
when it is in the top 1/η of the configurations rung k has seen so far. As a stopping rule, decided the
moment a trial reaches the rung, that is Optuna's SuccessiveHalvingPruner: with n values at the rung
(the trial's own included), the trial goes on when its value is no worse than the ⌊n/η⌋-th best (at least
the best, so the first trial to reach a rung always goes on). tests/core/test_asha.py replays recorded
sequences against Optuna's pruner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RungDecision:
    promoted: bool
    cutoff: float  # the worst value that goes on, among those at the rung
    competitors: int  # values at the rung, the trial's own included

    def reason(self, *, metric: str, value: float, rung: int, epoch: int, reduction_factor: int) -> str:
        return (
            f"its {metric} {value:.4g} at epoch {epoch} (rung {rung}) is not in the top 1/{reduction_factor} of the "
            f"{self.competitors} trials that reached the rung so far (the cutoff was {self.cutoff:.4g})"
        )


def decide(value: float, others: Sequence[float], *, reduction_factor: int, maximize: bool) -> RungDecision:
    """Whether a trial with `value` at a rung goes on, against the `others` recorded there before it."""
    competing = sorted([*others, value], reverse=maximize)
    top = max(len(competing) // reduction_factor, 1)
    cutoff = competing[top - 1]
    promoted = value >= cutoff if maximize else value <= cutoff
    return RungDecision(promoted, cutoff, len(competing))
