"""Alembic environment: one history for every model of the portal and its features."""

from __future__ import annotations

from alembic import context

from portal.database import Base
from portal.migrate import import_all_models

import_all_models()
config = context.config
connection = config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
