"""Notice batches: the selection and its plan, the launch into the outbox, the worker's letters, the pages."""

import io
from datetime import date, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from notices import batches, issuing, outbox
from notices.models import (
    IdentityStatus,
    NoticeBatch,
    NoticeStatus,
    OutboxItem,
    OutboxState,
    Protection,
    Sex,
    Usager,
)
from portal import create_app, migrate
from portal.access import PermissionDenied
from portal.models import AuditEvent, Establishment, Role, User
from tests.conftest import csrf_token, database_url, drop_database, text
from tests.mail.conftest import wait_for
from tests.notices.conftest import NIR


@pytest.fixture()
def worker_settings(settings):
    """No SMTP server: a notice that tried to leave would fail, which the letters never do."""
    return settings.model_copy(update={"smtp_host": None, "worker_lease_seconds": 60})


def postal(make_usager, local_id: str, postal_code: str, **fields):
    return make_usager(
        local_id, birth_name=f"Nom{local_id}", address_line1="1 rue Basse", postal_code=postal_code, city="Ville",
        **fields,
    )  # fmt: skip


def run_worker(db, settings) -> int:
    """What `portal worker --until-idle` does, in the test's transaction."""
    done = 0
    while ids := outbox.claim(db, settings, "test-worker"):
        for item_id in ids:
            outbox.process(db, settings, item_id, "test-worker")
            done += 1
    return done


def test_plan_gives_each_addressee_one_notice_by_the_best_channel(db, reception, establishment, make_usager):
    make_usager("A", ins=NIR, identity_status=IdentityStatus.QUALIFIEE, email="a@example.org")
    make_usager("B", email="b@example.org", address_line1="1 rue", postal_code="72000", city="Le Mans")
    postal(make_usager, "C", "72100")
    make_usager("D")  # no address at all: hand delivery only

    plan = batches.plan_batch(db, reception, batches.Selection(establishment.id))

    assert plan.counts == {"mssante": 1, "email": 1, "courrier": 1}
    assert [u.local_id for u, _addressee in plan.unreachable] == ["D"]
    assert plan.usagers == 4


def test_plan_selects_by_admission_dates_and_by_a_list_of_ids(db, reception, establishment, make_usager):
    postal(make_usager, "A", "72000", admission_date=date(2025, 1, 10))
    postal(make_usager, "B", "72000", admission_date=date(2025, 3, 1))
    postal(make_usager, "C", "72000", admission_date=date(2025, 6, 1))

    by_dates = batches.Selection(establishment.id, admitted_from=date(2025, 2, 1), admitted_to=date(2025, 12, 31))
    assert [u.local_id for u, _c in batches.plan_batch(db, reception, by_dates).items] == ["B", "C"]

    ids = batches.read_ids("identifiant;nom\nC;x\nA;y\nZ;z\n".encode())
    plan = batches.plan_batch(db, reception, batches.Selection(establishment.id, local_ids=ids))
    assert [u.local_id for u, _c in plan.items] == ["A", "C"]
    assert plan.unknown_ids == ["Z"]


def test_plan_of_not_yet_informed_leaves_out_who_was_informed(
    db, reception, establishment, make_usager, worker_settings
):
    first = postal(make_usager, "A", "72000")
    postal(make_usager, "B", "72000")
    batches.launch(db, reception, batches.Selection(establishment.id, local_ids=(first.local_id,)), base_url="http://x/")
    run_worker(db, worker_settings)
    notice = db.scalar(select(OutboxItem).where(OutboxItem.usager_id == first.id)).notice
    notice.status = NoticeStatus.PRINTED  # reception printed and posted it
    db.commit()

    plan = batches.plan_batch(db, reception, batches.Selection(establishment.id, not_informed=True))

    assert [u.local_id for u, _c in plan.items] == ["B"]


def test_launch_records_the_outbox_and_the_worker_prepares_the_letters(
    db, reception, establishment, make_usager, worker_settings
):
    for number, code in enumerate(("75011", "13001", "72000")):
        postal(make_usager, f"U{number}", code)

    batch = batches.launch(db, reception, batches.Selection(establishment.id), base_url="http://portail.test/")

    items = db.scalars(select(OutboxItem).where(OutboxItem.batch_id == batch.id)).all()
    assert [(i.state, i.channel, i.notice_id) for i in items] == [(OutboxState.PENDING, "courrier", None)] * 3
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "notices.batch_launched")).detail["notices"] == 3

    assert run_worker(db, worker_settings) == 3
    progress = batches.progress(db, batch)
    assert (progress.sent, progress.failed, progress.remaining, progress.finished) == (3, 0, 0, True)
    pdf = PdfReader(io.BytesIO(batches.letters_pdf(db, reception, batch)))
    codes = [code for page in pdf.pages for code in ("13001", "72000", "75011") if code in page.extract_text()]
    assert codes == sorted(codes) and set(codes) == {"13001", "72000", "75011"}


def test_a_notice_no_longer_in_the_plan_is_given_up_with_the_reason(
    db, reception, establishment, make_usager, worker_settings
):
    usager = postal(make_usager, "A", "72000")
    batch = batches.launch(db, reception, batches.Selection(establishment.id), base_url="http://x/")
    usager.address_line1 = ""  # the address was removed after the launch
    db.commit()

    run_worker(db, worker_settings)

    [item] = db.scalars(select(OutboxItem).where(OutboxItem.batch_id == batch.id)).all()
    assert item.state == OutboxState.PERMANENT and item.notice_id is None
    assert item.last_error == outbox.NO_LONGER_PLANNED


def test_a_lapsed_claim_is_taken_back_and_an_accepted_message_is_not_sent_again(
    db, reception, establishment, make_usager, worker_settings
):
    make_usager("A", email="a@example.org")
    batch = batches.launch(db, reception, batches.Selection(establishment.id), base_url="http://x/")
    [item_id] = outbox.claim(db, worker_settings, "dead-worker")
    assert outbox.claim(db, worker_settings, "other-worker") == []  # the lease holds
    outbox.process(db, worker_settings, item_id, "dead-worker")  # prepared; no SMTP server: not sent
    item = db.get(OutboxItem, item_id)
    # As the worker leaves it when killed just after the server accepted the message.
    item.state, item.notice.status = OutboxState.ACCEPTED, NoticeStatus.SENT
    db.commit()

    lapsed = worker_settings.model_copy(update={"worker_lease_seconds": 0})
    assert outbox.claim(db, lapsed, "other-worker") == [item_id]
    outbox.process(db, lapsed, item_id, "other-worker")  # a send would fail: there is no SMTP server

    assert item.state == OutboxState.SENT and item.notice.status == NoticeStatus.SENT
    assert batches.progress(db, batch).sent == 1
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "notices.notice_sent")) is not None


def test_the_lease_restarts_with_each_row_so_another_worker_cannot_take_the_row_being_sent(
    db, reception, establishment, make_usager, worker_settings, monkeypatch
):
    make_usager("A", email="a@example.org")
    make_usager("B", email="b@example.org")
    batches.launch(db, reception, batches.Selection(establishment.id), base_url="http://x/")
    first, second = outbox.claim(db, worker_settings, "slow-worker")
    for item in db.scalars(select(OutboxItem)):
        item.claimed_at -= timedelta(seconds=worker_settings.worker_lease_seconds + 1)  # a long claim
    db.commit()
    taken, transmit = [], issuing.Sender.transmit

    def another_worker_claims_meanwhile(sender, notice):
        taken.extend(outbox.claim(db, sender.settings, "other-worker"))
        transmit(sender, notice)  # no SMTP server here: a temporary failure

    monkeypatch.setattr(issuing.Sender, "transmit", another_worker_claims_meanwhile)
    outbox.process(db, worker_settings, first, "slow-worker")

    assert taken == [second]  # the row waiting in the slow claim, not the one being sent
    outbox.process(db, worker_settings, second, "slow-worker")
    assert db.get(OutboxItem, second, populate_existing=True).notice_id is None  # left to the other worker


def test_temporary_failures_back_off_then_give_up_with_the_last_error(
    db, reception, establishment, make_usager, worker_settings
):
    make_usager("A", email="a@example.org")
    batch = batches.launch(db, reception, batches.Selection(establishment.id), base_url="http://x/")
    unreachable = worker_settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": 9, "smtp_security": "plain", "smtp_timeout_seconds": 2,
                "worker_retry_seconds": 0, "worker_max_attempts": 2}
    )  # fmt: skip
    [item_id] = outbox.claim(db, unreachable, "w")
    outbox.process(db, unreachable, item_id, "w")
    item = db.get(OutboxItem, item_id)
    assert (item.state, item.attempts) == (OutboxState.FAILED, 1) and "injoignable" in item.last_error
    assert item.notice.status == NoticeStatus.PREPARED
    assert issuing.send_pending(db, unreachable) == []  # the outbox's to send, not `portal notices send-pending`'s

    run_worker(db, unreachable)

    assert (item.state, item.attempts) == (OutboxState.PERMANENT, 2)
    assert item.notice.status == NoticeStatus.FAILED and "2 tentatives" in item.notice.failure_reason
    assert batches.progress(db, batch).failed == 1


def test_a_row_that_cannot_be_prepared_fails_alone_and_is_given_up_after_its_attempts(
    db, reception, establishment, make_usager, worker_settings
):
    make_usager("A", ins="255081416802599", identity_status=IdentityStatus.QUALIFIEE)  # a wrong key, stored anyway
    postal(make_usager, "B", "72000")
    batch = batches.launch(db, reception, batches.Selection(establishment.id), base_url="http://x/")

    run_worker(db, worker_settings.model_copy(update={"worker_retry_seconds": 0, "worker_max_attempts": 2}))

    broken, letter = db.scalars(select(OutboxItem).where(OutboxItem.batch_id == batch.id).order_by(OutboxItem.id))
    assert (broken.state, broken.attempts, broken.notice_id) == (OutboxState.PERMANENT, 2, None)
    assert "InvalidMatricule" in broken.last_error
    assert letter.state == OutboxState.SENT


def test_reception_previews_launches_and_follows_a_batch(db, logged_in, reception, establishment, make_usager):
    postal(make_usager, "A", "72000")
    make_usager("B", ins=NIR, identity_status=IdentityStatus.QUALIFIEE, protection=Protection.NONE)
    client = logged_in(reception)

    token = csrf_token(client, "/usagers/batches/new")
    preview = client.post("/usagers/batches/new", data={"csrf_token": token})
    page = text(preview)
    assert "2 notices pour 2 usagers" in page and "courrier : 1" in page
    assert db.scalar(select(OutboxItem)) is None  # a preview records nothing

    launched = client.post("/usagers/batches/new", data={"csrf_token": token, "confirm": "1", "local_ids": ""})
    assert launched.status_code == 302
    fragment = client.get(launched.location, headers={"HX-Request": "true"})
    assert "HX-Request" in fragment.headers["Vary"] and "<html" not in fragment.get_data(as_text=True)
    assert 'hx-trigger="every 2s"' in fragment.get_data(as_text=True) and "Restantes : 2" in text(fragment)
    full = client.get(launched.location)
    assert "<html" in full.get_data(as_text=True) and full.headers["Cache-Control"] == "no-store"
    assert "sélection : tous les usagers" in text(full)
    assert launched.location in client.get("/usagers/batches").get_data(as_text=True)


def test_an_ids_file_without_ids_is_refused_instead_of_selecting_everyone(db, logged_in, reception, make_usager):
    postal(make_usager, "A", "72000")
    client = logged_in(reception)
    token = csrf_token(client, "/usagers/batches/new")

    response = client.post(
        "/usagers/batches/new", data={"csrf_token": token, "ids_file": (io.BytesIO(b"identifiant\n"), "ids.csv")}
    )

    assert "Le fichier ne contient aucun identifiant." in text(response) and "Ce qui sera envoyé" not in text(response)


def test_other_establishments_and_professionals_cannot_see_a_batch(
    db, logged_in, client, reception, other_reception, professional, establishment, make_usager
):
    postal(make_usager, "A", "72000")
    batch = batches.launch(db, reception, batches.Selection(establishment.id), base_url="http://x/")
    with pytest.raises(PermissionDenied):
        batches.plan_batch(db, other_reception, batches.Selection(establishment.id))

    logged_in(other_reception)
    assert client.get(f"/usagers/batches/{batch.id}").status_code == 404
    assert client.get(f"/usagers/batches/{batch.id}/letters.pdf").status_code == 404
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    logged_in(professional)
    assert client.get(f"/usagers/batches/{batch.id}").status_code == 404
    assert client.get("/usagers/batches/new").status_code == 403


def test_the_embedded_worker_starts_with_the_first_request_and_does_the_batch(tmp_path, settings):
    url = database_url(tmp_path, "embedded")
    embedded = settings.model_copy(
        update={"database_url": url, "instance_path": tmp_path, "worker_embedded": True, "worker_poll_seconds": 0.1}
    )
    app = create_app(embedded)
    engine = app.extensions["database"].engine
    migrate.run(engine, "upgrade", "heads")
    sessions = app.extensions["database"].sessionmaker
    try:
        with sessions() as db, app.app_context():
            home = Establishment(finess="720000009", name="EHPAD", postal_code="72000", city="Le Mans")
            officer = User(email="a@b.test", first_name="A", last_name="B", password_hash="x", establishments=[home])
            officer.roles = {Role.RECEPTION}
            db.add(Usager(establishment=home, local_id="A", birth_name="Nom", birth_first_names="Jeanne",
                          birth_date=date(1950, 1, 1), sex=Sex.F, identity_status=IdentityStatus.PROVISOIRE,
                          address_line1="1 rue", postal_code="72000", city="Le Mans"))  # fmt: skip
            db.add(officer)
            db.commit()
            batch = batches.launch(db, officer, batches.Selection(home.id), base_url="http://x/")

        app.test_client().get("/login")

        def finished() -> bool:
            with sessions() as db:
                return batches.progress(db, db.get(NoticeBatch, batch.id)).finished

        assert wait_for(finished, timeout=60)
    finally:
        app.extensions["notices.worker_stop"].set()
        engine.dispose()
        drop_database(url)
