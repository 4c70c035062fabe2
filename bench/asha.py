"""The ASHA decision at an epoch end against its target (BENCHMARKS.md): a trial reaching a rung locks its
sweep's row, reads every value at the rung (one indexed read: the rung table's primary key prefix), decides
and records itself — in the transaction that writes the rung epoch's metrics (worker/reporter.py).

Measured on PostgreSQL at 100 and 1,000 values already at the rung; the baseline is the same epoch's write
without the rung (the fence and the metric rows, as every epoch writes them), timed in the same rounds,
interleaved. Target: the decision ≤ 10 ms. The decision's own cost is reported as the paired difference
(with rung − without) and as the median of the paired ratios.
"""

from __future__ import annotations

import json
import random
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from store.db import make_engine
from store.jobs import new_job, set_progress
from store.metrics import MetricRow, record_metrics
from store.migrate import upgrade_database
from store.models import Job, Principal, Sweep, SweepRung, utcnow
from store.sweep_rungs import TrialRungs, reach_rung
from tests.stack import postgres_database
from trainwell.spec import JobSpec
from trainwell.sweep import Asha

RESULTS = Path(__file__).parent / "results" / "asha.json"
SIZES = (100, 1000)
TARGET_MS = 10.0
ROUNDS = 40
SPEC = JobSpec.model_validate({"dataset": {"name": "iris"}, "epochs": 27})
METRICS = ("train_loss", "val_loss", "test_loss", "train_accuracy", "val_accuracy", "test_accuracy", "lr")


def _sweep(session: Session, principal_id: int, size: int) -> tuple[str, list[str]]:
    """A sweep with `size` running trials' jobs at the first rung, and one more job to time."""
    sweep_id = str(uuid.uuid4())
    session.execute(
        insert(Sweep).values(
            id=sweep_id,
            principal_id=principal_id,
            name=None,
            status="running",
            request={},
            base={},
            grid={},
            seeds=[0],
            max_parallel=4,
            trials=size + 1,
            created_at=utcnow(),
        )
    )
    rows = [new_job(principal_id=principal_id, spec=SPEC, queue="train", sweep_id=sweep_id) for _ in range(size + 1)]
    for row in rows:
        row.update(status="running", attempt=1)
    session.execute(insert(Job), rows)
    rng = random.Random(size)
    session.execute(
        insert(SweepRung),
        [
            dict(
                sweep_id=sweep_id,
                rung=0,
                job_id=row["id"],
                epoch=1,
                value=rng.random(),
                promoted=True,
                cutoff=0.5,
                competitors=n + 1,
                created_at=utcnow(),
            )
            for n, row in enumerate(rows[:size])
        ],
    )
    session.commit()
    return sweep_id, [row["id"] for row in rows]


def _epoch_write(session: Session, job_id: str, epoch: int) -> None:
    assert set_progress(session=session, job_id=job_id, attempt=1, epoch=epoch, fold=0, folds=1, epochs=1000)
    record_metrics(session=session, job_id=job_id, rows=[MetricRow(n, 0, epoch, epoch * 6, 0.5) for n in METRICS])


def main() -> dict[str, Any]:
    with postgres_database() as url:
        upgrade_database(url)
        engine = make_engine(url)
        try:
            with Session(engine) as session:
                principal = Principal(name="bench")
                session.add(principal)
                session.commit()
                sweeps = {size: _sweep(session, principal.id, size) for size in SIZES}
                asha = Asha(min_epochs=1, reduction_factor=3)
                timings: dict[str, list[float]] = {f"{kind}_{size}": [] for kind in ("plain", "rung") for size in SIZES}
                for n in range(ROUNDS):
                    for size, (sweep_id, jobs) in sweeps.items():
                        job_id = jobs[-1]
                        rungs = TrialRungs(sweep_id, asha, (1, 3, 9))
                        started = time.perf_counter()
                        _epoch_write(session, job_id, epoch=2 + 2 * n)
                        session.commit()
                        timings[f"plain_{size}"].append(time.perf_counter() - started)
                        started = time.perf_counter()
                        reach_rung(session=session, rungs=rungs, job_id=job_id, rung=0, epoch=1, value=0.4)
                        _epoch_write(session, job_id, epoch=3 + 2 * n)  # later epochs, as a run writes them
                        session.commit()
                        timings[f"rung_{size}"].append(time.perf_counter() - started)
                        # untimed: the trial leaves the rung again, so that each round finds `size` values there
                        session.execute(
                            delete(SweepRung).where(SweepRung.sweep_id == sweep_id, SweepRung.job_id == job_id)
                        )
                        session.commit()
        finally:
            engine.dispose()
    result: dict[str, Any] = {"target_ms": TARGET_MS, "rounds": ROUNDS, "sizes": {}}
    for size in SIZES:
        plain, rung = timings[f"plain_{size}"], timings[f"rung_{size}"]
        extra = [r - p for r, p in zip(rung, plain, strict=True)]
        result["sizes"][str(size)] = {
            "epoch_write_ms": round(statistics.median(plain) * 1000, 2),
            "epoch_write_with_rung_ms": round(statistics.median(rung) * 1000, 2),
            "decision_ms": round(statistics.median(extra) * 1000, 2),
            "ratio": round(statistics.median(r / p for r, p in zip(rung, plain, strict=True)), 2),
            "p95_with_rung_ms": round(sorted(rung)[int(0.95 * len(rung)) - 1] * 1000, 2),
        }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    for size, row in result["sizes"].items():
        print(
            f"ASHA decision, {size} values at the rung: {row['decision_ms']} ms over the epoch's write "
            f"({row['epoch_write_ms']} → {row['epoch_write_with_rung_ms']} ms, ×{row['ratio']}; target ≤ {TARGET_MS} ms)"
        )
    return result


if __name__ == "__main__":
    main()
