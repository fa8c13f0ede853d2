"""The `portal notices` commands, registered on the app by notices.init_app."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from zoneinfo import ZoneInfo

import click
from flask.cli import AppGroup

from notices import letters, rendering, texts
from notices import plan as notice_plan

cli = AppGroup("notices", help="Notices d'information DMP : plan des destinataires, rendu des notices.")
SAMPLE_SENDER = rendering.Sender(
    name="EHPAD Les Tilleuls",
    finess="720000001",
    address_lines=("12 rue des Tilleuls",),
    postal_code="72000",
    city="Le Mans",
    phone="02 43 00 00 00",
    email="accueil@tilleuls.example.fr",
)


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
