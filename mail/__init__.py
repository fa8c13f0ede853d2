"""The webmail feature: MSSanté mailboxes read and written through IMAP and SMTP."""

from __future__ import annotations

from flask import Flask, current_app

from mail import indicators, receipts
from mail.cli import cli
from mail.demo import seed_mailboxes
from mail.directory import local_entries
from mail.imap import store_from_settings
from mail.render import FrameCache
from mail.views import bp
from portal import bounces
from portal.annuaire.service import register_local_source
from portal.indicators.figures import register_provider


def init_app(app: Flask) -> None:
    """Wire the webmail into the portal; without an IMAP server configured, its pages say it is off."""
    app.register_blueprint(bp)
    app.cli.add_command(cli)  # portal mail embedded | env | render
    # Features add their part of the demo data; portal.demo.seed calls them in its transaction.
    app.extensions.setdefault("demo_seeders", []).append(seed_mailboxes)
    app.extensions["mail.frames"] = FrameCache()
    # The establishments' mailboxes are found in the annuaire's search, beside the national entries.
    register_local_source(app, local_entries)
    register_provider(app, indicators.tables)
    # The notices read the delivery reports returned to their sender through portal.bounces.
    bounces.register(app, _failures_reported)
    settings = app.config["PORTAL_SETTINGS"]
    if settings.imap_host:
        app.extensions["mail.store"] = store_from_settings(settings)


def _failures_reported(address: str, uidvalidity: int, after_uid: int) -> bounces.Reports | None:
    store = current_app.extensions.get("mail.store")
    return receipts.failures_reported(store, address, uidvalidity, after_uid) if store else None
