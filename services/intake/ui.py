"""Staff web UI of the intake service: login, intakes with live referral status, new intake."""
from __future__ import annotations

from datetime import date
from urllib.parse import urlsplit

from flask import (Blueprint, current_app, flash, redirect, render_template, request, session,
                   url_for)
from marshmallow import ValidationError

from services.intake import accounts, queries
from services.intake.api import record
from services.intake.schemas import IntakeInSchema
from shared.auth import current_principal, log_in, log_out, ui_roles
from shared.reference import CONSENT_METHODS, NEEDS, RESIDENCE_STATUSES, SITES
from shared.web import FieldError, field_errors

bp = Blueprint("intake_ui", __name__, template_folder="templates")


def deps():
    return current_app.extensions["lotse"]


@bp.get("/")
def home():
    principal = current_principal()
    if principal is None:
        return redirect(url_for(".login"))
    urls = current_app.jinja_env.globals["service_urls"]
    if principal.role == "partner":
        return redirect(urls["partner_adapter"] + "/partner/cases")
    if principal.role == "operator":
        return redirect(urls["partner_adapter"] + "/ops")
    return redirect(url_for(".intake_list"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        with deps().session_factory() as s:
            principal = accounts.authenticate(s, request.form.get("username", "").strip(),
                                              request.form.get("password", ""))
        if principal is None:
            error = "Unknown user or wrong password."
        else:
            log_in(principal)
            target = request.args.get("next", "")
            return redirect(target if _safe_next(target) else url_for(".home"))
    return render_template("intake/login.html", error=error), 401 if error else 200


def _safe_next(target: str) -> bool:
    """Only our own pages: a local path, or the exact origin of a configured service."""
    if not target or "\\" in target:
        return False
    parsed = urlsplit(target)
    if not parsed.scheme and not parsed.netloc:
        return target.startswith("/") and not target.startswith("//")
    origins = {urlsplit(u)[:2] for u in current_app.jinja_env.globals["service_urls"].values()}
    return (parsed.scheme, parsed.netloc) in origins and not parsed.username


@bp.get("/logout")
def logout():
    log_out()
    return redirect(url_for(".login"))


@bp.get("/intakes")
@ui_roles("staff")
def intake_list():
    page = max(1, request.args.get("page", 1, type=int))
    data = queries.intake_page(deps().session_factory, page, 20)
    template = "intake/_rows.html" if request.headers.get("X-Partial") else "intake/list.html"
    return render_template(template, data=data, page=page)


@bp.get("/intakes/<uuid:intake_id>")
@ui_roles("staff")
def intake_detail(intake_id):
    data = queries.intake_detail(deps().session_factory, str(intake_id))
    if data is None:
        return render_template("error.html", error=_NotFound()), 404
    return render_template("intake/detail.html", intake=data)


def _form_to_payload(form) -> dict:
    languages = [x.strip() for x in form.get("languages", "").replace(";", ",").split(",")
                 if x.strip()]
    return {
        "person": {"given_name": form.get("given_name", ""),
                   "family_name": form.get("family_name", ""),
                   "birth_date": form.get("birth_date", ""),
                   "nationality": form.get("nationality", "").strip().upper(),
                   "languages": languages},
        "residence_status": form.get("residence_status", ""),
        "site": form.get("site", ""),
        "needs": form.getlist("needs"),
        "consent": {"share_with_partners": form.get("share_with_partners") == "yes",
                    "method": form.get("consent_method", ""),
                    "language": form.get("consent_language", "").strip().lower()},
    }


@bp.route("/intakes/new", methods=["GET", "POST"])
@ui_roles("staff")
def intake_new():
    errors: dict = {}
    form = request.form if request.method == "POST" else {}
    if request.method == "POST":
        try:
            data = IntakeInSchema().load(_form_to_payload(request.form))
            intake_id = record(data)
            flash("Intake recorded; referrals are on their way.")
            return redirect(url_for(".intake_detail", intake_id=intake_id))
        except ValidationError as exc:
            errors = exc.messages
        except FieldError as exc:
            errors = field_errors(exc.field, exc.message)
    return render_template("intake/new.html", form=form, errors=errors, needs=NEEDS,
                           statuses=RESIDENCE_STATUSES, sites=SITES, methods=CONSENT_METHODS,
                           today=date.today().isoformat(),
                           last_site=session.get("last_site", "infopoint")), \
        422 if errors else 200


class _NotFound:
    code, name, description = 404, "Not Found", "No intake with this id."
