"""Alembic environment: one history for every model of the portal and its features."""

from __future__ import annotations

from alembic import context

# Every model registers on Base.metadata, which autogenerate compares with the database.
import mail.models  # noqa: F401
import notices.models  # noqa: F401
import portal.annuaire.models  # noqa: F401
import portal.models  # noqa: F401
from portal.database import Base
from portal.migrate import include_object

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection, target_metadata=Base.metadata, render_as_batch=True, compare_type=True,
    include_object=include_object,
)
with context.begin_transaction():
    context.run_migrations()
