"""The `portal` command: a Flask CLI group on create_app."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup

from portal import create_app, database, demo, migrate, sealing
from portal.annuaire import demo as annuaire_demo
from portal.annuaire import service as annuaire_service
from portal.audit.service import CLI_ACTOR
from portal.auth import service as auth_service


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
        # Its annuaire too, once the seed's transaction is over: an import works on a connection of its own.
        for job in annuaire_demo.seed(database.session(), Path(current_app.instance_path) / "annuaire-demo"):
            outcome = f"{job.created} entrées" if job.status == "done" else f"échec ({job.error})"
            click.echo(f"Annuaire de démonstration, fichier {job.kind.upper()} : {outcome}.")
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


@main.group()
def keys() -> None:
    """The data keys that seal the secrets kept in the database (PORTAL_DATA_KEYS)."""


@keys.command("new")
def keys_new() -> None:
    """Print a new data key, to put first in PORTAL_DATA_KEYS (then run `portal keys reseal`)."""
    click.echo(sealing.new_key())


@keys.command("reseal")
def keys_reseal() -> None:
    """Seal every secret anew under the first data key: the other keys can then be taken out."""
    count = auth_service.reseal_seeds(database.session(), CLI_ACTOR)
    click.echo(f"{count} secrets de second facteur scellés sous la première clé.")


@main.group()
def annuaire() -> None:
    """Annuaire santé: import the ANS files, search the entries."""


@annuaire.command("import")
@click.argument("location", metavar="PATH_OR_URL")
def annuaire_import(location: str) -> None:
    """Import an MSSanté extraction or an RPPS file (.txt or .zip, path or URL)."""
    started = time.monotonic()
    with click.progressbar(length=100, label="Import", item_show_func=lambda text: text) as bar:

        def progress(job) -> None:
            rate = job.rows_read / max(time.monotonic() - started, 1e-6)
            bar.update(job.percent - bar.pos, f"{job.rows_read} lignes, {rate:,.0f} lignes/s".replace(",", " "))

        job = annuaire_service.import_file(database.session(), None, location, progress)
    _print_import(job, time.monotonic() - started)


@annuaire.command("import-domains")
@click.argument("location", metavar="PATH_OR_URL")
def annuaire_import_domains(location: str) -> None:
    """Import the MSSanté trust-space domain list (listeblanchemssante.xml)."""
    started = time.monotonic()
    _print_import(annuaire_service.import_domains(database.session(), None, location), time.monotonic() - started)


def _print_import(job, seconds: float) -> None:
    if job.status != "done":
        raise click.ClickException(f"Échec de l'import : {job.error} (les données précédentes sont conservées)")
    click.echo(
        f"{job.kind} importé en {seconds:.1f} s ({job.rows_read / max(seconds, 1e-6):.0f} lignes/s) : "
        f"{job.rows_read} lignes, {job.created} créées, "
        f"{job.updated} mises à jour, {job.removed} supprimées, {job.merged} doublons fusionnés, "
        f"{job.rejected_count} rejetées"
    )
    for rejected in job.rejected[:20]:
        click.echo(f"  ligne {rejected['line']} : {rejected['reason']}")


@annuaire.command("search")
@click.argument("query")
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON array, for scripts.")
def annuaire_search(query: str, limit: int, as_json: bool) -> None:
    """Search the annuaire as the search page does."""
    entries = annuaire_service.search(query, limit=limit)
    if as_json:
        fields = ("address", "bal_type", "national_id", "last_name", "first_name", "profession", "specialty",
                  "structure_name", "service", "postal_code", "city", "department")  # fmt: skip
        click.echo(json.dumps([{name: getattr(e, name) or "" for name in fields} for e in entries], ensure_ascii=False))
        return
    for entry in entries:
        click.echo(f"{entry.display_name:<40} {entry.bal_type}  {entry.address:<45} {entry.profession} {entry.city}")
