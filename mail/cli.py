"""`portal mail ...`: the embedded demo mail server (registered on the app's CLI in create_app)."""

from __future__ import annotations

import os
import secrets
import shlex
import socket
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from mail.demo import NOTICES
from mail.render import render_command
from portal import database

cli = AppGroup("mail", help="Messagerie : serveur embarqué de démonstration.")

MASTER_USER = "portal"  # as scripts/mailstack's default Dovecot master user


def _settings():
    return current_app.config["PORTAL_SETTINGS"]


def _refuse_in_production() -> None:
    if _settings().env not in ("dev", "test"):
        raise click.ClickException(
            "Le serveur de messagerie embarqué ne sert qu'à la démonstration : refusé en production."
        )


def data_dir() -> Path:
    return _settings().instance_path / "mail"


def master_password() -> str:
    """PORTAL_IMAP_MASTER_PASSWORD when set; otherwise one generated once into <instance>/mail (0600)."""
    settings = _settings()
    if settings.imap_master_password is not None:
        return settings.imap_master_password.get_secret_value()
    directory = data_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / "master-password"
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def default_imap_port() -> int:
    """PORTAL_IMAP_PORT when set, otherwise the embedded server's default port."""
    from mail.embedded import DEFAULT_IMAP_PORT

    settings = _settings()
    return settings.imap_port if "imap_port" in settings.model_fields_set else DEFAULT_IMAP_PORT


def portal_environment(imap: int, submission: int) -> dict[str, str]:
    """The PORTAL_* settings that point the portal at the embedded server."""
    settings = _settings()
    master = settings.imap_master_user or MASTER_USER
    return {
        "PORTAL_IMAP_HOST": "127.0.0.1",
        "PORTAL_IMAP_PORT": str(imap),
        "PORTAL_IMAP_SECURITY": "plain",  # loopback only; refused by the settings in production
        "PORTAL_IMAP_MASTER_USER": master,
        "PORTAL_IMAP_MASTER_PASSWORD": master_password(),
        # For the sending side (submission, AUTH with the same master credential).
        "PORTAL_SMTP_HOST": "127.0.0.1",
        "PORTAL_SMTP_PORT": str(submission),
        "PORTAL_SMTP_SECURITY": "plain",
        # Notices leave from the demo's notice mailbox, which receives their delivery reports.
        "PORTAL_NOTICE_SENDER": NOTICES,
        "PORTAL_SMTP_USERNAME": f"{NOTICES}*{master}",
        "PORTAL_SMTP_PASSWORD": master_password(),
    }


@cli.command("env")
@click.option("--submission-port", type=int, default=None, help="Submission port (default 11587).")
def env_command(submission_port: int | None) -> None:
    """Print the exports that point the portal at the embedded server (eval "$(portal mail env)")."""
    from mail.embedded import DEFAULT_SUBMISSION_PORT

    _refuse_in_production()
    for name, value in portal_environment(default_imap_port(), submission_port or DEFAULT_SUBMISSION_PORT).items():
        click.echo(f"export {name}={shlex.quote(value)}")


@cli.command("embedded")
@click.option("--imap-port", type=int, default=None, help="IMAP port (default: PORTAL_IMAP_PORT, else 11143).")
@click.option("--smtp-port", type=int, default=None, help="Inbound SMTP (MTA) port (default 11025).")
@click.option("--submission-port", type=int, default=None, help="Submission port, AUTH required (default 11587).")
@click.option("--seed/--no-seed", default=True, show_default=True, help="Store the demo mail at the first start.")
def embedded(imap_port: int | None, smtp_port: int | None, submission_port: int | None, seed: bool) -> None:
    """Run the embedded IMAP + SMTP server on 127.0.0.1 in the foreground until Ctrl-C (demo and dev only)."""
    _refuse_in_production()
    from mail.demo import demo_messages, mailbox_addresses
    from mail.embedded import DEFAULT_MTA_PORT, DEFAULT_SUBMISSION_PORT, EmbeddedConfig, EmbeddedMailServer

    imap = imap_port or default_imap_port()
    smtp_port = smtp_port or DEFAULT_MTA_PORT
    submission_port = submission_port or DEFAULT_SUBMISSION_PORT
    for name, port in (("IMAP", imap), ("SMTP", smtp_port), ("submission", submission_port)):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                raise click.ClickException(
                    f"Le port {port} ({name}) de 127.0.0.1 est déjà pris : un autre serveur de messagerie "
                    "(scripts/mailstack ?) tourne-t-il ? Arrêtez-le ou choisissez d'autres ports."
                )

    app = current_app._get_current_object()

    def addresses() -> list[str]:
        with app.app_context():  # its teardown closes the session
            # A request of the portal may hold the write lock while it sends to this very server.
            return mailbox_addresses(database.reader(database.session()))

    settings = _settings()
    server = EmbeddedMailServer(
        EmbeddedConfig(
            data_dir=data_dir(),
            master_user=settings.imap_master_user or MASTER_USER,
            master_password=master_password(),
            addresses=addresses,
            env=settings.env,
            imap_port=imap,
            mta_port=smtp_port,
            submission_port=submission_port,
        )
    )

    def ready(server: EmbeddedMailServer) -> None:
        boxes = server.provision()
        if seed:
            count = server.seed(demo_messages())
            if count:
                click.echo(f"{count} messages de démonstration déposés.")
        click.echo("Messagerie embarquée (démonstration) :")
        click.echo(f"  IMAP        127.0.0.1:{server.ports['imap']} (sans TLS, boucle locale)")
        click.echo(f"  SMTP        127.0.0.1:{server.ports['smtp']} (réception, domaines locaux)")
        click.echo(f"  soumission  127.0.0.1:{server.ports['submission']} (AUTH PLAIN/LOGIN)")
        click.echo(
            f"  compte maître {server.config.master_user}, mot de passe dans {data_dir() / 'master-password'}"
            if settings.imap_master_password is None
            else f"  compte maître {server.config.master_user} (PORTAL_IMAP_MASTER_PASSWORD)"
        )
        click.echo(f"  {len(boxes)} boîtes : {', '.join(boxes)}")
        click.echo("Ctrl-C pour arrêter.", nl=True)

    server.serve_forever(on_ready=ready)


@cli.command("render")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def render(path: str) -> None:
    """Print the sanitised body of a raw message file exactly as the message frame serves it."""
    render_command(path)
