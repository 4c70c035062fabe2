"""How the CLI prints: rich tables on stdout for people, JSON on stdout for scripts, errors on stderr."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from trainwell._exceptions import APIStatusError, TrainwellError
from trainwell.dataset import Dataset
from trainwell.diagnosis import Diagnosis
from trainwell.job import Job, JobMetrics, JobStatus
from trainwell.usage import Usage

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

SPLIT_PREFIXES = ("train_", "val_", "test_")
STATUS_STYLE = {
    JobStatus.queued: "cyan",
    JobStatus.running: "blue",
    JobStatus.cancelling: "yellow",
    JobStatus.succeeded: "green",
    JobStatus.failed: "red",
    JobStatus.cancelled: "yellow",
}


def print_json(data: Any) -> None:
    # plain print: rich would wrap long lines and break the JSON
    print(json.dumps(data, indent=2))


_print_json = print_json


def _status(job: Job) -> str:
    return f"[{STATUS_STYLE[job.status]}]{job.status.value}[/]"


def _progress(job: Job) -> str:
    text = f"{job.progress.epoch}/{job.progress.epochs}"
    return f"fold {job.progress.fold + 1}/{job.progress.folds} {text}" if job.progress.folds > 1 else text


def job_created(job: Job, *, as_json: bool) -> None:
    if as_json:
        _print_json(job.model_dump(mode="json"))
    else:
        out.print(f"submitted job [bold]{job.id}[/] ({escape(job.name or 'unnamed')}): {_status(job)}")


def job_status_line(job: Job, *, as_json: bool) -> None:
    if as_json:
        _print_json(job.model_dump(mode="json"))
    else:
        out.print(f"job [bold]{job.id}[/]: {_status(job)}")


def job_table(jobs: Sequence[Job], *, as_json: bool) -> None:
    if as_json:
        _print_json([job.model_dump(mode="json") for job in jobs])
        return
    table = Table("name", "status", "epoch", "created", "best val loss")
    table.add_column("id", no_wrap=True)
    for job in jobs:
        best = (job.summary or {}).get("best_metrics", {}).get("val_loss")
        table.add_row(
            escape(job.name or ""),
            _status(job),
            _progress(job),
            job.created_at.strftime("%m-%d %H:%M"),
            f"{best:.4g}" if isinstance(best, float) else "",
            job.id,
        )
    out.print(table)


def job_detail(job: Job, *, as_json: bool) -> None:
    if as_json:
        _print_json(job.model_dump(mode="json"))
        return
    out.print(f"job [bold]{job.id}[/] ({escape(job.name or 'unnamed')}): {_status(job)}, epoch {_progress(job)}")
    spec = job.spec
    if spec is not None:
        out.print(
            escape(
                f"  {spec.dataset.name} · {spec.model.kind} {spec.model.hidden} · {spec.optimizer.name}"
                f" lr={spec.optimizer.lr:g} · batch {spec.batch_size} · {spec.epochs} epochs"
            )
        )
    elif job.run is not None:
        out.print(
            escape(f"  external run · {job.run.task}" + (f", {job.run.classes} classes" if job.run.classes else ""))
        )
    if job.error is not None:
        out.print(f"  [red]{escape(job.error.reason)}[/]: {escape(job.error.message)}")
    summary = job.summary or {}
    if summary.get("device"):
        out.print(f"  trained on {escape(summary['device'])}")
    best, final = summary.get("best_metrics") or {}, summary.get("final_metrics") or {}
    if best or final:
        table = Table("metric", f"best (epoch {summary.get('best_epoch')})", "final")
        # the split metrics (losses and scores); every other one is in --json and `jobs metrics`
        for name in sorted(n for n in set(best) | set(final) if n.startswith(SPLIT_PREFIXES)):
            table.add_row(name, _number(best.get(name)), _number(final.get(name)))
        out.print(table)
    if summary.get("early_stopped"):
        out.print(f"  early stopped after {summary.get('epochs_run')} epochs")


def metrics_table(metrics: JobMetrics, *, as_json: bool) -> None:
    if as_json:
        _print_json(metrics.model_dump(mode="json"))
        return
    names = sorted({s.name for s in metrics.series})
    rows: dict[tuple[int, int], dict[str, float]] = {}
    for series in metrics.series:
        for point in series.points:  # a per-step series shows its epoch's last value here
            rows.setdefault((series.fold, point.epoch), {})[series.name] = point.value
    table = Table("fold", "epoch", *names)
    for (fold, epoch), values in sorted(rows.items()):
        table.add_row(str(fold), str(epoch), *(_number(values.get(n)) for n in names))
    out.print(table)


def verdict_line(diagnosis: Diagnosis) -> None:
    if diagnosis.verdict is None:
        out.print(f"diagnosis: {diagnosis.status.value}")
        return
    line = f"verdict: [bold]{diagnosis.verdict.value}[/]"
    out.print(line + (f" — {escape(diagnosis.summary)}" if diagnosis.summary else ""), soft_wrap=True)
    if (confidence := diagnosis.confidence) is not None:
        settle = f"; to settle it: {escape(confidence.settle)}" if confidence.settle else ""
        out.print(
            f"confidence: [bold]{confidence.level.value}[/] — {escape(confidence.margin)}{settle}", soft_wrap=True
        )


def diagnosis_detail(diagnosis: Diagnosis, *, as_json: bool) -> None:
    if as_json:
        _print_json(diagnosis.model_dump(mode="json"))
        return
    verdict_line(diagnosis)
    if (parts := diagnosis.decomposition) is not None:
        terms = [("generalization gap", parts.generalization_gap), ("shift gap", parts.shift_gap)]
        shown = " + ".join(
            f"{name} {term.value:.4g} ± {term.standard_error or 0:.2g}" for name, term in terms if term is not None
        )
        test = f" = test loss {parts.test_loss:.4g}" if parts.test_loss is not None else ""
        out.print(f"losses: training {parts.train_loss:.4g} + {shown}{test}", soft_wrap=True)
    if diagnosis.findings:
        table = Table("code", "severity", "finding", "remedies (index: title)")
        for finding in diagnosis.findings:
            remedies = "\n".join(f"{i}: {escape(r.title)}" for i, r in enumerate(finding.remedies))
            table.add_row(finding.code.value, finding.severity.value, escape(finding.title), remedies)
        out.print(table)


def dataset_detail(dataset: Dataset, *, as_json: bool) -> None:
    if as_json:
        _print_json(dataset.model_dump(mode="json"))
        return
    shape = f"{dataset.rows} rows × {dataset.n_features} features" if dataset.rows is not None else ""
    out.print(f"dataset [bold]{dataset.id}[/] ({escape(dataset.name or 'unnamed')}): {dataset.task} {shape}")


def dataset_table(datasets: Sequence[Dataset], *, as_json: bool) -> None:
    if as_json:
        _print_json([d.model_dump(mode="json") for d in datasets])
        return
    table = Table("id", "name", "kind", "task", "rows", "features", "classes")
    for d in datasets:
        table.add_row(
            d.id,
            escape(d.name or ""),
            d.kind.value,
            d.task,
            "" if d.rows is None else str(d.rows),
            str(d.n_features),
            "" if d.n_classes is None else str(d.n_classes),
        )
    out.print(table)


def usage_table(usage: Usage, *, as_json: bool) -> None:
    """Your jobs and stored bytes, then each quota with what is left of it."""
    if as_json:
        _print_json(usage.model_dump(mode="json"))
        return
    counts = ", ".join(f"{n} {status}" for status, n in usage.jobs.by_status.items() if n)
    out.print(f"jobs: {usage.jobs.total} ({counts or 'none'})")
    kinds = ", ".join(f"{kind} {size:,}" for kind, size in usage.bytes.by_kind.items())
    out.print(f"stored bytes: {usage.bytes.total:,} ({kinds})")
    table = Table("quota", "limit", "used", "left")
    for name, quota in usage.quotas:
        unlimited = quota.limit is None
        table.add_row(
            name, "none" if unlimited else f"{quota.limit:,}", f"{quota.used:,}", "" if unlimited else f"{quota.left:,}"
        )
    out.print(table)


def written(path: Path, *, as_json: bool) -> None:
    if as_json:
        _print_json({"path": str(path)})
    else:
        out.print(f"wrote {path}")


def error(exc: TrainwellError) -> None:
    err.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
    if isinstance(exc, APIStatusError) and isinstance(exc.details, list):
        for detail in exc.details[:10]:
            if isinstance(detail, dict) and "field" in detail:
                err.print(escape(f"  {detail['field']}: {detail.get('message', '')}"), soft_wrap=True)


def usage_error(message: str) -> None:
    err.print(f"[red]error:[/] {escape(message)}", soft_wrap=True)


def note(message: str) -> None:
    """On stderr, so `--json` output stays one JSON document."""
    err.print(f"[yellow]note:[/] {escape(message)}", soft_wrap=True)


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) else ""
