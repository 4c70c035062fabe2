"""Sweeps against their targets (BENCHMARKS.md): creating a 100-trial sweep, a trial's cost over the same
job submitted alone, and reading a finished 500-trial sweep's comparison.

1. POST /v1/sweeps of 100 trials (25 batch sizes × 4 seeds of W1) beside POST /v1/jobs of one W1 job,
   alternated on one connection, the API alone (no worker: what is timed is the API's own work); every
   sweep and job is cancelled untimed right after, so the principal's backlog stays empty. Target: the
   sweep ≤ 300 ms.
2. On the `make run` tree (PostgreSQL + Redis, one worker), rounds of a 1-cell sweep of SEEDS seeds with
   max_parallel 1 and the same SEEDS specs submitted alone, each on an idle worker, in alternating order.
   From the rows' own timestamps (one clock): a trial's cost is its wait (from the previous trial's
   finished_at, or its own created_at for the first) plus its wall time; a lone job's, its created_at →
   started_at plus its wall time. Target: the difference ≤ 5% of the W1 job's wall time. A later trial's
   wait is also split at the previous trial's diagnosis (its row's updated_at), which the worker runs in
   the training task before it takes the next message. Torch runs on one intra-op thread there.
3. A finished 500-trial sweep built through the store layer (real W1 summary, diagnosis and metric rows
   from one fit here, varied per trial), then GET /v1/sweeps/{id} beside GET /healthz, alternated, on
   PostgreSQL and on SQLite. The first GET computes and keeps the comparison: timed apart. Target: p95 ≤
   200 ms.

The machine is noisy, so each figure comes with its baseline measured in the same run, interleaved, and
the median of the paired ratios.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import torch
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from bench.service import percentile
from bench.trainer import WORKLOADS
from core.broker import queue_for
from store import sweeps as sweep_store
from store.db import make_engine
from store.diagnoses import save_diagnosis
from store.jobs import new_job
from store.metrics import MetricRow, record_metrics
from store.models import Job, JobDiagnosis, Sweep, SweepTrial, utcnow
from store.principals import get_or_create_principal
from tests.stack import Services, make_services, new_key, postgres_database, redis_database, start_stack, stop_stack
from trainer import Callbacks, FitResult, fit
from trainer.callbacks import EpochRecord
from trainer.diagnose import DiagnosisScope, diagnose
from trainwell.diagnosis import Curvature, Diagnosis
from trainwell.job import JobOrigin, JobStatus
from trainwell.metrics import MetricName
from trainwell.spec import JobSpec
from trainwell.sweep import SweepRequest, SweepStatus
from trainwell.sweep_grid import expand, written_base

RESULTS = Path(__file__).parent / "results" / "sweeps.json"
W1: dict[str, Any] = WORKLOADS["W1"]["spec"]
PRINCIPAL = "bench-sweeps"

CREATE_PAIRS, CREATE_WARMUP = 60, 5
HUNDRED_TRIALS = {
    "name": "bench",
    "base": W1,
    "grid": {"batch_size": [16 + 8 * i for i in range(25)]},
    "seeds": [0, 1, 2, 3],
}
# trials run alone (max_parallel 1), so each trial after the first waits on the release at its predecessor's end
SEEDS, OVERHEAD_ROUNDS = 3, 4
# 10 learning rates × 10 batch sizes × 5 seeds = 500 trials, the deployment's default maximum
FIVE_HUNDRED_TRIALS = {
    "name": "bench-500",
    "base": W1,
    "grid": {"optimizer.lr": [0.0003 * 1.5**i for i in range(10)], "batch_size": [16 * (i + 1) for i in range(10)]},
    "seeds": [0, 1, 2, 3, 4],
}
READ_PAIRS = 100


def ms(seconds: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(1000 * statistics.median(seconds), 2),
        "p95_ms": round(1000 * percentile(seconds, 0.95), 2),
        "max_ms": round(1000 * max(seconds), 2),
    }


def timed(send: Callable[[], httpx.Response], expect: int) -> tuple[float, httpx.Response]:
    began = time.perf_counter()
    response = send()
    elapsed = time.perf_counter() - began
    assert response.status_code == expect, response.text
    return elapsed, response


def paired(a: list[float], b: list[float]) -> dict[str, float]:
    ratios = [x / y for x, y in zip(a, b, strict=True)]
    return {"median": round(statistics.median(ratios), 2), "min": round(min(ratios), 2), "max": round(max(ratios), 2)}


@contextmanager
def api_alone(tmp: Path, database: str) -> Iterator[Services]:
    """A fresh database for an API that two processes serve (production as deployed on two cores), and no
    worker; started by the caller, stopped on leaving."""
    with ExitStack() as stack:
        if database == "postgresql":
            database_url, broker_url = stack.enter_context(postgres_database()), stack.enter_context(redis_database())
        else:
            database_url, broker_url = (
                f"sqlite:///{tmp / 'trainwell.sqlite'}",
                f"sqla+sqlite:///{tmp / 'broker.sqlite'}",
            )
        # one principal sends every request: the per-minute window would refuse the lone jobs
        services = make_services(
            tmp, database_url=database_url, broker_url=broker_url, submissions_per_minute="1000000"
        )
        stack.callback(services.stop)
        yield services


# -- 1. creating a 100-trial sweep ---------------------------------------------------------------


def create_latency(database: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, api_alone(Path(tmp), database) as services:
        services.start_api(workers=2)
        with services.client(new_key(services.database_url, PRINCIPAL)) as client:
            post_sweep = lambda: client.post("/v1/sweeps", json=HUNDRED_TRIALS)  # noqa: E731
            post_job = lambda: client.post("/v1/jobs", json=W1)  # noqa: E731
            sweeps: list[float] = []
            jobs: list[float] = []
            trials = 0
            for pair in range(CREATE_WARMUP + CREATE_PAIRS):
                # the order alternates, so neither request always follows the other's cancel
                order = ((post_sweep, sweeps, "sweeps"), (post_job, jobs, "jobs"))
                for send, times, path in order if pair % 2 else order[::-1]:
                    elapsed, response = timed(send, 201)
                    created = response.json()
                    client.post(f"/v1/{path}/{created['id']}/cancel").raise_for_status()
                    trials = created.get("trials", trials)
                    if pair >= CREATE_WARMUP:
                        times.append(elapsed)
    return {
        "pairs": CREATE_PAIRS,
        "trials": trials,
        "post_sweep": ms(sweeps),
        "post_job": ms(jobs),
        "ratio_sweep_to_job": paired(sweeps, jobs),
    }


# -- 2. a trial's cost over the same job alone -----------------------------------------------------


def trial_overhead() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, postgres_database() as database_url, redis_database() as broker_url:
        with one_intra_op_thread():
            stack = start_stack(Path(tmp), database_url=database_url, broker_url=broker_url)
        engine = make_engine(database_url)
        try:
            with stack.client(stack.new_key(PRINCIPAL)) as client, sessionmaker(engine)() as session:
                trials: list[list[dict[str, Any]]] = []
                lone: list[list[dict[str, Any]]] = []
                for round_ in range(OVERHEAD_ROUNDS):
                    runs = (
                        lambda: trials.append(_run_sweep(client, session)),
                        lambda: lone.append(_run_alone(client, session)),
                    )
                    for run in runs if round_ % 2 else runs[::-1]:
                        run()
        finally:
            engine.dispose()
            stop_stack(stack)
    return _overhead_figures(trials, lone)


@contextmanager
def one_intra_op_thread() -> Iterator[None]:
    """Processes started inside run torch on one intra-op thread, as bench/trainer.py does: on two shared cores
    two OpenMP threads spin at every barrier, and a W1 fit took 3-5x as long (14 s against 4.6 s, measured
    beside a test suite) and swung by whole multiples, which would drown a 5% question."""
    before = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        yield
    finally:
        if before is None:
            del os.environ["OMP_NUM_THREADS"]
        else:
            os.environ["OMP_NUM_THREADS"] = before


def _lone_spec(seed: int) -> dict[str, Any]:
    """A trial's spec as the sweep stores it: the base with the seed, probes off (sweep_grid.expand)."""
    return {**W1, "seed": seed, "diagnosis": {"probes": False}}


def _run_sweep(client: httpx.Client, session: Session) -> list[dict[str, Any]]:
    request = {
        "base": W1,
        "grid": {"optimizer.lr": [W1["optimizer"]["lr"]]},
        "seeds": list(range(SEEDS)),
        "max_parallel": 1,
    }
    response = client.post("/v1/sweeps", json=request)
    assert response.status_code == 201, response.text
    sweep_id = response.json()["id"]
    # the sweep ends once its last trial is diagnosed: the worker is idle again
    _until(lambda: session.scalar(select(Sweep.status).where(Sweep.id == sweep_id)) != SweepStatus.running.value)
    query = select(SweepTrial.job_id).where(SweepTrial.sweep_id == sweep_id).order_by(SweepTrial.position)
    return [_timestamps(session, str(job_id)) for job_id in session.scalars(query)]


def _run_alone(client: httpx.Client, session: Session) -> list[dict[str, Any]]:
    rows = []
    for seed in range(SEEDS):
        response = client.post("/v1/jobs", json=_lone_spec(seed))
        assert response.status_code == 201, response.text
        job_id = response.json()["id"]
        _until(partial(_diagnosed, session, job_id))
        rows.append(_timestamps(session, job_id))
    return rows


def _diagnosed(session: Session, job_id: str) -> bool:
    return session.scalar(select(JobDiagnosis.status).where(JobDiagnosis.job_id == job_id)) == "ready"


def _until(done: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if done():
            return
        assert time.monotonic() < deadline, "the worker did not finish in time"
        time.sleep(0.05)


def _timestamps(session: Session, job_id: str) -> dict[str, Any]:
    session.commit()  # a fresh snapshot: the rows were written by the worker
    row = session.execute(
        select(Job.status, Job.created_at, Job.started_at, Job.finished_at, JobDiagnosis.updated_at)
        .join(JobDiagnosis, JobDiagnosis.job_id == Job.id)
        .where(Job.id == job_id)
    ).one()
    assert row.status == JobStatus.succeeded.value, row
    return {
        "created": row.created_at,
        "started": row.started_at,
        "finished": row.finished_at,
        "diagnosed": row.updated_at,
    }


def _overhead_figures(trials: list[list[dict[str, Any]]], lone: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """Each trial against the lone job of its round and seed (the same spec). A trial's wait is from its own
    created_at for the first trial (released at creation), from the previous trial's finished_at for the
    later ones (released when that trial ended), which covers the previous trial's diagnosis: the worker
    (concurrency 1) diagnoses a job in its task before it takes the next message. A lone job's wait is
    created_at → started_at on an idle worker. Extra = trial wait + wall − (lone wait + wall)."""
    seconds = lambda a, b: (a - b).total_seconds()  # noqa: E731
    parts: dict[str, list[float]] = defaultdict(list)
    for sweep, alone in zip(trials, lone, strict=True):
        for k, (trial, job) in enumerate(zip(sweep, alone, strict=True)):
            lone_wait = seconds(job["started"], job["created"])
            wall_difference = seconds(trial["finished"], trial["started"]) - seconds(job["finished"], job["started"])
            parts["lone_wall"].append(seconds(job["finished"], job["started"]))
            parts["lone_wait"].append(lone_wait)
            parts["wall_difference"].append(wall_difference)
            if k == 0:
                wait = seconds(trial["started"], trial["created"])
                parts["first_wait"].append(wait)
                parts["first_extra_wait"].append(wait - lone_wait)
                parts["first_extra"].append(wait - lone_wait + wall_difference)
                continue
            previous = sweep[k - 1]
            wait = seconds(trial["started"], previous["finished"])
            dispatch = seconds(trial["started"], previous["diagnosed"])
            parts["later_wait"].append(wait)
            parts["later_previous_diagnosis"].append(seconds(previous["diagnosed"], previous["finished"]))
            parts["later_dispatch"].append(dispatch)
            parts["later_extra_wait"].append(wait - lone_wait)
            parts["later_extra"].append(wait - lone_wait + wall_difference)
            parts["later_extra_past_diagnosis"].append(dispatch - lone_wait + wall_difference)
            parts["later_extra_wait_past_diagnosis"].append(dispatch - lone_wait)
    w1_wall = statistics.median(parts["lone_wall"])
    return {
        "rounds": len(trials),
        "seeds": SEEDS,
        "w1_wall_s": round(w1_wall, 3),
        "fraction_of_w1_wall": {
            name: round(statistics.median(parts[name]) / w1_wall, 4)
            for name in parts
            if "extra" in name or name == "wall_difference"
        },
        "median_ms": {name: round(1000 * statistics.median(values), 1) for name, values in parts.items()},
        "range_ms": {name: [round(1000 * min(v), 1), round(1000 * max(v), 1)] for name, v in parts.items()},
    }


# -- 3. reading a finished 500-trial sweep ---------------------------------------------------------


class Recorded(Callbacks):
    def __init__(self) -> None:
        self.records: list[EpochRecord] = []

    def on_epoch_end(self, record: EpochRecord) -> None:
        self.records.append(record)


@dataclass(frozen=True)
class Template:
    """One real W1 fit and its diagnosis, curvature included: what every built trial is varied from."""

    result: FitResult
    records: list[EpochRecord]
    diagnosis: Diagnosis
    curvature: Curvature

    def summary(self, factor: float) -> dict[str, Any]:
        summary = self.result.summary()
        for kind in ("best_metrics", "final_metrics"):
            summary[kind] = {name: varied(name, value, factor) for name, value in summary[kind].items()}
        return summary

    def varied_diagnosis(self, factor: float) -> Diagnosis:
        sharpness = (self.curvature.lambda_max or 0.0) * factor
        return self.diagnosis.model_copy(
            update={"curvature": self.curvature.model_copy(update={"lambda_max": sharpness})}
        )

    def metric_rows(self, factor: float) -> list[MetricRow]:
        return [
            MetricRow(name, record.fold, record.epoch, record.step, varied(name, value, factor))
            for record in self.records
            for name, value in record.metrics.items()
        ]


def w1_template() -> Template:
    spec = JobSpec.model_validate(written_base(SweepRequest.model_validate(FIVE_HUNDRED_TRIALS)))
    recorded = Recorded()
    result = fit(spec, recorded)
    history: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for record in recorded.records:
        for name, value in record.metrics.items():
            history[record.fold][name].append(value)
    train_seconds = sum(record.metrics.get(MetricName.epoch_seconds, 0.0) for record in recorded.records)
    diagnosis = diagnose(
        spec, result, history, failure_reason=None, train_seconds=train_seconds, data_dir=None, scope=DiagnosisScope()
    )
    assert diagnosis.curvature is not None and diagnosis.curvature.lambda_max is not None, diagnosis
    return Template(result, recorded.records, diagnosis, diagnosis.curvature)


def varied(name: str, value: float, factor: float) -> float:
    """A loss scaled by `factor`, a score's distance from 1 likewise; anything else as it was."""
    if name.endswith("_loss"):
        return value * factor
    if name.endswith("_accuracy"):
        return 1 - (1 - value) * factor
    return value


def build_finished_sweep(database_url: str, template: Template) -> tuple[str, dict[str, int]]:
    """Insert a succeeded 500-trial sweep, its trials' finished jobs, their diagnoses and metric rows, as the
    API and the worker would have left them; its id and sizes."""
    request = SweepRequest.model_validate(FIVE_HUNDRED_TRIALS)
    trials = expand(request, max_trials=500)
    rng = random.Random(0)
    sweep_id, now = str(uuid.uuid4()), utcnow()
    began = now - timedelta(hours=1)
    engine = make_engine(database_url)
    try:
        with sessionmaker(engine)() as session:
            principal_id = get_or_create_principal(session=session, name=PRINCIPAL).id
            sweep = {
                "id": sweep_id,
                "principal_id": principal_id,
                "name": request.name,
                "status": SweepStatus.running.value,
                "request": request.model_dump(mode="json", exclude_unset=True),
                "base": JobSpec.model_validate(written_base(request)).model_dump(mode="json"),
                "grid": request.grid,
                "seeds": request.seeds,
                "max_parallel": request.max_parallel,
                "trials": len(trials),
                "created_at": began,
            }
            specs = [trial.spec.model_dump(mode="json") for trial in trials]
            sweep_store.create_sweep(
                session=session,
                sweep=sweep,
                trials=[
                    {"position": position, "cell": trial.cell.index, "seed": trial.seed, "spec": specs[position]}
                    for position, trial in enumerate(trials)
                ],
            )
            jobs, factors = [], []
            for position, trial in enumerate(trials):
                # cells differ by up to 30% in loss, seeds by a few percent: some cells separate, some do not
                factor = (1 + 0.3 * ((trial.cell.index * 37) % 100) / 100) * rng.gauss(1, 0.03)
                job = new_job(
                    principal_id=principal_id,
                    spec=trial.spec,
                    spec_json=specs[position],
                    queue=queue_for(trial.spec.device),
                    origin=JobOrigin.sweep,
                    sweep_id=sweep_id,
                )
                started = began + timedelta(seconds=3 * position)
                job.update(
                    status=JobStatus.succeeded.value,
                    started_at=started,
                    finished_at=started + timedelta(seconds=rng.uniform(1.0, 1.6)),
                    epoch=job["epochs"],
                    attempt=1,
                    summary=template.summary(factor),
                )
                jobs.append(job)
                factors.append(factor)
            session.execute(insert(Job), jobs)
            links = [{"sweep_id": sweep_id, "position": p, "job_id": job["id"]} for p, job in enumerate(jobs)]
            session.execute(update(SweepTrial), links)  # ORM bulk update by primary key (sweep_id, position)
            metric_rows = 0
            for job, factor in zip(jobs, factors, strict=True):
                save_diagnosis(session=session, job_id=job["id"], diagnosis=template.varied_diagnosis(factor))
                rows = template.metric_rows(factor)
                record_metrics(session=session, job_id=job["id"], rows=rows)
                metric_rows += len(rows)
            session.flush()
            assert sweep_store.end_if_done(session=session, sweep_id=sweep_id, now=now), "the sweep did not end"
            session.commit()
    finally:
        engine.dispose()
    return sweep_id, {"trials": len(trials), "cells": len(trials) // len(request.seeds), "metric_rows": metric_rows}


def read_latency(database: str, template: Template) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, api_alone(Path(tmp), database) as services:
        key = new_key(services.database_url, PRINCIPAL)
        began = time.perf_counter()
        sweep_id, sizes = build_finished_sweep(services.database_url, template)
        build_seconds = time.perf_counter() - began
        services.start_api(workers=2)
        with services.client(key) as client:
            for _ in range(10):  # both API processes past their first request of each route
                timed(lambda: client.get("/healthz"), 200)
                timed(lambda: client.get("/v1/sweeps/00000000-0000-0000-0000-000000000000"), 404)
            first, response = timed(lambda: client.get(f"/v1/sweeps/{sweep_id}"), 200)
            body = response.json()
            assert len(body["table"]) == sizes["cells"] and body["best"] is not None, body["best"]
            reads: list[float] = []
            healths: list[float] = []
            for pair in range(READ_PAIRS):
                order = ((f"/v1/sweeps/{sweep_id}", reads), ("/healthz", healths))
                for path, times in order if pair % 2 else order[::-1]:
                    times.append(timed(lambda: client.get(path), 200)[0])  # noqa: B023
    return {
        **sizes,
        "build_s": round(build_seconds, 1),
        "response_bytes": len(response.content),
        "findings": len(body["findings"]),
        "first_get_ms": round(1000 * first, 1),
        "get": ms(reads),
        "healthz": ms(healths),
        "ratio_get_to_healthz": paired(reads, healths),
        "reads": READ_PAIRS,
    }


def main() -> None:
    torch.set_num_threads(1)  # the template fit here, as bench/trainer.py runs it
    template = w1_template()
    # the 1-minute load average as each part begins, and at the end: how busy the two cores were
    load: dict[str, float] = {}
    parts: dict[str, Callable[[], Any]] = {
        "create_100": lambda: {db: create_latency(db) for db in ("postgresql", "sqlite")},
        "trial_overhead": trial_overhead,
        "read_500": lambda: {db: read_latency(db, template) for db in ("postgresql", "sqlite")},
    }
    results: dict[str, Any] = {"cpus": os.cpu_count(), "load_average": load}
    for name, measure in parts.items():
        load[name] = round(os.getloadavg()[0], 2)
        results[name] = measure()
    load["end"] = round(os.getloadavg()[0], 2)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    print(f"wrote {RESULTS}")


def print_table(results: dict[str, Any]) -> None:
    print(f"load average (1 min) on {results['cpus']} CPUs: {results['load_average']}")
    for db, r in results["create_100"].items():
        s, j = r["post_sweep"], r["post_job"]
        print(
            f"POST /v1/sweeps ({r['trials']} trials), {db:>10}: p50 {s['p50_ms']:.0f} ms, p95 {s['p95_ms']:.0f} ms "
            f"(target ≤ 300); POST /v1/jobs p50 {j['p50_ms']:.1f} ms; sweep/job {r['ratio_sweep_to_job']['median']:.1f}×"
        )
    o = results["trial_overhead"]
    m, f = o["median_ms"], o["fraction_of_w1_wall"]
    print(f"trial vs the same job alone, W1 wall {o['w1_wall_s']:.2f} s, {o['rounds']} rounds × {o['seeds']} seeds:")
    for name, what in (
        ("first_extra_wait", "first trial, wait"),
        ("later_extra_wait", "later trial, wait (covers the previous trial's diagnosis)"),
        ("later_extra_wait_past_diagnosis", "later trial, wait past the previous trial's diagnosis"),
        ("wall_difference", "trial wall − lone wall"),
        ("first_extra", "first trial, wait + wall"),
        ("later_extra", "later trial, wait + wall"),
        ("later_extra_past_diagnosis", "later trial, wait past the diagnosis + wall"),
    ):
        print(f"  {what:<58} {m[name]:+8.0f} ms  {f[name]:+7.1%} of W1 (target ≤ 5%)")
    for db, r in results["read_500"].items():
        g, h = r["get"], r["healthz"]
        print(
            f"GET /v1/sweeps/{{id}} ({r['trials']} trials), {db:>10}: first {r['first_get_ms']:.0f} ms, then p50 "
            f"{g['p50_ms']:.1f} ms, p95 {g['p95_ms']:.1f} ms (target ≤ 200); healthz p50 {h['p50_ms']:.1f} ms; "
            f"get/healthz {r['ratio_get_to_healthz']['median']:.1f}×"
        )


if __name__ == "__main__":
    main()
