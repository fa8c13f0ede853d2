"""annuaire: MSSanté entries, RPPS activities, trust-space domains, imports, full-text index

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

import portal.database

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def sort_key():
    return sa.String(length=100).with_variant(sa.String(length=100, collation='C'), 'postgresql')


def upgrade() -> None:
    op.create_table('annuaire_activities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('national_id', sa.String(length=20), nullable=False),
    sa.Column('profession_code', sa.String(length=4), nullable=False),
    sa.Column('profession', sa.String(length=100), nullable=False),
    sa.Column('specialty_code', sa.String(length=10), nullable=False),
    sa.Column('specialty', sa.String(length=150), nullable=False),
    sa.Column('mode_code', sa.String(length=4), nullable=False),
    sa.Column('mode', sa.String(length=50), nullable=False),
    sa.Column('structure_name', sa.String(length=200), nullable=False),
    sa.Column('postal_code', sa.String(length=10), nullable=False),
    sa.Column('city', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_annuaire_activities'))
    )
    op.create_index(op.f('ix_annuaire_activities_national_id'), 'annuaire_activities', ['national_id'], unique=False)
    op.create_table('annuaire_domains',
    sa.Column('name', sa.String(length=253), nullable=False),
    sa.Column('description', sa.String(length=300), nullable=False),
    sa.Column('operator_dn', sa.String(length=500), nullable=False),
    sa.Column('updated', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_annuaire_domains'))
    )
    op.create_table('annuaire_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=254), nullable=False),
    sa.Column('bal_type', sa.String(length=3), nullable=False),
    sa.Column('national_id', sa.String(length=20), nullable=False),
    sa.Column('civility', sa.String(length=20), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('profession_code', sa.String(length=4), nullable=False),
    sa.Column('profession', sa.String(length=100), nullable=False),
    sa.Column('specialty', sa.String(length=150), nullable=False),
    sa.Column('structure_id', sa.String(length=30), nullable=False),
    sa.Column('structure_name', sa.String(length=200), nullable=False),
    sa.Column('service', sa.String(length=200), nullable=False),
    sa.Column('street', sa.String(length=300), nullable=False),
    sa.Column('postal_code', sa.String(length=10), nullable=False),
    sa.Column('city', sa.String(length=100), nullable=False),
    sa.Column('department', sa.String(length=3), nullable=False),
    sa.Column('name_key', sort_key(), nullable=False),
    sa.Column('first_key', sort_key(), nullable=False),
    sa.Column('own_text', sa.Text(), nullable=False),
    sa.Column('rpps_text', sa.Text(), nullable=False),
    sa.Column('row_hash', sa.String(length=16), nullable=False),
    sa.Column('name_rank', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_annuaire_entries')),
    sa.UniqueConstraint('address', name=op.f('uq_annuaire_entries_address'))
    )
    op.create_index('ix_annuaire_entries_name', 'annuaire_entries', ['name_key', 'first_key'], unique=False)
    op.create_index(op.f('ix_annuaire_entries_national_id'), 'annuaire_entries', ['national_id'], unique=False)
    op.create_index(op.f('ix_annuaire_entries_name_rank'), 'annuaire_entries', ['name_rank'], unique=False)
    op.create_table('annuaire_name_variants',
    sa.Column('variant', sort_key(), nullable=False),
    sa.Column('name_key', sort_key(), nullable=False),
    sa.PrimaryKeyConstraint('variant', 'name_key', name=op.f('pk_annuaire_name_variants')),
    sqlite_with_rowid=False
    )
    op.create_table('annuaire_professionals',
    sa.Column('national_id', sa.String(length=20), nullable=False),
    sa.Column('profession_code', sa.String(length=4), nullable=False),
    sa.Column('profession', sa.String(length=100), nullable=False),
    sa.Column('specialty', sa.String(length=150), nullable=False),
    sa.Column('words', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('national_id', name=op.f('pk_annuaire_professionals'))
    )
    op.create_table('annuaire_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('source', sa.String(length=300), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('started_at', portal.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', portal.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('bytes_read', sa.Integer(), nullable=False),
    sa.Column('rows_read', sa.Integer(), nullable=False),
    sa.Column('created', sa.Integer(), nullable=False),
    sa.Column('updated', sa.Integer(), nullable=False),
    sa.Column('removed', sa.Integer(), nullable=False),
    sa.Column('merged', sa.Integer(), nullable=False),
    sa.Column('rejected_count', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_annuaire_imports_actor_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_annuaire_imports'))
    )
    op.create_index(op.f('ix_annuaire_imports_started_at'), 'annuaire_imports', ['started_at'], unique=False)
    _create_full_text_index()


def downgrade() -> None:
    _drop_full_text_index()
    op.drop_index(op.f('ix_annuaire_imports_started_at'), table_name='annuaire_imports')
    op.drop_table('annuaire_imports')
    op.drop_table('annuaire_professionals')
    op.drop_table('annuaire_name_variants')
    op.drop_index(op.f('ix_annuaire_entries_name_rank'), table_name='annuaire_entries')
    op.drop_index(op.f('ix_annuaire_entries_national_id'), table_name='annuaire_entries')
    op.drop_index('ix_annuaire_entries_name', table_name='annuaire_entries')
    op.drop_table('annuaire_entries')
    op.drop_table('annuaire_domains')
    op.drop_index(op.f('ix_annuaire_activities_national_id'), table_name='annuaire_activities')
    op.drop_table('annuaire_activities')


# The full-text index over the entries' folded words (portal.migrate.FULL_TEXT_OBJECTS names
# it, since the models cannot describe it). The words are folded to [a-z0-9 ] at import,
# so both engines split them the same way and answer the same prefix queries.
def _create_full_text_index() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX annuaire_entries_fts ON annuaire_entries "
            "USING gin (to_tsvector('simple', own_text || ' ' || rpps_text))"
        )
        return
    # detail=none: only "which rows hold a word starting so", all the search asks; columnsize=0: no
    # word counts, which only ranking functions read (half the build time). The rowid is the entry's
    # name_rank, so that matches come in ranking order and a LIMIT stops the walk early. No trigger:
    # portal.annuaire.sync, the only writer of the entries, keeps it in step (in bulk).
    op.execute(
        "CREATE VIRTUAL TABLE annuaire_entries_fts USING fts5(own_text, rpps_text, "
        "content='annuaire_entries', content_rowid='name_rank', detail='none', columnsize=0, prefix='2 3')"
    )


def _drop_full_text_index() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX annuaire_entries_fts")
        return
    op.execute("DROP TABLE annuaire_entries_fts")
