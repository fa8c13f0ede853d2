"""The `portal` command: a Flask CLI group on create_app."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import FlaskGroup

from portal import create_app, database, demo, migrate


@click.group(cls=FlaskGroup, create_app=lambda: create_app(), add_version_option=False)
def main() -> None:
    """Portail MSSanté et information des usagers."""


@main.group()
def db() -> None:
    """Database schema (Alembic)."""


@db.command()
@click.argument("revision", default="heads")
def upgrade(revision: str) -> None:
    """Migrate the database up to REVISION (default: the latest)."""
    migrate.run(current_app.extensions["database"].engine, "upgrade", revision)


@db.command()
@click.argument("revision")
def downgrade(revision: str) -> None:
    """Migrate the database down to REVISION ("base" empties it)."""
    migrate.run(current_app.extensions["database"].engine, "downgrade", revision)


@main.command("demo-seed")
@click.option("--url", default="http://127.0.0.1:5000", help="Where the portal will be served.")
def demo_seed(url: str) -> None:
    """Create the demo establishment and users, and print their credentials once."""
    if current_app.config["PORTAL_SETTINGS"].is_production:
        raise click.ClickException("Demo data is never created in production.")
    accounts = demo.seed(database.session())
    if not accounts:
        click.echo("Données de démonstration déjà présentes : identifiants affichés lors du premier lancement.")
        click.echo("Pour repartir de zéro : make reset, puis make run.")
    else:
        click.echo("\nComptes de démonstration (affichés une seule fois) :")
        for account in accounts:
            click.echo(f"\n  {account.role}")
            click.echo(f"    e-mail        {account.email}")
            click.echo(f"    mot de passe  {account.password}")
            click.echo(f"    secret TOTP   {account.totp_secret}  ({account.totp_uri})")
        click.echo("\nAjoutez le secret TOTP à une application d'authentification (FreeOTP, Aegis...),")
        click.echo("ou affichez le code du moment avec : .venv/bin/portal demo-code E-MAIL")
    click.echo(f"\nPortail : {url}\n")


@main.command("demo-code")
@click.argument("email")
def demo_code(email: str) -> None:
    """Print the current second-factor code of a demo account (never in production)."""
    if current_app.config["PORTAL_SETTINGS"].is_production:
        raise click.ClickException("Refused in production: codes come from the user's authenticator.")
    try:
        click.echo(demo.current_code(database.session(), email))
    except LookupError as missing:
        raise click.ClickException(str(missing)) from None
