"""Run the Alembic history against an engine (used by the CLI and the tests)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from portal.settings import ROOT

# Database objects the models cannot describe, made by migrations and rebuilt by the annuaire's
# imports: its full-text index (an FTS5 table and its shadow tables on SQLite, a GIN index on
# PostgreSQL) and, on PostgreSQL, the generated tsvector column that index covers. Comparisons of
# models with the database leave them out.
FULL_TEXT_OBJECTS = "annuaire_entries_fts"
FULL_TEXT_COLUMN = "search_document"


def is_full_text_object(name: str | None) -> bool:
    return bool(name) and name.startswith(FULL_TEXT_OBJECTS)


def include_object(_object, name, type_, reflected, _compare_to) -> bool:
    """Alembic's include_object hook: compare everything but the full-text objects."""
    if not reflected:
        return True
    return not (is_full_text_object(name) or (type_ == "column" and name == FULL_TEXT_COLUMN))


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["engine"] = engine
    return config


def run(engine: Engine, action: str, revision: str) -> None:
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)
