"""The webmail feature: MSSanté mailboxes read and written through IMAP and SMTP."""

from __future__ import annotations

from flask import Flask

from mail.imap import store_from_settings
from mail.views import bp


def init_app(app: Flask) -> None:
    """Wire the webmail into the portal; without an IMAP server configured, its pages say it is off."""
    app.register_blueprint(bp)
    settings = app.config["PORTAL_SETTINGS"]
    if settings.imap_host:
        app.extensions["mail.store"] = store_from_settings(settings)
