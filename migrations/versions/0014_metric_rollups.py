"""metric rollups (multi-resolution M4 summaries) and the admin job list's index

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 10:20:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

# revision identifiers, used by Alembic.
revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "metric_rollups",
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("fold", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        *(
            sa.Column(f"{end}_{part}", sa.Float() if part == "value" else sa.Integer(), nullable=False)
            for end in ("first", "last", "min", "max")
            for part in ("epoch", "step", "value")
        ),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", "name", "fold", "level", "bucket"),
    )
    op.create_index("ix_jobs_created", "jobs", ["created_at", "id"])
    _backfill()


def _backfill() -> None:
    """Rollups for the series already stored, computed by the code that keeps them from now on."""
    from store.metric_rollups import rebuild_rollups

    session = Session(bind=op.get_bind())
    series = session.execute(sa.text("SELECT DISTINCT job_id, name, fold FROM metrics")).all()
    for job_id, name, fold in series:
        rebuild_rollups(session=session, job_id=job_id, key=(name, fold))
    session.flush()


def downgrade() -> None:
    op.drop_index("ix_jobs_created", table_name="jobs")
    op.drop_table("metric_rollups")
