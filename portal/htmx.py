"""Server-side choice between a whole page and its htmx fragment."""

from __future__ import annotations

from flask import render_template
from htmx_flask import request


def render_page_or_fragment(page_template: str, fragment_template: str, **context):
    """The fragment for an htmx swap, the page otherwise; one URL, two renderings, so Vary says so."""
    # A history restore also comes with HX-Request, but it needs the whole page.
    wants_fragment = request.htmx and not request.htmx.history_restore_request
    return render_template(fragment_template if wants_fragment else page_template, **context), {"Vary": "HX-Request"}
