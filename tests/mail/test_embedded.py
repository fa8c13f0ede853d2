"""The embedded demo mail server (pymap + aiosmtpd on loopback), spoken to with plain imapclient/smtplib."""

from __future__ import annotations

import base64
import email
import smtplib
from email import policy
from email.message import EmailMessage

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from sqlalchemy import select

from mail import demo, xdm
from mail.embedded import OUTBOUND, EmbeddedConfig, EmbeddedMailServer, EmbeddedRefused
from mail.models import Mailbox, MailboxKind
from portal import create_app
from portal.sealing import new_key
from portal.settings import Settings

MASTER, PASSWORD = "portal", "master-secret-for-tests"
ADDRESSES = [demo.CLAIRE, demo.PAUL, demo.SECRETARIAT, demo.NOTICES, demo.ACCUEIL, demo.ADMIN]


def config(tmp_path, **overrides) -> EmbeddedConfig:
    values = dict(
        data_dir=tmp_path / "mail",
        master_user=MASTER,
        master_password=PASSWORD,
        addresses=lambda: ADDRESSES,
        env="test",
        imap_port=0,
        mta_port=0,
        submission_port=0,
    )
    return EmbeddedConfig(**{**values, **overrides})


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with EmbeddedMailServer(config(tmp_path_factory.mktemp("embedded"))) as running:
        running.seed(demo.demo_messages())
        yield running


def imap(server) -> IMAPClient:
    return IMAPClient("127.0.0.1", port=server.ports["imap"], ssl=False, timeout=10)


def master_login(server, mailbox: str) -> IMAPClient:
    client = imap(server)
    client.plain_login(MASTER, PASSWORD, authorization_identity=mailbox)
    return client


def subjects(client: IMAPClient, folder: str = "INBOX") -> list[str]:
    client.select_folder(folder, readonly=True)
    fetched = client.fetch(client.search(), ["ENVELOPE"])
    return [data[b"ENVELOPE"].subject.decode() for data in fetched.values()]


def message(sender: str, to: str, subject: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg.set_content("Message de test.")
    return msg


def test_master_login_with_sasl_plain_authzid_opens_a_demo_mailbox_and_sees_the_seeded_mail(server):
    client = master_login(server, demo.CLAIRE)
    inbox = subjects(client)
    assert len(inbox) == 10
    assert any(subject.startswith("DLU - ") for subject in inbox)
    client.select_folder("INBOX", readonly=True)
    flags = client.fetch(client.search(["UNSEEN", "FLAGGED"]), ["FLAGS"])
    assert len(flags) == 1  # the urgent message of the médecin traitant
    client.logout()


def test_dovecot_style_master_login_opens_the_named_mailbox(server):
    client = imap(server)
    client.login(f"{demo.SECRETARIAT}*{MASTER}", PASSWORD)
    assert len(subjects(client)) == 4
    client.logout()


def test_special_use_folders_are_flagged(server):
    client = master_login(server, demo.PAUL)
    folders = {name: set(flags) for flags, _delimiter, name in client.list_folders()}
    assert {b"\\Sent", b"\\Drafts", b"\\Trash", b"\\Junk"} == {
        flag for name in ("Sent", "Drafts", "Trash", "Junk") for flag in folders[name] if flag != b"\\HasNoChildren"
    }
    assert b"SPECIAL-USE" in client.capabilities()
    client.logout()


@pytest.mark.parametrize(
    ("authcid", "password", "authzid"),
    [
        (MASTER, "wrong password", demo.CLAIRE),  # wrong master password
        (demo.CLAIRE, "", demo.CLAIRE),  # a mailbox never logs in by itself
        (demo.PAUL, PASSWORD, demo.CLAIRE),  # nor acts for another one
        (MASTER, PASSWORD, MASTER),  # the master user has no mailbox of its own
        (MASTER, PASSWORD, "inconnu@ehpad-tilleuls.demo.mssante.fr"),  # no such mailbox
    ],
)
def test_logins_other_than_the_master_credential_for_a_known_mailbox_are_refused(server, authcid, password, authzid):
    with pytest.raises(LoginError):
        imap(server).plain_login(authcid, password, authorization_identity=authzid)


def test_dovecot_style_login_with_a_wrong_master_password_is_refused(server):
    with pytest.raises(LoginError):
        imap(server).login(f"{demo.CLAIRE}*{MASTER}", "wrong password")


def test_mail_submitted_with_smtp_auth_arrives_in_the_recipients_inbox(server):
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=10) as smtp:
        smtp.login(f"{demo.PAUL}*{MASTER}", PASSWORD)
        smtp.send_message(message(demo.PAUL, demo.ACCUEIL, "Planning des visites de la semaine"))
    client = master_login(server, demo.ACCUEIL)
    assert "Planning des visites de la semaine" in subjects(client)
    client.logout()


def test_submission_with_sasl_plain_authzid_arrives_too(server):
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=10) as smtp:
        smtp.ehlo()
        code, _ = smtp.docmd("AUTH", "PLAIN " + _plain(demo.CLAIRE, MASTER, PASSWORD))
        assert code == 235
        smtp.send_message(message(demo.CLAIRE, demo.ADMIN, "Compte rendu de la réunion"))
    client = master_login(server, demo.ADMIN)
    assert "Compte rendu de la réunion" in subjects(client)
    client.logout()


def _plain(authzid: str, authcid: str, password: str) -> str:
    return base64.b64encode(f"{authzid}\0{authcid}\0{password}".encode()).decode()


def test_submission_refuses_a_wrong_password_a_missing_login_and_a_foreign_sender(server):
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=10) as smtp:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login(f"{demo.PAUL}*{MASTER}", "wrong password")
        with pytest.raises(smtplib.SMTPSenderRefused):
            smtp.send_message(message(demo.PAUL, demo.CLAIRE, "Sans authentification"))
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=10) as smtp:
        smtp.login(f"{demo.PAUL}*{MASTER}", PASSWORD)
        with pytest.raises(smtplib.SMTPSenderRefused):
            smtp.send_message(message(demo.CLAIRE, demo.ADMIN, "Au nom d'une autre boîte"))


@pytest.mark.parametrize("port", ["smtp", "submission"])
def test_unknown_local_recipient_is_refused_with_550(server, port):
    with smtplib.SMTP("127.0.0.1", server.ports[port], timeout=10) as smtp:
        if port == "submission":
            smtp.login(f"{demo.PAUL}*{MASTER}", PASSWORD)
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            smtp.send_message(message(demo.PAUL, f"personne@{demo.DOMAIN}", "Perdu"))
    assert refused.value.recipients[f"personne@{demo.DOMAIN}"][0] == 550


def test_inbound_smtp_delivers_local_mail_and_refuses_to_relay(server):
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as smtp:
        smtp.send_message(message("Dr Externe <externe@ch.demo.mssante.fr>", demo.SECRETARIAT, "Demande de place"))
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            smtp.send_message(message("externe@ch.demo.mssante.fr", "autre@ailleurs.example.org", "Relais"))
    client = master_login(server, demo.SECRETARIAT)
    assert "Demande de place" in subjects(client)
    client.logout()


def test_submitted_mail_to_another_domain_is_kept_in_the_outbound_catch_all(server):
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=10) as smtp:
        smtp.login(f"{demo.CLAIRE}*{MASTER}", PASSWORD)
        smtp.send_message(message(demo.CLAIRE, "urgences@ch-lemans.demo.mssante.fr", "Retour de Mme L."))
    client = master_login(server, OUTBOUND)
    assert "Retour de Mme L." in subjects(client)
    client.logout()


def test_a_mailbox_created_while_running_is_served_without_a_restart(tmp_path):
    addresses = [demo.CLAIRE]
    with EmbeddedMailServer(config(tmp_path, addresses=lambda: addresses, refresh_seconds=0)) as running:
        addresses.append(demo.PAUL)
        with smtplib.SMTP("127.0.0.1", running.ports["smtp"], timeout=10) as smtp:
            smtp.send_message(message("externe@ch.demo.mssante.fr", demo.PAUL, "Bienvenue"))
        client = master_login(running, demo.PAUL)
        assert subjects(client) == ["Bienvenue"]
        client.logout()


def test_a_restart_keeps_the_mail_and_seeds_only_once(tmp_path):
    with EmbeddedMailServer(config(tmp_path)) as first:
        assert first.seed(demo.demo_messages()) == 30
    with EmbeddedMailServer(config(tmp_path)) as second:
        assert second.seed(demo.demo_messages()) == 0
        client = master_login(second, demo.PAUL)
        assert len(subjects(client)) == 6
        client.logout()


def test_refuses_to_start_in_production(tmp_path):
    with pytest.raises(EmbeddedRefused):
        EmbeddedMailServer(config(tmp_path, env="production"))
    assert not (tmp_path / "mail").exists()


def test_the_mail_command_refuses_production(tmp_path):
    settings = Settings(
        env="production",
        secret_key="s" * 40,
        data_keys=new_key(),
        database_url=f"sqlite:///{tmp_path / 'p.sqlite3'}",
        instance_path=tmp_path,
    )
    runner = create_app(settings).test_cli_runner()
    for command in (["mail", "embedded"], ["mail", "env"]):
        result = runner.invoke(args=command)
        assert result.exit_code != 0 and "production" in result.output
    assert not (tmp_path / "mail").exists()


def test_the_demo_seed_registers_the_demo_mailboxes(app, db):
    from portal import demo as portal_demo

    with app.app_context():
        portal_demo.seed(db)
    boxes = {box.address: box for box in db.scalars(select(Mailbox).where(Mailbox.address.like(f"%@{demo.DOMAIN}")))}
    assert {address: box.kind for address, box in boxes.items()} == {
        demo.CLAIRE: MailboxKind.PER,
        demo.PAUL: MailboxKind.PER,
        demo.SECRETARIAT: MailboxKind.ORG,
        demo.NOTICES: MailboxKind.APP,
    }
    assert boxes[demo.CLAIRE].owner.email == demo.CLAIRE
    assert {d.user.email for d in boxes[demo.SECRETARIAT].delegations} == {demo.ACCUEIL, demo.CLAIRE}
    assert set(demo.mailbox_addresses(db)) >= set(ADDRESSES)


def test_the_demo_xdm_package_names_a_patient_by_an_ins_with_a_valid_key():
    letters = [
        part.get_content()
        for seed in demo.demo_messages()
        for part in email.message_from_bytes(seed.raw, policy=policy.default).walk()
        if part.get_filename() == "IHE_XDM.ZIP"
    ]
    package = xdm.read_package(letters[0])
    assert package.patient_id_is_ins and package.document_titles
    number, key = package.patient_id[:13], package.patient_id[13:]
    assert int(key) == 97 - int(number) % 97
