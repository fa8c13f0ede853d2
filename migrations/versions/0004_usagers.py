"""Notices: usagers and their representatives

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('usagers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('establishment_id', sa.Integer(), nullable=False),
    sa.Column('local_id', sa.String(length=64), nullable=False),
    sa.Column('ins', sa.String(length=15), nullable=True),
    sa.Column('identity_status', sa.Enum('provisoire', 'recuperee', 'validee', 'qualifiee', name='identitystatus', native_enum=False), nullable=False),
    sa.Column('birth_name', sa.String(length=100), nullable=False),
    sa.Column('birth_first_names', sa.String(length=200), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('sex', sa.Enum('F', 'M', name='sex', native_enum=False), nullable=False),
    sa.Column('birth_place_code', sa.String(length=5), nullable=False),
    sa.Column('admission_date', sa.Date(), nullable=True),
    sa.Column('address_line1', sa.String(length=200), nullable=False),
    sa.Column('address_line2', sa.String(length=200), nullable=False),
    sa.Column('postal_code', sa.String(length=10), nullable=False),
    sa.Column('city', sa.String(length=100), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('protection', sa.Enum('none', 'curatelle', 'representation_biens', 'representation_personne', name='protection', native_enum=False, length=30), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['establishment_id'], ['establishments.id'], name=op.f('fk_usagers_establishment_id_establishments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usagers')),
    sa.UniqueConstraint('establishment_id', 'ins', name='uq_usagers_establishment_ins'),
    sa.UniqueConstraint('establishment_id', 'local_id', name='uq_usagers_establishment_local_id')
    )
    with op.batch_alter_table('usagers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_usagers_establishment_id'), ['establishment_id'], unique=False)

    op.create_table('representatives',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('usager_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('parent', 'tuteur', 'curateur', 'habilite', name='representativerole', native_enum=False, length=10), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('first_names', sa.String(length=200), nullable=False),
    sa.Column('address_line1', sa.String(length=200), nullable=False),
    sa.Column('address_line2', sa.String(length=200), nullable=False),
    sa.Column('postal_code', sa.String(length=10), nullable=False),
    sa.Column('city', sa.String(length=100), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('judgment_type', sa.String(length=100), nullable=False),
    sa.Column('judgment_scope', sa.String(length=200), nullable=False),
    sa.Column('judgment_reference', sa.String(length=200), nullable=False),
    sa.Column('judgment_date', sa.Date(), nullable=True),
    sa.Column('measure_end_date', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['usager_id'], ['usagers.id'], name=op.f('fk_representatives_usager_id_usagers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_representatives'))
    )
    with op.batch_alter_table('representatives', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_representatives_usager_id'), ['usager_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('representatives', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_representatives_usager_id'))

    op.drop_table('representatives')
    with op.batch_alter_table('usagers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_usagers_establishment_id'))

    op.drop_table('usagers')
