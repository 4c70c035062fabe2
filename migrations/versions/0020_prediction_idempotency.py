"""prediction idempotency: a request's Idempotency-Key and fingerprint, the key unique per principal

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 15:10:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0020"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch: SQLite adds a unique constraint only by rebuilding the table
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("request_fingerprint", sa.String(length=64), nullable=True))
        batch.create_unique_constraint("uq_predictions_idempotency", ["principal_id", "idempotency_key"])


def downgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.drop_constraint("uq_predictions_idempotency", type_="unique")
        batch.drop_column("request_fingerprint")
        batch.drop_column("idempotency_key")
