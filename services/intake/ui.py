"""Staff web UI of the intake service: login, intakes with live referral status, new intake."""
from __future__ import annotations

from datetime import date
from urllib.parse import urlsplit
from uuid import UUID

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request,
                   session, url_for)
from flask_babel import gettext as _
from marshmallow import ValidationError

from services.intake import accounts, handlers, inbound_store, queries, repository
from services.intake.api import _consent, record
from services.intake.api import add_facts as api_add_facts
from services.intake.data_protection import note_access, note_listed_intakes
from services.intake.domain import IntakeError
from services.intake.intake_form import (HOUSEHOLD_ROWS, MAX_HOUSEHOLD, at_form_rows,
                                         consent_errors, error_summary, flatten_errors,
                                         form_message, form_to_payload, picker_errors,
                                         picker_values, typed_iso_date, unconsented,
                                         with_picker_errors)
from services.intake.schemas import (INTAKE_IN, MAX_PAGE, IntakeFactsInSchema, PageQuerySchema,
                                     PartnerConsentSchema)
from services.intake.token_api import end_credential, password_login, retry_after
from services.intake.inbound_ui import arrived_with, prefill_from
from services.intake.walk_in_ui import serve_with
from shared.auth import current_principal, log_in, log_out, ui_roles
from shared.clock import CITY_TIME, utcnow
from shared.config import PARTNERS
from shared.reference import (CONSENT_METHODS, DISTRICTS, HOME_CITY, NEEDS, POSTCODE_DISTRICTS,
                              RESIDENCE_PURPOSES, RESIDENCE_STATUSES, SITES)
from shared import words
from shared.web import FieldError, ui_language

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
        return redirect(urls["ops"] + "/ops")
    if principal.role == "management":
        return redirect(urls["reporting"] + "/reports")
    return redirect(url_for(".intake_list"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        try:
            principal = password_login(request.form.get("username", "").strip(),
                                       request.form.get("password", ""))
        except accounts.LoginThrottled as exc:
            wait = retry_after(exc)
            error = _("Too many failed logins: try again in %(minutes)s minutes.",
                      minutes=wait // 60 + 1)
            return render_template("intake/login.html", error=error), 429, {
                "Retry-After": str(wait)}
        if principal is None:
            error = _("Unknown user or wrong password.")
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


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """Only a POST with the form's CSRF token logs out: a GET (a link or an image on another
    site) just shows the button."""
    if request.method == "GET":
        if current_principal() is None:
            return redirect(url_for(".login"))
        return render_template("intake/logout.html")
    end_credential()  # the session cookie is revoked too, should a copy of it survive
    log_out()
    return redirect(url_for(".login"))


@bp.get("/intakes")
@ui_roles("staff")
def intake_list():
    page = _page_number()
    data = queries.intake_page(deps().session_factory, page, 20)
    refresh = bool(request.headers.get("X-Partial"))  # the open page's 3-second refresh
    note_listed_intakes([i["id"] for i in data["items"]], refresh=refresh)
    if refresh:
        return render_template("intake/_rows.html", data=data, page=page)
    return render_template("intake/list.html", data=data, page=page,
                           inbound_waiting=inbound_store.count_waiting(deps().session_factory))


def _page_number() -> int:
    """?page= within the API's bounds; anything else is refused naming the parameter (a huge
    number would overflow the database's offset)."""
    try:
        return PageQuerySchema(only=("page",)).load(
            {"page": request.args["page"]} if "page" in request.args else {})["page"]
    except ValidationError:
        abort(422, _("The parameter page must be a whole number from 1 to %(last)s.",
                     last=MAX_PAGE))


@bp.get("/intakes/<uuid:intake_id>")
@ui_roles("staff")
def intake_detail(intake_id):
    data = queries.intake_detail(deps().session_factory, str(intake_id))
    if data is None:
        return render_template("error.html", error=_NotFound()), 404
    note_access("viewed", "ui", intake_ids=[intake_id])
    return render_template("intake/detail.html", intake=data, purposes=RESIDENCE_PURPOSES,
                           today=utcnow().astimezone(CITY_TIME).date().isoformat())


@bp.route("/intakes/new", methods=["GET", "POST"])
@ui_roles("staff")
def intake_new():
    """The counter form: a new person, or a new visit of a returning one (?person_id=)."""
    errors: dict[str, str] = {}
    form = request.form if request.method == "POST" else _prefill(
        request.args.get("person_id"), request.args.get("inbound_referral_id"))
    if request.method == "POST":
        try:
            data = INTAKE_IN.load(form_to_payload(request.form))
            if unconsented(request.form) and not _has_consent(request.form.get("person_id")):
                # asked first: referrals would wait for a consent
                errors = {"consent": _("No consent to share data is recorded: referrals to "
                                       "partners that need one will wait. Record the "
                                       "consent, or confirm saving without it.")}
            elif not picker_errors(request.form):  # a country or language typed is unknown
                intake = record(data, "ui")
                serve_with(request.form.get("ticket_id"), str(intake.id))  # from the queue
                # from a partner's referral to the centre: the person arrived
                arrived_with(request.form.get("inbound_referral_id"), str(intake.id))
                session["last_site"] = data["site"]
                flash(_("Intake %(ref)s recorded; referrals are on their way.",
                        ref=intake.reference))
                return redirect(url_for(".person_page", person_id=intake.person_id))
        except ValidationError as exc:
            errors = flatten_errors(exc.messages, translate=form_message)
        except FieldError as exc:
            errors = {exc.field: _(exc.message)}
        errors = with_picker_errors(at_form_rows(errors, request.form), request.form)
    return render_template(
        "intake/new.html", form=form, errors=errors, consent_error=consent_errors(errors),
        error_summary=error_summary(errors, form, ui_language()),
        countries=words.picker_options("country", ui_language()),
        country_names=words.names("country", ui_language()),
        languages=words.picker_options("language", ui_language()),
        needs=NEEDS, needs_labels={n.code: n.label(ui_language()) for n in NEEDS},
        statuses=RESIDENCE_STATUSES, purposes=RESIDENCE_PURPOSES, sites=SITES,
        methods=CONSENT_METHODS, partners=PARTNERS, home_city=HOME_CITY,
        rows=range(_household_rows(form)), today=date.today().isoformat(),
        districts=DISTRICTS, postcode_districts=POSTCODE_DISTRICTS,
        last_site=session.get("last_site", "infopoint")), 422 if errors else 200


def _has_consent(person_id: str | None) -> bool:
    """A returning visitor with a consent in force: the new needs may rely on it."""
    if not person_id:
        return False
    try:
        UUID(person_id)
    except ValueError:
        return False
    with deps().session_factory() as session:
        return any(c.valid for _, c in repository.consents_of(session, person_id))


def _household_rows(form) -> int:
    """Six rows, or as many as a returning visitor's household needs (up to the API's limit)."""
    filled = [i for i in range(MAX_HOUSEHOLD) if form.get(f"hh-{i}-given_name")]
    return max(HOUSEHOLD_ROWS, (filled[-1] + 2) if filled else 0)


class _Prefill(dict):
    """A returning visitor's known details as form values (MultiDict-like for the template)."""

    def getlist(self, name: str) -> list:
        value = self.get(name)
        return value if isinstance(value, list) else ([] if value is None else [value])


def _prefill(person_id: str | None, inbound_referral_id: str | None = None) -> _Prefill:
    if not person_id:
        values = _Prefill(prefill_from(inbound_referral_id))  # a partner's referral, or none
        values.update(picker_values(values, ui_language()))
        return values
    detail = queries.person_detail(deps().session_factory, person_id)
    if detail is None:
        return _Prefill()
    note_access("viewed", "ui", person_ids=[detail["id"]])
    p = detail["person"]
    values = _Prefill(person_id=str(detail["id"]), given_name=p.given_name,
                      family_name=p.family_name, birth_date=words.form_date(p.birth_date),
                      nationality=p.nationality, languages=", ".join(p.languages),
                      nationalities=", ".join(p.nationalities),
                      preferred_language=p.preferred_language or "",
                      interpreter=p.interpreter, phone=p.contact.phone or "",
                      email=p.contact.email or "",
                      preferred_channel=p.contact.preferred_channel or "",
                      no_fixed_address="yes" if p.contact.no_fixed_address else "")
    if p.contact.address:
        values.update(street=p.contact.address.street, postcode=p.contact.address.postcode,
                      city=p.contact.address.city, district=p.contact.address.district or "")
    typed = (request.args.get("other_given_name"), request.args.get("other_family_name"))
    if all(typed):  # the spelling staff typed before choosing this record
        values.update(other_given_name=typed[0], other_family_name=typed[1])
    elif p.other_names:
        values.update(other_given_name=p.other_names[0].given_name,
                      other_family_name=p.other_names[0].family_name)
    for i, m in enumerate(p.household[:MAX_HOUSEHOLD]):
        values.update({f"hh-{i}-given_name": m.given_name, f"hh-{i}-family_name": m.family_name,
                       f"hh-{i}-relation": m.relation,
                       f"hh-{i}-birth_date": words.form_date(m.birth_date)})
    if detail["consultations"]:
        last = detail["consultations"][0]
        values.update(residence_status=last["residence_status"])
    values.update(picker_values(values, ui_language()))  # countries, languages by name
    return values


@bp.get("/persons")
@ui_roles("staff")
def person_search():
    """Search by name (any script), date of birth or reference number."""
    q = request.args.get("q", "").strip()
    found = queries.search(deps().session_factory, q) if len(q) >= 2 else []
    note_access("listed", "ui", person_ids=[f["id"] for f in found])
    return render_template("intake/search.html", q=q, found=found)


ENDED_REFERRAL_STATUSES = ("cancelled", "rejected", "failed", "entered-in-error")


@bp.get("/persons/<uuid:person_id>/registration-form/<uuid:referral_id>")
@ui_roles("staff")
def registration_form(person_id, referral_id):
    """The registration form pre-filled from the record, to print and bring along: the
    registration office needs the person in person, with the documents it lists."""
    detail = queries.person_detail(deps().session_factory, str(person_id))
    booked = [r for c in (detail or {}).get("consultations", []) for r in c["referrals"]
              if r["referral_id"] == referral_id and r["appointment"]
              and r["status"] not in ENDED_REFERRAL_STATUSES]
    if not booked:
        return render_template("error.html", error=_NotFound()), 404
    note_access("exported", "ui", person_ids=[person_id])
    return render_template("intake/registration_form.html", d=detail, p=detail["person"],
                           appointment=booked[0]["appointment"],
                           today=utcnow().astimezone(CITY_TIME).date())


@bp.get("/persons/<uuid:person_id>")
@ui_roles("staff")
def person_page(person_id):
    """The person with the timeline of consultations, referrals and consents."""
    detail = queries.person_detail(deps().session_factory, str(person_id))
    if detail is None:
        return render_template("error.html", error=_NotFound()), 404
    if detail["merged_into"]:
        flash(_("This record was merged; showing the record it was merged into."))
        return redirect(url_for(".person_page", person_id=detail["merged_into"]))
    p = detail["person"]
    duplicates = [m for m in queries.find_matches(deps().session_factory, p.given_name,
                                                  p.family_name, p.birth_date)
                  if m["person"]["id"] != detail["id"]]
    note_access("viewed", "ui", person_ids=[detail["id"]])
    return render_template("intake/person.html", d=detail, p=p, duplicates=duplicates,
                           partners=PARTNERS, methods=CONSENT_METHODS,
                           districts={d.code: d for d in DISTRICTS},
                           **_referral_rows(detail))


def _referral_rows(detail: dict) -> dict:
    waiting = queries.on_the_way(detail["consultations"], deps().clock())
    return {"on_the_way": waiting, "settling": queries.settling(detail["consultations"],
                                                                 waiting)}


@bp.get("/persons/<uuid:person_id>/referrals")
@ui_roles("staff")
def person_referrals(person_id):
    """The person page's referral rows, fetched again by the page while they settle (the
    page's view was logged: the rows are part of it)."""
    detail = queries.person_detail(deps().session_factory, str(person_id))
    if detail is None or detail["merged_into"]:
        return render_template("error.html", error=_NotFound()), 404
    return render_template("intake/_referral_rows.html", d=detail, **_referral_rows(detail))


@bp.post("/persons/<uuid:person_id>/consents/<uuid:consent_id>/withdraw")
@ui_roles("staff")
def withdraw(person_id, consent_id):
    d = deps()
    try:
        handlers.withdraw_consent(consent_id, current_principal().username,
                                  request.form.get("reason") or None, d.uow(), d.clock,
                                  person_id=person_id)
    except LookupError:
        abort(404, _("There is no consent with this id."))
    except IntakeError as exc:  # withdrawn before
        flash(_("Not withdrawn:") + f" {_(exc.message)}")
        return redirect(url_for(".person_page", person_id=person_id))
    note_access("consent_withdrawn", "ui", person_ids=[person_id])
    flash(_("Consent withdrawn; referrals relying on it are being cancelled."))
    return redirect(url_for(".person_page", person_id=person_id))


@bp.post("/intakes/<uuid:intake_id>/facts")
@ui_roles("staff")
def add_facts(intake_id):
    """The facts a held referral waits for, recorded from the intake's page."""
    form = request.form
    try:
        facts = IntakeFactsInSchema().load({
            "residence": {"first_issue_date": typed_iso_date(form, "first_issue_date") or None,
                          "purpose": form.get("residence_purpose") or None},
            "arrival_date": typed_iso_date(form, "arrival_date") or None})
        api_add_facts(intake_id, facts, "ui")
        flash(_("Facts recorded; referrals waiting for them are routed again."))
    except ValidationError as exc:
        flash(_("Facts not recorded:") + " " + "; ".join(
            f"{_field_word(k)}: {v}"
            for k, v in flatten_errors(exc.messages, translate=form_message).items()))
    except FieldError as exc:
        flash(_("Facts not recorded:") + f" {_field_word(exc.field)}: {_(exc.message)}")
    return redirect(url_for(".intake_detail", intake_id=intake_id))


def _field_word(field: str) -> str:
    """A field of the facts or consent form as its label names it."""
    labels = {"residence.first_issue_date": _("First issued"),
              "residence.purpose": _("Purpose of stay"), "arrival_date": _("Arrival in Germany"),
              "partner": _("Add consent for"), "method": _("Given by"),
              "language": _("Text language")}
    return labels.get(field, field)


@bp.post("/persons/<uuid:person_id>/consents")
@ui_roles("staff")
def give_consent(person_id):
    d = deps()
    try:
        data = PartnerConsentSchema().load({
            "partner": request.form.get("partner", ""),
            "method": request.form.get("method", ""),
            "language": request.form.get("language", "").strip().lower()})
        handlers.give_consent(person_id, _consent(data), current_principal().username,
                              d.uow(), d.clock)
        note_access("consent_given", "ui", person_ids=[person_id])
        flash(_("Consent recorded; waiting referrals to this partner may leave now."))
    except ValidationError as exc:
        flash(_("Consent not recorded:") + " " + "; ".join(
            f"{_field_word(k)}: {v}"
            for k, v in flatten_errors(exc.messages, translate=form_message).items()))
    return redirect(url_for(".person_page", person_id=person_id))


@bp.post("/persons/<uuid:person_id>/merge")
@ui_roles("staff")
def merge(person_id):
    d = deps()
    try:
        result = handlers.merge_persons(person_id, UUID(request.form["duplicate_id"]),
                                        current_principal().username,
                                        request.form.get("reason") or None, d.uow(), d.clock)
        note_access("merged", "ui", person_ids=[person_id, request.form["duplicate_id"]])
        flash(_("Records merged (merge %(id)s); it can be undone below.", id=result.merge_id[:8]))
    except IntakeError as exc:
        flash(_("Not merged:") + f" {_(exc.message)}")
    except (ValueError, KeyError):  # no or no valid duplicate_id
        flash(_("Not merged:") + " " + _("choose the record to merge with."))
    return redirect(url_for(".person_page", person_id=person_id))


@bp.post("/merges/<merge_id>/undo")
@ui_roles("staff")
def undo(merge_id):
    d = deps()
    back = request.form.get("back", "")
    try:
        handlers.undo_merge(merge_id, current_principal().username, d.uow(), d.clock)
    except LookupError:
        abort(404, _("There is no merge with this id."))
    except IntakeError as exc:  # undone before
        flash(_("Not undone:") + f" {_(exc.message)}")
        return redirect(back if _safe_next(back) else url_for(".intake_list"))
    with d.session_factory() as s:
        merge = repository.get_merge(s, merge_id)
    note_access("unmerged", "ui", person_ids=[merge.survivor_id, merge.merged_id])
    flash(_("Merge undone."))
    return redirect(back if _safe_next(back) else url_for(".intake_list"))


class _NotFound:
    code, name, description = 404, "Not Found", "No such record."
