"""Erasure (Art. 17) entry points of the intake service: an admin erases a person (API and
the person page); staff see how far the erasure got (each service, partner notices)."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import Blueprint as ApiBlueprint
from marshmallow import RAISE, Schema, fields, validate

from services.intake import erasure
from services.intake.data_protection import LOTSE_SERVICES, note_access
from shared.auth import api_roles, current_principal, ui_roles

bp = Blueprint("erasure_ui", __name__, template_folder="templates")
blp = ApiBlueprint("erasure", __name__, url_prefix="/api/v1/persons",
                   description="Erasing a person's data everywhere (Art. 17 GDPR)")


def deps():
    return current_app.extensions["lotse"]


class ErasureInSchema(Schema):
    class Meta:
        unknown = RAISE

    reason = fields.String(required=True, validate=validate.Length(min=3, max=500), metadata={
        "description": "why (e.g. the person's request of a date); no personal data"})


class ConfirmationSchema(Schema):
    service = fields.String()
    confirmed_at = fields.AwareDateTime()


class ErasureOutSchema(Schema):
    id = fields.String(metadata={"description": "the erasure request"})
    person_id = fields.String()
    requested_by = fields.String()
    reason = fields.String()
    requested_at = fields.AwareDateTime()
    completed_at = fields.AwareDateTime(allow_none=True, metadata={
        "description": "when the last service confirmed; null: still in progress"})
    status = fields.String(validate=validate.OneOf(("in_progress", "completed")))
    confirmations = fields.List(fields.Nested(ConfirmationSchema))
    pending = fields.List(fields.String(), metadata={"description": "services yet to confirm"})
    partners_notified = fields.List(fields.String(), metadata={
        "description": "partners an erasure notice was queued for (sent by the partner adapter)"})


def as_dict(r: erasure.ErasureRequest) -> dict:
    return {"id": r.id, "person_id": r.person_id, "requested_by": r.requested_by,
            "reason": r.reason, "requested_at": r.requested_at, "completed_at": r.completed_at,
            "status": "completed" if r.completed_at else "in_progress",
            "confirmations": [{"service": s, "confirmed_at": c["confirmed_at"]}
                              for s, c in sorted(r.confirmations.items(),
                                                 key=lambda i: i[1]["confirmed_at"])],
            "pending": r.pending, "partners_notified": r.partners_notified}


def _erase(person_id, reason: str) -> erasure.ErasureRequest:
    """404 unknown person, 409 erased before."""
    d = deps()
    try:
        result = erasure.erase_person(d.uow(), str(person_id),
                                      requested_by=current_principal().username, reason=reason,
                                      now=d.clock())
    except erasure.AlreadyErased:
        abort(409, _("This person's data was erased already."))
    except LookupError:
        abort(404, _("There is no person with this id."))
    note_access("erased", "api" if request.path.startswith("/api/") else "ui",
                person_ids=[result.person_id])
    return result


def _status(person_id) -> erasure.ErasureRequest | None:
    with deps().session_factory() as s:
        return erasure.request_for(s, str(person_id))


@blp.route("/<uuid:person_id>/erasure")
class PersonErasure(MethodView):
    @api_roles("admin")
    @blp.arguments(ErasureInSchema)
    @blp.response(202, ErasureOutSchema)
    @blp.alt_response(404, description="No person with this id")
    @blp.alt_response(409, description="The person's data was erased already")
    def post(self, data, person_id):
        """Erase the person in every service; partners that received data are notified.

        Answers at once: the other services confirm within seconds (see GET)."""
        return as_dict(_erase(person_id, data["reason"]))

    @api_roles("staff")
    @blp.response(200, ErasureOutSchema)
    @blp.alt_response(404, description="No erasure of this person")
    def get(self, person_id):
        """How far the erasure of this person got: each service's confirmation."""
        found = _status(person_id)
        if found is None:
            abort(404, "no erasure of this person")
        return as_dict(found)


@bp.get("/persons/<uuid:person_id>/erasure")
@ui_roles("staff")
def erasure_page(person_id):
    """The erasure's status; for an admin, the form to erase a person not yet erased."""
    found = _status(person_id)
    return render_template("intake/erasure.html", person_id=person_id,
                           r=as_dict(found) if found else None,
                           services=found.confirming if found else erasure.CONFIRMING_SERVICES,
                           service_words=LOTSE_SERVICES,
                           may_erase=current_principal().role == "admin")


@bp.post("/persons/<uuid:person_id>/erasure")
@ui_roles("admin")
def erase(person_id):
    reason = (request.form.get("reason") or "").strip()
    if request.form.get("confirm") != "yes" or len(reason) < 3:
        flash(_("Not erased: tick the confirmation and give a reason."))
        return redirect(url_for(".erasure_page", person_id=person_id))
    _erase(person_id, reason[:500])
    flash(_("The person's data is being erased in every service; partners are notified."))
    return redirect(url_for(".erasure_page", person_id=person_id))
