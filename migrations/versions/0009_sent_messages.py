"""Webmail: sent messages followed by their delivery and read reports, and the report checkpoints

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

STATUSES = ("pending", "delayed", "delivered", "failed", "read", "deleted", "processed")


def upgrade() -> None:
    op.create_table(
        "sent_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailbox_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("sent_by_id", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dsn_requested", sa.Boolean(), nullable=False),
        sa.Column("mdn_requested", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mailbox_id"], ["mailboxes.id"], name=op.f("fk_sent_messages_mailbox_id_mailboxes"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["sent_by_id"], ["users.id"], name=op.f("fk_sent_messages_sent_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sent_messages")),
    )
    with op.batch_alter_table("sent_messages", schema=None) as batch_op:
        batch_op.create_index("ix_sent_messages_mailbox_message", ["mailbox_id", "message_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sent_messages_sent_by_id"), ["sent_by_id"], unique=False)

    op.create_table(
        "sent_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sent_message_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("status", sa.Enum(*STATUSES, name="deliverystatus", native_enum=False, length=10), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["sent_message_id"], ["sent_messages.id"], name=op.f("fk_sent_recipients_sent_message_id_sent_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sent_recipients")),
    )
    with op.batch_alter_table("sent_recipients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sent_recipients_sent_message_id"), ["sent_message_id"], unique=False)

    op.create_table(
        "report_checkpoints",
        sa.Column("mailbox_id", sa.Integer(), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mailbox_id"], ["mailboxes.id"], name=op.f("fk_report_checkpoints_mailbox_id_mailboxes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("mailbox_id", name=op.f("pk_report_checkpoints")),
    )


def downgrade() -> None:
    op.drop_table("report_checkpoints")
    with op.batch_alter_table("sent_recipients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sent_recipients_sent_message_id"))
    op.drop_table("sent_recipients")
    with op.batch_alter_table("sent_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sent_messages_sent_by_id"))
        batch_op.drop_index("ix_sent_messages_mailbox_message")
    op.drop_table("sent_messages")
