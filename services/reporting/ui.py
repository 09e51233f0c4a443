"""The reports dashboard (/reports) for management: placeholder until the dashboard lands."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("reports_ui", __name__, template_folder="templates")
