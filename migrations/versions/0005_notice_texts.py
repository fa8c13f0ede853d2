"""Notices: versioned notice texts, and the establishment's contact given on notices

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("establishments", schema=None) as batch_op:
        # Existing rows get an empty contact, as the models' defaults give new ones.
        batch_op.add_column(sa.Column("phone", sa.String(length=30), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=False, server_default=""))

    op.create_table(
        "notice_texts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("establishment_id", sa.Integer(), nullable=False),
        sa.Column("variant", sa.String(length=20), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("restored_from_number", sa.Integer(), nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_label", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_notice_texts_author_id_users")),
        sa.ForeignKeyConstraint(
            ["establishment_id"], ["establishments.id"], name=op.f("fk_notice_texts_establishment_id_establishments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_texts")),
        sa.UniqueConstraint(
            "establishment_id", "variant", "number", name="uq_notice_texts_establishment_variant_number"
        ),
    )
    with op.batch_alter_table("notice_texts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notice_texts_establishment_id"), ["establishment_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notice_texts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notice_texts_establishment_id"))
    op.drop_table("notice_texts")

    with op.batch_alter_table("establishments", schema=None) as batch_op:
        batch_op.drop_column("email")
        batch_op.drop_column("phone")
