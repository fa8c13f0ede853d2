"""The annuaire's pages: search as you type, an entry, the recipient autocomplete, the imports."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_login import current_user

from portal import database, patients
from portal.annuaire import service
from portal.annuaire.forms import SearchForm
from portal.htmx import render_page_or_fragment

bp = Blueprint("annuaire", __name__, url_prefix="/annuaire")

PER_PAGE = 20
SUGGESTIONS = 8


@bp.get("/")
def search():
    form = SearchForm(request.args)
    results, has_next = [], False
    query = ""
    if form.validate():
        query = (form.q.data or "").strip()
        number = form.page.data or 1
        filters = {"bal_type": form.bal_type.data, "profession": form.profession.data,
                   "department": form.department.data or ""}  # fmt: skip
        if query or any(filters.values()):
            # One more than a page tells whether there is a next one, without counting them all.
            results = service.search(query, limit=PER_PAGE + 1, offset=(number - 1) * PER_PAGE, **filters)
            results, has_next = results[:PER_PAGE], len(results) > PER_PAGE
    # Said rather than "no match" while no national file was imported yet.
    unloaded = not results and not service.has_entries(database.session())
    return render_page_or_fragment(
        "annuaire/search.html", "annuaire/partials/results.html", form=form, query=query, results=results,
        has_next=has_next, unloaded=unloaded,
    )  # fmt: skip


@bp.get("/<address>")
def entry(address: str):
    # By address, the only key of the national files: a link stays good across imports.
    db = database.session()
    found = service.entry(db, address)
    if found is None:
        abort(404)
    return render_template(
        "annuaire/entry.html", entry=found, addresses=service.addresses(db, found),
        activities=service.activities(db, found),
    )  # fmt: skip


@bp.get("/autocomplete")
def autocomplete():
    """Suggestions for the webmail's recipient field: an htmx fragment of options.

    Usagers come too, by their Mon espace santé address, but only with a qualified INS: no other may be written to.
    """
    query = request.args.get("q", "").strip()[:200]
    entries = service.search(query, limit=SUGGESTIONS) if query else []
    found = patients.search(database.session(), current_user, query) if query else []
    usagers = [patient for patient in found if patient.qualified][:SUGGESTIONS]
    return render_template("annuaire/partials/autocomplete.html", entries=entries, patients=usagers)


@bp.get("/imports")
def imports():
    return render_page_or_fragment(
        "annuaire/imports.html", "annuaire/partials/import_status.html",
        imports=service.imports(database.session(), current_user._get_current_object()),
    )  # fmt: skip
