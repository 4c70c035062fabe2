"""sweep searches: a sweep's search space, and each trial's sampled configuration

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 19:10:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sweeps") as batch:
        batch.add_column(sa.Column("search", sa.JSON(), nullable=True))
    with op.batch_alter_table("sweep_trials") as batch:
        batch.add_column(sa.Column("params", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sweep_trials") as batch:
        batch.drop_column("params")
    with op.batch_alter_table("sweeps") as batch:
        batch.drop_column("search")
