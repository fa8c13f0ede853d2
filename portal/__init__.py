"""The portal shell: application factory."""

from __future__ import annotations

from flask import Flask
from flask_babel import Babel, get_locale
from htmx_flask import Htmx

from portal import errors, sealing, security
from portal.admin.views import bp as admin_bp
from portal.annuaire.views import bp as annuaire_bp
from portal.audit.views import bp as audit_bp
from portal.auth import guard, psc
from portal.auth.views import bp as auth_bp
from portal.database import Database
from portal.home.views import bp as home_bp
from portal.i18n import bp as i18n_bp
from portal.i18n import file_size, select_locale
from portal.indicators.views import bp as indicators_bp
from portal.models import Role
from portal.settings import ROOT, Settings


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings()
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(settings.instance_path),
    )
    # The embedded database, keys and sessions live there: the portal's own user alone may enter.
    settings.instance_path.mkdir(mode=0o700, parents=True, exist_ok=True)
    app.config["PORTAL_SETTINGS"] = settings
    app.config["TESTING"] = settings.env == "test"

    Database(settings.resolved_database_url()).init_app(app)
    sealing.init_app(app, settings)
    security.init_app(app, settings)
    Htmx(app)
    Babel(
        app,
        locale_selector=select_locale,
        default_timezone="Europe/Paris",
        default_translation_directories=str(ROOT / "portal" / "translations"),
    )
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.globals.update(Role=Role, get_locale=get_locale)
    app.jinja_env.filters["file_size"] = file_size
    errors.init_app(app)
    guard.init_app(app)
    psc.init_app(app, settings)
    for blueprint in (auth_bp, home_bp, admin_bp, audit_bp, annuaire_bp, i18n_bp, indicators_bp):
        app.register_blueprint(blueprint)

    # Features are imported here only: portal never depends on them elsewhere.
    import mail
    import notices

    mail.init_app(app)
    notices.init_app(app)
    return app

