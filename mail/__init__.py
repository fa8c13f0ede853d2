"""The webmail feature: MSSanté mailboxes read and written through IMAP and SMTP."""

from __future__ import annotations

from flask import Flask

from mail import indicators
from mail.cli import cli
from mail.demo import seed_mailboxes
from mail.directory import local_entries
from mail.imap import store_from_settings
from mail.render import FrameCache
from mail.views import bp
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
    settings = app.config["PORTAL_SETTINGS"]
    if settings.imap_host:
        app.extensions["mail.store"] = store_from_settings(settings)
