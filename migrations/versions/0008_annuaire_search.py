"""annuaire: entries keyed by their ranking position, rebuilt by each import; PostgreSQL tsvector column

The entries lose their id (the address is their key), their content hash and their gapped rank:
each import builds a new table in ranking order, whose position is the primary key (and the rowid
of the SQLite full-text index). The one-typo variants table goes: the search tries a word's
one-typo neighbours against the surname index instead. PostgreSQL gets a stored tsvector column
with a GIN index, so that matching a row no longer parses its text.

The entries are not carried over: run `portal annuaire import` on the MSSanté file after upgrading.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def sort_key():
    return sa.String(length=100).with_variant(sa.String(length=100, collation="C"), "postgresql")


def _entry_columns() -> list[sa.Column]:
    """The columns both versions of the entries table share."""
    return [
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("bal_type", sa.String(length=3), nullable=False),
        sa.Column("national_id", sa.String(length=20), nullable=False),
        sa.Column("civility", sa.String(length=20), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("profession_code", sa.String(length=4), nullable=False),
        sa.Column("profession", sa.String(length=100), nullable=False),
        sa.Column("specialty", sa.String(length=150), nullable=False),
        sa.Column("structure_id", sa.String(length=30), nullable=False),
        sa.Column("structure_name", sa.String(length=200), nullable=False),
        sa.Column("service", sa.String(length=200), nullable=False),
        sa.Column("street", sa.String(length=300), nullable=False),
        sa.Column("postal_code", sa.String(length=10), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("department", sa.String(length=3), nullable=False),
        sa.Column("name_key", sort_key(), nullable=False),
        sa.Column("first_key", sort_key(), nullable=False),
        sa.Column("own_text", sa.Text(), nullable=False),
        sa.Column("rpps_text", sa.Text(), nullable=False),
    ]


def upgrade() -> None:
    _drop_0002_full_text_index()
    op.drop_table("annuaire_name_variants")
    op.drop_index(op.f("ix_annuaire_entries_name_rank"), table_name="annuaire_entries")
    op.drop_index(op.f("ix_annuaire_entries_national_id"), table_name="annuaire_entries")
    op.drop_index("ix_annuaire_entries_name", table_name="annuaire_entries")
    op.drop_table("annuaire_entries")
    op.create_table(
        "annuaire_entries",
        sa.Column("rank", sa.Integer(), autoincrement=False, nullable=False),
        *_entry_columns(),
        sa.PrimaryKeyConstraint("rank", name=op.f("pk_annuaire_entries")),
    )
    op.create_index("ix_annuaire_entries_address", "annuaire_entries", ["address"], unique=True)
    op.create_index("ix_annuaire_entries_name", "annuaire_entries", ["name_key", "rank"], unique=False)
    op.create_index("ix_annuaire_entries_national_id", "annuaire_entries", ["national_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # Kept in step with the texts by PostgreSQL itself; the imports build it on their new table the same way.
        # The texts are folded words separated by spaces: each word is a lexeme as it is, no parser needed.
        op.execute(
            "ALTER TABLE annuaire_entries ADD COLUMN search_document tsvector GENERATED ALWAYS AS "
            "(array_to_tsvector(array_remove(string_to_array(own_text || ' ' || rpps_text, ' '), ''))) STORED"
        )
        op.execute("CREATE INDEX annuaire_entries_fts ON annuaire_entries USING gin (search_document)")
        return
    # As in 0002, with the rank as rowid, the ASCII tokenizer (the words are folded to [a-z0-9 ] at import),
    # and one prefix index: shorter words are checked on the rows walked (portal.annuaire.service._full_text).
    op.execute(
        "CREATE VIRTUAL TABLE annuaire_entries_fts USING fts5(own_text, rpps_text, content='annuaire_entries', "
        "content_rowid='rank', detail='none', columnsize=0, prefix='3', tokenize='ascii')"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX annuaire_entries_fts")
    else:
        op.execute("DROP TABLE annuaire_entries_fts")
    op.drop_index("ix_annuaire_entries_national_id", table_name="annuaire_entries")
    op.drop_index("ix_annuaire_entries_name", table_name="annuaire_entries")
    op.drop_index("ix_annuaire_entries_address", table_name="annuaire_entries")
    op.drop_table("annuaire_entries")
    op.create_table(
        "annuaire_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        *_entry_columns(),
        sa.Column("row_hash", sa.String(length=16), nullable=False),
        sa.Column("name_rank", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annuaire_entries")),
        sa.UniqueConstraint("address", name=op.f("uq_annuaire_entries_address")),
    )
    op.create_index("ix_annuaire_entries_name", "annuaire_entries", ["name_key", "first_key"], unique=False)
    op.create_index(op.f("ix_annuaire_entries_national_id"), "annuaire_entries", ["national_id"], unique=False)
    op.create_index(op.f("ix_annuaire_entries_name_rank"), "annuaire_entries", ["name_rank"], unique=False)
    op.create_table(
        "annuaire_name_variants",
        sa.Column("variant", sort_key(), nullable=False),
        sa.Column("name_key", sort_key(), nullable=False),
        sa.PrimaryKeyConstraint("variant", "name_key", name=op.f("pk_annuaire_name_variants")),
        sqlite_with_rowid=False,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX annuaire_entries_fts ON annuaire_entries "
            "USING gin (to_tsvector('simple', own_text || ' ' || rpps_text))"
        )
        return
    op.execute(
        "CREATE VIRTUAL TABLE annuaire_entries_fts USING fts5(own_text, rpps_text, "
        "content='annuaire_entries', content_rowid='name_rank', detail='none', columnsize=0, prefix='2 3')"
    )


def _drop_0002_full_text_index() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX annuaire_entries_fts")
        return
    op.execute("DROP TABLE annuaire_entries_fts")
