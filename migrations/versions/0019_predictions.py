"""predictions: a succeeded job's model run on an uploaded table or inline rows, filled by a worker

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 21:20:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "predictions",
        sa.Column("id", sa.String(length=19), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("principal_id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.String(length=19), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("bytes", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["principal_id"], ["principals.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_predictions_job_id", "predictions", ["job_id"])
    op.create_index("ix_predictions_principal_id", "predictions", ["principal_id"])


def downgrade() -> None:
    op.drop_index("ix_predictions_principal_id", table_name="predictions")
    op.drop_index("ix_predictions_job_id", table_name="predictions")
    op.drop_table("predictions")
