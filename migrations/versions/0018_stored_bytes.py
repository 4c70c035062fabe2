"""stored bytes: the size of each job's checkpoints and model file, recorded by its worker, and each model
export's principal, so a principal's stored bytes are indexed sums over rows (store/stored_bytes.py)

Revision ID: 0018
Revises: 0016
Create Date: 2026-12-06 21:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0018"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("checkpoint_bytes", sa.BigInteger(), nullable=False, server_default="0"))
    # an export's principal, copied from its job: the principal's export bytes are summed on its own index
    with op.batch_alter_table("model_exports") as batch:
        batch.add_column(sa.Column("principal_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE model_exports SET principal_id = (SELECT jobs.principal_id FROM jobs WHERE jobs.id = model_exports.job_id)"
    )
    with op.batch_alter_table("model_exports") as batch:
        batch.alter_column("principal_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(
            "fk_model_exports_principal_id_principals", "principals", ["principal_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_index("ix_model_exports_principal_id", ["principal_id"])


def downgrade() -> None:
    with op.batch_alter_table("model_exports") as batch:
        batch.drop_index("ix_model_exports_principal_id")
        batch.drop_constraint("fk_model_exports_principal_id_principals", type_="foreignkey")
        batch.drop_column("principal_id")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("checkpoint_bytes")
