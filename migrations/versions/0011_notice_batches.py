"""notices: batches and their outbox (one row per notice to prepare and send, claimed by workers)

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notice_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("establishment_id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("selection", sa.Text(), nullable=False),
        sa.Column("base_url", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_notice_batches_created_by_id_users")),
        sa.ForeignKeyConstraint(
            ["establishment_id"],
            ["establishments.id"],
            name=op.f("fk_notice_batches_establishment_id_establishments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_batches")),
    )
    with op.batch_alter_table("notice_batches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notice_batches_establishment_id"), ["establishment_id"], unique=False)

    op.create_table(
        "notice_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("usager_id", sa.Integer(), nullable=False),
        sa.Column("representative_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=30), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "claimed",
                "accepted",
                "sent",
                "failed",
                "permanent",
                name="outboxstate",
                native_enum=False,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=100), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["notice_batches.id"], name=op.f("fk_notice_outbox_batch_id_notice_batches"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["notice_id"], ["notices.id"], name=op.f("fk_notice_outbox_notice_id_notices")),
        sa.ForeignKeyConstraint(
            ["representative_id"],
            ["representatives.id"],
            name=op.f("fk_notice_outbox_representative_id_representatives"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["usager_id"], ["usagers.id"], name=op.f("fk_notice_outbox_usager_id_usagers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_outbox")),
        sa.UniqueConstraint("notice_id", name=op.f("uq_notice_outbox_notice_id")),
    )
    with op.batch_alter_table("notice_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notice_outbox_batch_id"), ["batch_id"], unique=False)
        # The worker's claim looks for due rows by state and time.
        batch_op.create_index("ix_notice_outbox_state_next_attempt_at", ["state", "next_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notice_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_notice_outbox_state_next_attempt_at")
        batch_op.drop_index(batch_op.f("ix_notice_outbox_batch_id"))
    op.drop_table("notice_outbox")
    with op.batch_alter_table("notice_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notice_batches_establishment_id"))
    op.drop_table("notice_batches")
