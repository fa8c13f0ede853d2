"""The information-notice feature: usagers, DMP notices, opposition links and their proof."""

from __future__ import annotations

from flask import Flask

from notices import (
    import_drafts,
    import_views,  # noqa: F401  (importing it adds the import pages to the blueprint)
    proof,
)
from notices.cli import cli
from notices.public import bp as public_bp
from notices.views import bp


def init_app(app: Flask) -> None:
    """Wire the feature's pages and its `portal notices` commands into the portal."""
    import_drafts.init_app(app)
    app.register_blueprint(bp)
    app.register_blueprint(public_bp)
    app.cli.add_command(cli)
    proof.init_app(app, app.config["PORTAL_SETTINGS"])
