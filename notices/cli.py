"""The `portal notices` commands, registered on the app by notices.init_app."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import click
from flask.cli import AppGroup

from notices import plan as notice_plan

cli = AppGroup("notices", help="Notices d'information DMP : plan des destinataires.")


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
