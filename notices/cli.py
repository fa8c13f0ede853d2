"""The `portal notices` commands (plan, sample rendering, proof chain check and export), registered by init_app."""

from __future__ import annotations

import json
import signal
import sys
import threading
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from notices import import_service, importer, issuing, letters, outbox, proof, rendering, texts
from notices import plan as notice_plan
from notices.models import Usager
from portal import database
from portal.models import Establishment

cli = AppGroup(
    "notices", help="Notices d'information DMP : plan des destinataires, import des usagers du DUI, rendu des notices."
)
SAMPLE_SENDER = rendering.Sender(
    name="EHPAD Les Tilleuls",
    finess="720000001",
    address_lines=("12 rue des Tilleuls",),
    postal_code="72000",
    city="Le Mans",
    phone="02 43 00 00 00",
    email="accueil@tilleuls.example.fr",
)
# Exit status of `portal notices import` when some rows were rejected and the others imported:
# 1 is click's failure (nothing imported) and 2 its usage error.
EXIT_REJECTED_ROWS = 3


@cli.command("plan")
def plan_command() -> None:
    """Read a usager's facts as JSON on stdin (one object or a list) and print the notice plan(s).

    Input: {"birth_date": "YYYY-MM-DD", "today": "YYYY-MM-DD", "protection": "none" | "curatelle" |
    "representation_biens" | "representation_personne", "ins_status": "provisoire" | "recuperee" |
    "validee" | "qualifiee", "email": bool, "postal": bool, "representatives": [{"role": "parent" |
    "tuteur" | "curateur" | "habilite", "email": bool, "postal": bool}]}. "today" defaults to the
    current date in France, "representatives" to none.
    """
    try:
        data = json.load(sys.stdin)
    except json.JSONDecodeError as error:
        raise click.UsageError(f"JSON invalide (ligne {error.lineno}, colonne {error.colno}) : {error.msg}") from None
    today = datetime.now(ZoneInfo("Europe/Paris")).date()
    try:
        if isinstance(data, list):
            result = [_plan(item, today, f"[{i}].") for i, item in enumerate(data)]
        else:
            result = _plan(data, today, "")
    except notice_plan.InvalidFacts as invalid:
        raise click.UsageError(str(invalid)) from None
    click.echo(json.dumps(result, ensure_ascii=False, indent=2))


def _plan(data: object, today, prefix: str) -> dict:
    facts = notice_plan.facts_from_json(data, today, prefix)
    return {"addressees": [addressee.as_json() for addressee in notice_plan.plan(facts)]}


@cli.command("render-sample")
@click.option("--variant", type=click.Choice(notice_plan.VARIANTS), default="usager", show_default=True)
@click.option("--format", "output", type=click.Choice(("pdf", "html", "txt", "eml")), default="pdf", show_default=True)
@click.option(
    "--curator", is_flag=True, help="Le destinataire ne peut pas agir (copie pour information d'un curateur)."
)
def render_sample(variant: str, output: str, curator: bool) -> None:
    """Write a notice with the default text and made-up names to stdout, to check its look:
    `portal notices render-sample --variant parents --format pdf > notice.pdf`."""
    representative = variant in ("representant", "parents")
    content = rendering.NoticeContent(
        sender=SAMPLE_SENDER,
        recipient=rendering.Recipient(
            name="Monsieur Paul BERNARD" if representative else "Madame Louise MARTIN",
            address_lines=("3 rue Haute",)
            if representative
            else ("Résidence Les Tilleuls, chambre 12", "12 rue des Tilleuls"),
            postal_code="72000",
            city="Le Mans",
        ),
        variant=variant,
        usager_name="Louise MARTIN",
        body=texts.default_body(variant),
        link="https://portail.example.fr/o/K7QF-3MZD-9TXA-R2PW",
        reference="N-EXEMPLE-0001",
        issued_on=date.today(),
        may_oppose=not curator,
    )
    if output == "pdf":
        data = letters.render_letter(content)
    elif output == "eml":
        message = rendering.render_email(
            content, from_addr="notices@tilleuls.example.fr", to_addr="destinataire@example.org",
            message_id="<exemple@tilleuls.example.fr>",
        )  # fmt: skip
        data = message.as_bytes()
    else:
        html = rendering.render_html_document(content) if output == "html" else rendering.render_text(content)
        data = html.encode()
    sys.stdout.buffer.write(data)


@cli.command("import")
@click.argument("path", metavar="FICHIER", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--establishment", "finess", required=True, metavar="FINESS", help="FINESS de l'établissement.")
@click.option("--dry-run", is_flag=True, help="Afficher le rapport sans rien enregistrer.")
def import_command(path: Path, finess: str, dry_run: bool) -> None:
    """Import usagers from a DUI export (CSV, or FHIR R4 Bundle of Patient) into an establishment.

    Prints the same report as the import page. Exit status: 0 every row imported (or importable with
    --dry-run); 3 some rows rejected, every other one imported; 1 nothing imported (unreadable file,
    database failure); 2 wrong usage (unknown FINESS, missing file).
    """
    db = database.session()
    establishment = import_service.establishment_by_finess(db, finess)
    if establishment is None:
        raise click.BadParameter(f"aucun établissement n'a le FINESS {finess}.", param_hint="--establishment")
    label = f"{establishment.name} ({establishment.finess})"
    with path.open("rb") as file:
        data = file.read(importer.MAX_BYTES + 1)
    run = import_service.preview if dry_run else import_service.apply
    try:
        report = run(db, None, establishment.id, data)
    except importer.UnreadableFile as unreadable:
        raise click.ClickException(f"fichier refusé, rien n'a été importé : {unreadable}") from None
    except import_service.ImportFailed as failed:
        raise click.ClickException(str(failed)) from None
    _print_report(report, label)
    if report.rejected:
        sys.exit(EXIT_REJECTED_ROWS)


def _print_report(report: import_service.Report, establishment: str) -> None:
    kind = "CSV" if report.format == importer.CSV else "FHIR (Bundle de Patient)"
    delimiter = f", séparateur {importer.DELIMITER_LABELS[report.delimiter]}" if report.delimiter else ""
    click.echo(f"Fichier {kind}, encodage {importer.ENCODING_LABELS[report.encoding]}{delimiter}.")
    click.echo(
        f"{establishment} : usagers dans le fichier {report.rows}, créés {report.created}, "
        f"mis à jour {report.updated}, inchangés {report.unchanged}, rejetés {len(report.rejected)}."
    )
    if not report.applied:
        click.echo("Essai à blanc : rien n'a été enregistré.")
    for warning in report.warnings:
        click.echo(f"Avertissement : {warning}")
    for row in report.rejected:
        for problem in row.problems:
            click.echo(f"Rejeté, {row.where} : {problem.field} : {problem.reason}")


@cli.command("verify")
@click.option("--establishment", "finess", help="FINESS de l'établissement ; par défaut, tous.")
def verify_command(finess: str | None) -> None:
    """Walk the proof chain(s): hashes, links and GnuPG signatures; exit 1 naming the first bad record."""
    db = database.session()
    query = select(Establishment).order_by(Establishment.finess)
    if finess:
        query = query.where(Establishment.finess == finess)
    establishments = db.scalars(query).all()
    if finess and not establishments:
        raise click.UsageError(f"--establishment : aucun établissement n'a le FINESS {finess}.")
    failed = False
    for establishment in establishments:
        count, bad = proof.verify(db, establishment)
        if bad:
            failed = True
            where = f"l'enregistrement n° {bad.sequence} (id {bad.record_id})"
            click.echo(f"{establishment.finess} : ÉCHEC à {where} : {bad.reason}")
        else:
            click.echo(f"{establishment.finess} : {count} enregistrement(s) vérifié(s), chaîne intègre.")
    if failed:
        sys.exit(1)


@cli.command("send-pending")
def send_pending_command() -> None:
    """Send the e-mail notices left prepared (their request ended before sending); print how each went."""
    settings = current_app.config["PORTAL_SETTINGS"]
    for notice in issuing.send_pending(database.session(), settings):
        reason = f" : {notice.failure_reason}" if notice.failure_reason else ""
        click.echo(f"{notice.reference} {notice.status.value}{reason}")


@cli.command("export")
@click.option("--establishment", "finess", required=True, help="FINESS de l'établissement.")
@click.option("--usager", "local_id", required=True, help="Identifiant du dossier usager (celui du DUI).")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def export_command(finess: str, local_id: str, directory: Path) -> None:
    """Write the proof that a usager was informed into DIRECTORY: proof.csv, the notices as given,
    the establishment's public key and a signed manifest (check with `sha256sum -c` and `gpg --verify`)."""
    db = database.session()
    establishment = db.scalar(select(Establishment).where(Establishment.finess == finess))
    if establishment is None:
        raise click.UsageError(f"--establishment : aucun établissement n'a le FINESS {finess}.")
    usager = db.scalar(select(Usager).where(Usager.establishment_id == establishment.id, Usager.local_id == local_id))
    if usager is None:
        raise click.UsageError(f"--usager : aucun usager {local_id} dans l'établissement {finess}.")
    for path in proof.export(db, establishment, usager.id, directory):
        click.echo(path)


@click.command("worker")
def worker_command() -> None:
    """Prepare and send the notices of batches (the outbox) until stopped; several may run at once on PostgreSQL."""
    stop = threading.Event()
    # SIGTERM (systemd, docker stop) ends the loop between two notices; SIGKILL loses nothing either.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    settings = current_app.config["PORTAL_SETTINGS"]
    done = outbox.work(current_app.extensions["database"].sessionmaker, settings, stop=stop)
    click.echo(f"{done} notice(s) traitée(s).")
