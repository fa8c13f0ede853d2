"""users: second-factor seeds sealed under the data keys (portal.sealing)

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

from portal import sealing

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

users = sa.table("users", sa.column("id", sa.Integer), sa.column("totp_secret", sa.String))


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("totp_secret", existing_type=sa.String(64), type_=sa.String(200))
    _rewrite(sealing.seal)


def downgrade() -> None:
    _rewrite(sealing.open_sealed)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("totp_secret", existing_type=sa.String(200), type_=sa.String(64))


def _rewrite(change) -> None:
    """Each seed through `change`, under the data keys of the app whose database this is (`portal db upgrade`)."""
    bind = op.get_bind()
    rows = bind.execute(sa.select(users.c.id, users.c.totp_secret).where(users.c.totp_secret.is_not(None))).all()
    if not rows:
        return
    sealer = sealing.keys_of(bind.dialect)
    if sealer is None:
        raise RuntimeError("the second-factor seeds need the data keys: migrate with `portal db upgrade`")
    for user_id, secret in rows:
        bind.execute(users.update().where(users.c.id == user_id).values(totp_secret=change(sealer, secret)))
