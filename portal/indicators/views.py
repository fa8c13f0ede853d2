"""The indicators page of an establishment: tables and their charts, CSV export, refresh of the cached mail figures."""

from __future__ import annotations

from datetime import date, datetime

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date, format_decimal
from flask_babel import gettext as _
from flask_login import current_user

from portal import database
from portal.indicators import charts, export, figures, service
from portal.indicators.figures import PARIS
from portal.models import Establishment, User

bp = Blueprint("indicators", __name__, url_prefix="/indicateurs")
PERIODS = (3, 6, 12, 24)  # months offered by the period selector
DEFAULT_PERIOD = 12


def _actor() -> User:
    return current_user._get_current_object()


def month_label(month: date) -> str:
    return format_date(month, "MMM yyyy")


def month_name(month: date) -> str:
    return format_date(month, "MMM")


@bp.app_template_filter()
def indicator_cell(value) -> str:
    if isinstance(value, date):
        return month_label(value)
    if isinstance(value, float):
        return format_decimal(value, "0.0")
    return format_decimal(value) if isinstance(value, int) else str(value)


@bp.get("/")
def index():
    establishments = service.establishments(_actor())
    if len(establishments) == 1:
        return redirect(url_for("indicators.establishment", establishment_id=establishments[0].id))
    return render_template("indicators/index.html", establishments=establishments)


@bp.get("/<int:establishment_id>")
def establishment(establishment_id: int):
    target = _establishment_or_404(establishment_id)
    months = _months()
    tables = figures.tables(database.session(), _actor(), target, _period(months), refresh=False)
    return render_template(
        "indicators/establishment.html",
        establishment=target,
        tables=tables,
        charts={t.key: charts.bar_chart(t, month_label, month_name) for t in tables if t.monthly and t.rows},
        months=months,
        periods=PERIODS,
    )


@bp.post("/<int:establishment_id>/refresh")
def refresh(establishment_id: int):
    target = _establishment_or_404(establishment_id)
    months = _months()
    figures.tables(database.session(), _actor(), target, _period(months), refresh=True)
    flash(_("Les chiffres de la messagerie sont recalculés."), "success")
    return redirect(url_for("indicators.establishment", establishment_id=target.id, mois=months))


@bp.get("/<int:establishment_id>/<key>.csv")
def table_csv(establishment_id: int, key: str):
    target = _establishment_or_404(establishment_id)
    db = database.session()
    tables = figures.tables(db, _actor(), target, _period(_months()), refresh=False)
    table = next((t for t in tables if t.key == key), None) or abort(404)
    service.record_export(db, _actor(), target, key)
    return Response(
        export.csv_bytes(table),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="indicateurs-{target.finess}-{key}.csv"'},
    )


def _establishment_or_404(establishment_id: int) -> Establishment:
    return service.get_establishment(_actor(), establishment_id) or abort(404)


def _months() -> int:
    months = request.values.get("mois", DEFAULT_PERIOD, type=int)
    return months if months in PERIODS else DEFAULT_PERIOD


def _period(months: int) -> figures.Period:
    return figures.last_months(months, datetime.now(PARIS).date())
