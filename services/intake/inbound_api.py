"""JSON API of inbound referrals (/api/v1/inbound-referrals): a partner user refers a person
to the centre and reads the status of its own; staff list, read and move them on (invite,
decline, not reached, arrived with the intake recorded)."""
from __future__ import annotations

from functools import wraps

from flask import abort, current_app, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from services.intake import inbound_store as store
from services.intake.data_protection import note_access
from services.intake.inbound import (Appointment, AttestedConsent, InboundError,
                                     InboundReferral, InboundStatus, TransitionRefused,
                                     new_referral)
from services.intake.inbound_schemas import (PERSON_IN, ArrivedInSchema, DeclineInSchema,
                                             InboundReferralInSchema, InboundReferralListSchema,
                                             InboundReferralOutSchema, InviteInSchema,
                                             StatusQuerySchema)
from shared.auth import Principal, api_roles, current_principal
from shared.web import FieldError

blp = Blueprint("inbound_referrals", __name__, url_prefix="/api/v1/inbound-referrals",
                description="Referrals of persons to the centre by partners")
STAFF_ONLY = ("intake_id", "person_id")


def deps():
    return current_app.extensions["lotse"]


def is_staff(principal: Principal) -> bool:
    return principal.has("staff")


def referral_body(r: InboundReferral, principal: Principal) -> dict:
    """The referral as its reader may see it: the sender sees what it sent, the status and
    the appointment, not the centre's own record ids."""
    body = {"id": r.id, "status": r.status.value, "sender": r.sender, "sent_by": r.sent_by,
            "person": dict(r.person), "residence_status": r.residence_status,
            "needs": [{"code": n["code"], "urgency": n.get("urgency", "normal"),
                       "note": n.get("note"), "for_member": n.get("for_member")}
                      for n in r.needs],
            "message": r.message, "consent": vars(r.consent),
            "appointment": r.appointment.as_dict() if r.appointment else None,
            "decline_reason": r.decline_reason, "intake_id": r.intake_id,
            "person_id": r.person_id, "created_at": r.created_at, "updated_at": r.updated_at}
    if not is_staff(principal):
        for key in STAFF_ONLY:
            body.pop(key)
    return body


def answering(call, *args, **kwargs):
    """The domain's refusals as HTTP answers: 422 naming the field, 409 for a move the
    status does not allow, 404 for no such referral."""
    try:
        return call(*args, **kwargs)
    except InboundError as exc:
        raise FieldError(exc.field, exc.message) from None
    except TransitionRefused as exc:
        abort(409, str(exc))
    except store.InboundNotFound:
        abort(404, "no inbound referral with this id")


def sending_partner(principal: Principal) -> str:
    """Only a partner's user refers: the referral's sender is their partner."""
    if principal.role != "partner" or not principal.partner:
        abort(403, "only a partner's user refers a person to the centre")
    return principal.partner


def partner_user(view):
    """Guard before the body is read: an administrator (no partner) refers nobody."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        sending_partner(current_principal())
        return view(*args, **kwargs)
    return wrapper


def receive(data: dict, principal: Principal) -> InboundReferral:
    """A partner user's referral as received: the person as the intake's schema dumps one."""
    sender = sending_partner(principal)
    person = PERSON_IN.dump(data["person"])
    for key in ("given_name", "family_name"):
        person[key] = person[key].strip()
    c = data["consent"]
    referral = answering(
        new_referral, sender, principal.username, person, data["residence_status"],
        tuple({k: v for k, v in n.items() if v is not None} for n in data["needs"]),
        AttestedConsent(c["method"], c["language"], c["information_version"]),
        deps().clock(), data.get("message"))
    return store.receive(deps().uow, referral)


def readable(referral_id) -> InboundReferral:
    """The referral if the caller may read it (a partner only its own: others are 404)."""
    principal = current_principal()
    referral = answering(store.get, deps().session_factory, str(referral_id))
    if not is_staff(principal) and referral.sender != principal.partner:
        abort(404, "no inbound referral with this id")
    return referral


@blp.route("")
class InboundReferrals(MethodView):
    @api_roles("partner")
    @partner_user
    @blp.arguments(InboundReferralInSchema)
    @blp.response(201, InboundReferralOutSchema)
    @blp.alt_response(422, description="Invalid input or no consent; `errors.json` names "
                                        "each field")
    def post(self, data):
        """Refer a person to the centre (a partner's user): the person, their residence
        status and needs, and the person's consent to passing these data to the centre."""
        referral = receive(data, current_principal())
        return referral_body(referral, current_principal()), {
            "Location": url_for("inbound_referrals.InboundReferralById",
                                referral_id=referral.id)}

    @api_roles("staff", "partner")
    @blp.arguments(StatusQuerySchema, location="query")
    @blp.response(200, InboundReferralListSchema)
    def get(self, query):
        """Staff: every inbound referral (optionally of one status), newest first. A
        partner's user: its partner's own."""
        principal = current_principal()
        status = InboundStatus(query["status"]) if query["status"] else None
        sender = None if is_staff(principal) else principal.partner or "-"
        found = store.listing(deps().session_factory, status=status, sender=sender)
        if is_staff(principal):
            note_access("listed", "api", inbound_referral_ids=[r.id for r in found])
        return {"items": [referral_body(r, principal) for r in found]}


@blp.route("/<uuid:referral_id>")
class InboundReferralById(MethodView):
    @api_roles("staff", "partner")
    @blp.response(200, InboundReferralOutSchema)
    def get(self, referral_id):
        """One inbound referral with its status and appointment."""
        referral = readable(referral_id)
        if is_staff(current_principal()):
            note_access("viewed", "api", inbound_referral_ids=[referral.id])
        return referral_body(referral, current_principal())


def moved(referral_id, status: InboundStatus, **details) -> dict:
    """Shared by the API and the staff pages: the move, logged as a change."""
    d = deps()
    referral = answering(store.move, d.uow, d.clock, str(referral_id), status,
                         current_principal().username, **details)
    note_access("changed", "api", inbound_referral_ids=[referral.id])
    return referral_body(referral, current_principal())


@blp.route("/<uuid:referral_id>/invite")
class Invite(MethodView):
    @api_roles("staff")
    @blp.arguments(InviteInSchema)
    @blp.response(200, InboundReferralOutSchema)
    @blp.alt_response(409, description="Arrived or declined already")
    def post(self, data, referral_id):
        """Invite the person: an appointment (date, time HH:MM, site)."""
        appointment = answering(Appointment, data["date"], data["time"], data["site"])
        return moved(referral_id, InboundStatus.INVITED, appointment=appointment)


@blp.route("/<uuid:referral_id>/decline")
class Decline(MethodView):
    @api_roles("staff")
    @blp.arguments(DeclineInSchema)
    @blp.response(200, InboundReferralOutSchema)
    @blp.alt_response(409, description="Arrived or declined already")
    def post(self, data, referral_id):
        """The centre declines the referral; the reason in words goes back to the sender."""
        return moved(referral_id, InboundStatus.DECLINED, reason=data["reason"])


@blp.route("/<uuid:referral_id>/not-reached")
class NotReached(MethodView):
    @api_roles("staff")
    @blp.response(200, InboundReferralOutSchema)
    @blp.alt_response(409, description="Not open (or marked not reached already)")
    def post(self, referral_id):
        """The person could not be reached."""
        return moved(referral_id, InboundStatus.NOT_REACHED)


@blp.route("/<uuid:referral_id>/arrived")
class Arrived(MethodView):
    @api_roles("staff")
    @blp.arguments(ArrivedInSchema)
    @blp.response(200, InboundReferralOutSchema)
    @blp.alt_response(409, description="Arrived or declined already")
    def post(self, data, referral_id):
        """The person came: `intake_id` names the intake recorded for them (the staff
        page's 'start intake' records it and links it itself)."""
        return moved(referral_id, InboundStatus.ARRIVED, intake_id=str(data["intake_id"]))
