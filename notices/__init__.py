"""The information-notice feature: usagers, DMP notices, opposition links and their proof."""

from __future__ import annotations

from flask import Flask

from notices import (
    batch_views,  # noqa: F401  (importing it adds the batch pages to the blueprint)
    demo,
    dui_client_views,  # noqa: F401  (importing it adds the DUI clients' pages to the blueprint)
    import_drafts,
    import_views,  # noqa: F401  (importing it adds the import pages to the blueprint)
    indicators,
    outbox,
    proof,
)
from notices.api import bp as api_bp
from notices.cli import cli, worker_command
from notices.patients import UsagerDirectory
from notices.public import bp as public_bp
from notices.views import bp
from portal import patients
from portal.indicators.figures import register_provider


def init_app(app: Flask) -> None:
    """Wire the feature's pages and its `portal notices` commands into the portal."""
    import_drafts.init_app(app)
    app.register_blueprint(bp)
    app.register_blueprint(public_bp)
    app.register_blueprint(api_bp)
    app.cli.add_command(cli)
    app.cli.add_command(worker_command)  # portal worker
    register_provider(app, indicators.tables)
    proof.init_app(app, app.config["PORTAL_SETTINGS"])
    app.extensions.setdefault("demo_seeders", []).append(demo.seed_usagers)
    # The webmail writes to patients and attaches their documents through portal.patients.
    patients.register(app, UsagerDirectory())
    if app.config["PORTAL_SETTINGS"].embedded_worker:
        outbox.start_embedded(app)
