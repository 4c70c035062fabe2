"""admin rights belong to a key, granted only by `create-key --admin`, not to a principal's name

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 02:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("is_admin", sa.Boolean(), nullable=False, server_default=sa.false()))
    # keys made for an admin principal keep the rights they had
    op.execute(
        "UPDATE api_keys SET is_admin = (SELECT principals.is_admin FROM principals "
        "WHERE principals.id = api_keys.principal_id)"
    )
    with op.batch_alter_table("principals") as batch:
        batch.drop_column("is_admin")


def downgrade() -> None:
    with op.batch_alter_table("principals") as batch:
        batch.add_column(sa.Column("is_admin", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute(
        "UPDATE principals SET is_admin = EXISTS (SELECT 1 FROM api_keys "
        "WHERE api_keys.principal_id = principals.id AND api_keys.is_admin)"
    )
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("is_admin")
