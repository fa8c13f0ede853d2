"""The Alembic history: up, down to nothing, up again, and in step with the models."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from portal import migrate
from portal.database import Base, make_engine
from tests.conftest import database_url, drop_database


@pytest.fixture()
def empty_engine(tmp_path):
    url = database_url(tmp_path, "migrations")
    engine = make_engine(url)
    yield engine
    engine.dispose()
    drop_database(url)


def tables(engine) -> set[str]:
    names = set(inspect(engine).get_table_names()) - {"alembic_version"}
    return {name for name in names if not migrate.is_full_text_object(name)}


def test_upgrade_downgrade_upgrade(app, empty_engine):
    migrate.run(empty_engine, "upgrade", "heads")
    assert tables(empty_engine) == set(Base.metadata.tables)
    migrate.run(empty_engine, "downgrade", "base")
    assert tables(empty_engine) == set()
    migrate.run(empty_engine, "upgrade", "heads")
    assert tables(empty_engine) == set(Base.metadata.tables)


def test_models_match_the_migrations(app, empty_engine):
    # The app has imported every feature's models.
    migrate.run(empty_engine, "upgrade", "heads")
    with empty_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_object": migrate.include_object})
        assert compare_metadata(context, Base.metadata) == []
