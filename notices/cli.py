"""The `portal notices` commands, registered on the app by notices.init_app."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask.cli import AppGroup

from notices import import_service, importer
from notices import plan as notice_plan
from portal import database

cli = AppGroup("notices", help="Notices d'information DMP : plan des destinataires, import des usagers du DUI.")
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
