"""DUI clients of the DMP status API; the mail figures of the indicators, per mailbox and month

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dui_clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("establishment_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_dui_clients_created_by_id_users")),
        sa.ForeignKeyConstraint(
            ["establishment_id"], ["establishments.id"], name=op.f("fk_dui_clients_establishment_id_establishments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dui_clients")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_dui_clients_token_sha256")),
    )
    with op.batch_alter_table("dui_clients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dui_clients_establishment_id"), ["establishment_id"], unique=False)

    op.create_table(
        "mailbox_months",
        sa.Column("mailbox_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("domains", sa.JSON(), nullable=False),
        sa.Column("sampled", sa.Boolean(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["mailbox_id"], ["mailboxes.id"], name=op.f("fk_mailbox_months_mailbox_id_mailboxes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("mailbox_id", "month", name=op.f("pk_mailbox_months")),
    )


def downgrade() -> None:
    op.drop_table("mailbox_months")
    with op.batch_alter_table("dui_clients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dui_clients_establishment_id"))
    op.drop_table("dui_clients")
