"""Each principal's stored bytes by kind of file, summed over the rows that record the files.

No counter is kept beside them: a file's size is written in the transaction that records the file (an
upload's row, a finished export's row, a job's checkpoint size at each epoch's progress and at its end),
and the rows go when the file is deleted (a job's with its exports, by the foreign keys), so the sums
cannot drift from the rows, whatever crashed in between.

- uploads: each of the principal's datasets, as normalized on disk (the same table uploaded by two
  principals is one file, counted for each: either may keep it alone);
- checkpoints: each job's epoch checkpoints and model file, as its worker measured them;
- exports: the download files a worker made on request (the safetensors download is the model file
  itself, counted with the checkpoints);
- predictions: each finished prediction's CSV and Parquet files (a request's inline rows wait on disk only
  until the worker has read them).

A new kind of file is one entry of STORED_KINDS: a select of its rows' principal and bytes.
"""

from __future__ import annotations

from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.orm import Session

from store.models import Dataset, Job, ModelExport, Prediction
from trainwell.model_formats import MODEL_FORMATS

MODEL_FILE_FORMATS = [
    name for name, fmt in MODEL_FORMATS.items() if fmt.file_name == MODEL_FORMATS["safetensors"].file_name
]

STORED_KINDS: dict[str, Select[int, int | None]] = {
    "uploads": select(Dataset.principal_id.label("principal_id"), Dataset.bytes.label("bytes")),
    "checkpoints": select(Job.principal_id.label("principal_id"), Job.checkpoint_bytes.label("bytes")),
    "exports": select(ModelExport.principal_id.label("principal_id"), ModelExport.bytes.label("bytes")).where(
        ModelExport.status == "ready", ModelExport.format.not_in(MODEL_FILE_FORMATS)
    ),
    "predictions": select(Prediction.principal_id.label("principal_id"), Prediction.bytes.label("bytes")),
}


def _sums(*, per_principal: bool) -> Select[*tuple[int, ...]]:
    """One statement, one column per kind: the kind's bytes, of one principal's rows or of all."""
    columns = []
    for name, rows in STORED_KINDS.items():
        kind = rows.subquery()
        total = select(func.coalesce(func.sum(kind.c.bytes), 0))
        if per_principal:  # served by each table's principal index
            total = total.where(kind.c.principal_id == bindparam("principal_id"))
        columns.append(total.scalar_subquery().label(name))
    return select(*columns)


_PRINCIPAL_SUMS, _TOTAL_SUMS = _sums(per_principal=True), _sums(per_principal=False)


def stored_bytes(*, session: Session, principal_id: int) -> dict[str, int]:
    """The principal's bytes by kind (STORED_KINDS' order)."""
    row = session.execute(_PRINCIPAL_SUMS, {"principal_id": principal_id}).one()
    return {name: int(value) for name, value in zip(STORED_KINDS, row, strict=True)}


def total_stored_bytes(*, session: Session) -> dict[str, int]:
    """Every principal's bytes together, by kind."""
    row = session.execute(_TOTAL_SUMS).one()
    return {name: int(value) for name, value in zip(STORED_KINDS, row, strict=True)}


def record_checkpoint_bytes(*, session: Session, job_id: str, attempt: int, size: int) -> None:
    """A finished job's checkpoint size after its worker pruned the superseded attempts' files; the attempt
    fences it, so a superseded attempt's measure never overwrites the newer one's."""
    session.execute(update(Job).where(Job.id == job_id, Job.attempt == attempt).values(checkpoint_bytes=size))
