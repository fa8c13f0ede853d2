"""Home page."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

bp = Blueprint("home", __name__)


@bp.get("/")
def home():
    return render_template("home/home.html", user=current_user)
