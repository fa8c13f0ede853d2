"""Notices: issued notices, their opposition links, oppositions, and the proof chain

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "proof_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("establishment_id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("usager_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("previous_hash", sa.String(length=64), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("key_fingerprint", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["establishment_id"], ["establishments.id"], name=op.f("fk_proof_records_establishment_id_establishments")
        ),
        sa.ForeignKeyConstraint(
            ["usager_id"], ["usagers.id"], name=op.f("fk_proof_records_usager_id_usagers"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proof_records")),
        sa.UniqueConstraint("establishment_id", "sequence", name="uq_proof_records_establishment_sequence"),
    )
    with op.batch_alter_table("proof_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_proof_records_establishment_id"), ["establishment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_proof_records_usager_id"), ["usager_id"], unique=False)

    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("usager_id", sa.Integer(), nullable=False),
        sa.Column("representative_id", sa.Integer(), nullable=True),
        sa.Column("addressee_name", sa.String(length=320), nullable=False),
        sa.Column("addressee_capacity", sa.String(length=20), nullable=False),
        sa.Column("variant", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=30), nullable=False),
        sa.Column("may_oppose", sa.Boolean(), nullable=False),
        sa.Column("text_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "prepared",
                "sent",
                "delivered",
                "failed",
                "printed",
                "handed_over",
                name="noticestatus",
                native_enum=False,
                length=12,
            ),
            nullable=False,
        ),
        sa.Column("failure_reason", sa.Text(), nullable=False),
        sa.Column("issuer_id", sa.Integer(), nullable=True),
        sa.Column("issuer_label", sa.String(length=254), nullable=False),
        sa.Column("recipient_address", sa.String(length=254), nullable=False),
        sa.Column("message_id", sa.String(length=254), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("printed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handed_over_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["issuer_id"], ["users.id"], name=op.f("fk_notices_issuer_id_users")),
        sa.ForeignKeyConstraint(
            ["representative_id"],
            ["representatives.id"],
            name=op.f("fk_notices_representative_id_representatives"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(["text_id"], ["notice_texts.id"], name=op.f("fk_notices_text_id_notice_texts")),
        sa.ForeignKeyConstraint(
            ["usager_id"], ["usagers.id"], name=op.f("fk_notices_usager_id_usagers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        sa.UniqueConstraint("reference", name=op.f("uq_notices_reference")),
    )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notices_usager_id"), ["usager_id"], unique=False)

    op.create_table(
        "opposition_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by_id", sa.Integer(), nullable=True),
        sa.Column("failed_checks", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notices.id"], name=op.f("fk_opposition_links_notice_id_notices"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["revoked_by_id"], ["users.id"], name=op.f("fk_opposition_links_revoked_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opposition_links")),
        sa.UniqueConstraint("notice_id", name=op.f("uq_opposition_links_notice_id")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_opposition_links_token_sha256")),
    )
    op.create_table(
        "oppositions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("usager_id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("opposed_by", sa.String(length=320), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["notice_id"], ["notices.id"], name=op.f("fk_oppositions_notice_id_notices")),
        sa.ForeignKeyConstraint(["recorded_by_id"], ["users.id"], name=op.f("fk_oppositions_recorded_by_id_users")),
        sa.ForeignKeyConstraint(
            ["usager_id"], ["usagers.id"], name=op.f("fk_oppositions_usager_id_usagers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oppositions")),
    )
    with op.batch_alter_table("oppositions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oppositions_usager_id"), ["usager_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("oppositions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oppositions_usager_id"))

    op.drop_table("oppositions")
    op.drop_table("opposition_links")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notices_usager_id"))

    op.drop_table("notices")
    with op.batch_alter_table("proof_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proof_records_usager_id"))
        batch_op.drop_index(batch_op.f("ix_proof_records_establishment_id"))

    op.drop_table("proof_records")
