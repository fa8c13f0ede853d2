"""Pro Santé Connect: local login per user, accounts awaiting approval

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("local_login_allowed", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column("approval_pending", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("approval_pending")
        batch_op.drop_column("local_login_allowed")
