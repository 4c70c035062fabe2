"""How the CLI prints sweeps: the comparison table for people, the Sweep resource as JSON for scripts."""

from __future__ import annotations

from collections.abc import Sequence

from rich.markup import escape
from rich.table import Table

from trainwell._sweep_progress import trials_ended
from trainwell._sweep_table import cell_label, grid_value
from trainwell.cli.render import out, print_json
from trainwell.sweep import Comparison, Stat, Sweep, SweepAccounting, SweepCell, SweepStatus

STATUS_STYLE = {SweepStatus.running: "blue", SweepStatus.succeeded: "green", SweepStatus.cancelled: "yellow"}
# the score columns `show` adds when some cell has them: accuracy for classification, R² for regression
SCORE_COLUMNS = (("best_val_accuracy", "best val accuracy"), ("best_val_r2", "best val R²"))


def _status(sweep: Sweep) -> str:
    return f"[{STATUS_STYLE[sweep.status]}]{sweep.status.value}[/]"


def _ended(sweep: Sweep) -> str:
    failed = sweep.counts.failed
    return f"{trials_ended(sweep.counts)}/{sweep.trials} trials ended" + (f", {failed} failed" if failed else "")


def _stat(stat: Stat | None) -> str:
    """`mean ± std`, the mean alone below two trials, nothing without one."""
    if stat is None or stat.mean is None:
        return ""
    return f"{stat.mean:.4g}" if stat.std is None else f"{stat.mean:.4g} ± {stat.std:.2g}"


def sweep_created(sweep: Sweep, *, as_json: bool) -> None:
    if as_json:
        print_json(sweep.model_dump(mode="json"))
    else:
        out.print(f"created sweep [bold]{sweep.id}[/] ({escape(sweep.name or 'unnamed')}): {sweep.trials} trials")


def sweep_status_line(sweep: Sweep, *, as_json: bool) -> None:
    if as_json:
        print_json(sweep.model_dump(mode="json"))
    else:
        out.print(f"sweep [bold]{sweep.id}[/]: {_status(sweep)}, {_ended(sweep)}")


def sweep_table(sweeps: Sequence[Sweep], *, as_json: bool) -> None:
    if as_json:
        print_json([sweep.model_dump(mode="json") for sweep in sweeps])
        return
    table = Table("name", "status", "trials ended", "failed", "created", "grid")
    table.add_column("id", no_wrap=True)
    for sweep in sweeps:
        table.add_row(
            escape(sweep.name or ""),
            _status(sweep),
            f"{trials_ended(sweep.counts)}/{sweep.trials}",
            str(sweep.counts.failed) if sweep.counts.failed else "",
            sweep.created_at.strftime("%m-%d %H:%M"),
            escape(", ".join(sweep.parameters)),
            sweep.id,
        )
    out.print(table)


def sweep_detail(sweep: Sweep, *, as_json: bool) -> None:
    """The header, a row per cell (mean ± std over its seeds), the best cell's lead and the findings."""
    if as_json:
        print_json(sweep.model_dump(mode="json"))
        return
    out.print(f"sweep [bold]{sweep.id}[/] ({escape(sweep.name or 'unnamed')}): {_status(sweep)}, {_ended(sweep)}")
    if sweep.table:
        out.print(_cells(sweep))
    if sweep.best is not None:
        out.print(escape(best_line(sweep.best, sweep.table)), soft_wrap=True)
    if sweep.accounting is not None:
        out.print(accounting_line(sweep.accounting))
    if sweep.findings:
        out.print("findings:")
        for finding in sweep.findings:
            out.print(escape(f"  {finding.severity.value}: {finding.title} ({finding.code})"), soft_wrap=True)


def _cells(sweep: Sweep) -> Table:
    scores = [(name, title) for name, title in SCORE_COLUMNS if any(_has(row, name) for row in sweep.table)]
    table = Table("cell", *(escape(key) for key in sweep.parameters), "n", "best val loss")
    for _, title in scores:
        table.add_column(title)
    table.add_column("λmax")
    table.add_column("verdicts")
    for row in sweep.table:
        loss = row.metrics.get("best_val_loss")
        table.add_row(
            str(row.cell),
            *(escape(grid_value(row.values.get(key))) for key in sweep.parameters),
            str(row.succeeded if loss is None else loss.n),
            _stat(loss),
            *(_stat(row.metrics.get(name)) for name, _ in scores),
            _stat(row.lambda_max),
            ", ".join(f"{verdict.value} {count}" for verdict, count in row.verdicts.items() if count),
        )
    return table


def _has(row: SweepCell, metric: str) -> bool:
    stat = row.metrics.get(metric)
    return stat is not None and stat.mean is not None


def accounting_line(accounting: SweepAccounting) -> str:
    """`epochs trained: 84 of 240 that a full run of every trial would train (35%)`."""
    line = f"epochs trained: {accounting.epochs_trained} of {accounting.epochs_full} that a full run of every trial would train"
    return line if accounting.fraction is None else f"{line} ({accounting.fraction:.0%})"


def best_line(best: Comparison, table: Sequence[SweepCell]) -> str:
    """`best: cell 1 (optimizer.name=adam) on best_val_loss, ahead of cell 0 by 0.012 (p = 0.031: beyond the
    seed-to-seed noise)`."""
    labels = {row.cell: cell_label(row.values) for row in table}
    line = f"best: cell {best.best_cell} ({labels.get(best.best_cell, '')}) on {best.metric}"
    if best.objective is not None:  # its mean over seeds, ± their spread when there are two or more
        spread = "" if best.objective_std is None else f" ± {best.objective_std:.3g}"
        line += f" = {best.objective:.4g}{spread} over {best.seeds} seed{'s' if best.seeds != 1 else ''}"
    if best.runner_up is None:
        return line + " (no runner-up to compare with)"
    line += f", ahead of cell {best.runner_up} ({labels.get(best.runner_up, '')})"
    if best.difference is not None:
        line += f" by {best.difference:.3g}"
    if best.p_value is None:
        return line + " (no p-value)"
    noise = "beyond" if best.separable else "within"
    return line + f" (p = {best.p_value:.3g}: {noise} the seed-to-seed noise)"
