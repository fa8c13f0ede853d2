"""The embedded SQLite database under concurrent requests."""

import threading

from sqlalchemy import text

from portal.database import Database, reader


def test_a_request_that_reads_then_writes_waits_for_another_writer_rather_than_failing(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'portal.sqlite3'}")
    with database.engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE audit (line TEXT)")
    outcome = {}

    def other_request() -> None:  # the outbox worker, another tab
        try:
            with database.sessionmaker() as other:
                other.execute(text("INSERT INTO audit VALUES ('other')"))
                other.commit()
            outcome["other"] = "written"
        except Exception as error:  # noqa: BLE001 - the test reports it
            outcome["other"] = repr(error)

    with database.sessionmaker() as request:
        request.execute(text("SELECT count(*) FROM audit"))  # a login reads the account first
        writer = threading.Thread(target=other_request)
        writer.start()
        writer.join(timeout=1)  # done at once, or waiting for this request's turn to end
        request.execute(text("INSERT INTO audit VALUES ('login')"))
        request.commit()
    writer.join()

    assert outcome == {"other": "written"}
    with database.sessionmaker() as check:
        assert sorted(check.scalars(text("SELECT line FROM audit"))) == ["login", "other"]
    database.engine.dispose()


def test_a_reader_does_not_wait_for_a_request_holding_the_write_lock(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'portal.sqlite3'}")
    with database.engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE mailboxes (address TEXT)")
        connection.exec_driver_sql("INSERT INTO mailboxes VALUES ('accueil@example.org')")

    with database.sessionmaker() as request:
        request.execute(text("INSERT INTO mailboxes VALUES ('nouveau@example.org')"))  # not committed yet
        # Meanwhile the embedded mail server, which the request is sending to, looks up its mailboxes.
        # Waiting for the request would fail on the busy timeout: it reads what was committed.
        with database.sessionmaker() as mail_server:
            found = list(reader(mail_server).scalars(text("SELECT address FROM mailboxes")))
        request.commit()

    assert found == ["accueil@example.org"]
    database.engine.dispose()
