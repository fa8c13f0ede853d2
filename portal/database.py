"""SQLAlchemy engine and the per-request session."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask, current_app, g
from sqlalchemy import DateTime, Engine, MetaData, TypeDecorator, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

# Stable constraint names so that Alembic can drop what it created, on both databases.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both databases (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime}


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_engine(url: str) -> Engine:
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not pysqlite, decide where transactions begin, so that SAVEPOINTs work (tests).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        # A request waits its turn rather than fail: up to the final swap of an annuaire import (seconds).
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        # IMMEDIATE: the write lock from the start. A deferred transaction that read first cannot write
        # once another connection has written since (SQLite refuses at once, busy_timeout or not):
        # a login or an audited page would fail because the worker or another tab wrote meanwhile.
        # Requests take turns instead, each holding the lock for its few milliseconds. A reader that
        # must not wait for them (see reader()) reads the last committed state instead.
        deferred = connection.get_execution_options().get(_DEFERRED, False)
        connection.exec_driver_sql("BEGIN DEFERRED" if deferred else "BEGIN IMMEDIATE")


_DEFERRED = "sqlite_deferred"


def reader(db: Session) -> Session:
    """The session, for reads only, which never wait for a writer: a component that a request may be
    waiting on while it holds the write lock (the embedded mail server reading the mailboxes while a
    request sends it a message) must not wait for that request in turn. Call before the first query."""
    db.connection(execution_options={_DEFERRED: True})
    return db


class Database:
    """The engine and session factory of one application."""

    def __init__(self, url: str):
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(bind=self.engine, expire_on_commit=False)

    def init_app(self, app: Flask) -> None:
        app.extensions["database"] = self
        app.teardown_appcontext(_close_session)


def session() -> Session:
    """The session of the current application context, opened on first use."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["database"].sessionmaker()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()
