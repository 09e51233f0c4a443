"""Pages of inbound referrals: staff see the partners' referrals to the centre (a list, a
page each with invite, decline, not reached and "start intake", which opens the intake form
filled in from the referral); a partner's users see the referrals they sent, with status and
appointment in words."""
from __future__ import annotations

import uuid
from datetime import date, time

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext

from services.intake import inbound_store as store
from services.intake.data_protection import note_access
from services.intake.inbound import (OPEN, Appointment, InboundError, InboundReferral,
                                     InboundStatus, TransitionRefused)
from shared import words
from shared.auth import current_principal, ui_roles
from shared.reference import SITES
from shared.web import ui_language

bp = Blueprint("inbound_ui", __name__, template_folder="templates")

STATUS_WORDS = {
    InboundStatus.RECEIVED: lazy_gettext("received, not yet invited"),
    InboundStatus.INVITED: lazy_gettext("invited"),
    InboundStatus.ARRIVED: lazy_gettext("arrived: consultation recorded"),
    InboundStatus.DECLINED: lazy_gettext("declined"),
    InboundStatus.NOT_REACHED: lazy_gettext("not reached"),
}
STATUS_CLASS = {InboundStatus.RECEIVED: "requested", InboundStatus.INVITED: "accepted",
                InboundStatus.ARRIVED: "completed", InboundStatus.DECLINED: "rejected",
                InboundStatus.NOT_REACHED: "on-hold"}


def deps():
    return current_app.extensions["lotse"]


def _status_filter() -> InboundStatus | None:
    try:
        return InboundStatus(request.args["status"]) if request.args.get("status") else None
    except ValueError:
        abort(422, _("There is no such status."))


def _page_words() -> dict:
    return dict(status_words=STATUS_WORDS, status_class=STATUS_CLASS, statuses=InboundStatus)


@bp.get("/inbound-referrals")
@ui_roles("staff")
def staff_list():
    """Partners' referrals to the centre: the open ones first (or those of one status)."""
    status = _status_filter()
    found = store.listing(deps().session_factory, status=status,
                          statuses=() if status else OPEN)
    note_access("listed", "ui", inbound_referral_ids=[r.id for r in found])
    return render_template("intake/inbound_list.html", referrals=found, status=status,
                           **_page_words())


def _staff_readable(referral_id) -> InboundReferral:
    try:
        return store.get(deps().session_factory, str(referral_id))
    except store.InboundNotFound:
        abort(404)


@bp.get("/inbound-referrals/<uuid:referral_id>")
@ui_roles("staff")
def staff_detail(referral_id):
    return _detail_page(_staff_readable(referral_id))


def _detail_page(referral: InboundReferral, errors: dict[str, str] | None = None,
                 status: int = 200) -> ResponseReturnValue:
    note_access("viewed", "ui", inbound_referral_ids=[referral.id])
    p = referral.person
    return render_template(
        "intake/inbound_detail.html", r=referral, p=p, contact=p.get("contact") or {},
        errors=errors or {}, form=request.form if errors else {}, sites=SITES,
        can_move=referral.status in OPEN, **_page_words()), status


def _move(referral_id, status: InboundStatus, done: str, **details) -> ResponseReturnValue:
    try:
        store.move(deps().uow, deps().clock, str(referral_id), status,
                   current_principal().username, seen=request.form.get("seen") or None,
                   **details)
    except store.ChangedMeanwhile:  # as the page showed it, it is no more: look again
        flash(_("Someone changed this referral meanwhile; please try again."))
    except TransitionRefused as exc:
        flash(_("This referral's status is “%(status)s”; it cannot be changed so.",
                status=STATUS_WORDS[exc.status]))
    except InboundError:  # moved by someone else meanwhile, again and again
        flash(_("Someone changed this referral meanwhile; please try again."))
    except store.InboundNotFound:
        abort(404)
    else:
        note_access("changed", "ui", inbound_referral_ids=[str(referral_id)])
        flash(done)
    return redirect(url_for(".staff_detail", referral_id=referral_id), 303)


@bp.post("/inbound-referrals/<uuid:referral_id>/invite")
@ui_roles("staff")
def invite(referral_id):
    """The person is invited: date, time and site of the appointment."""
    errors: dict[str, str] = {}
    day = words.typed_date(request.form.get("date", ""))
    if day is None:
        try:
            day = date.fromisoformat(request.form.get("date", ""))
        except ValueError:
            errors["date"] = _("Please give the date as DD.MM.YYYY.")
    try:
        at = time.fromisoformat(request.form.get("time", ""))
    except ValueError:
        errors["time"] = _("Please give the time as HH:MM.")
    site = request.form.get("site", "")
    if site not in {s.code for s in SITES}:
        errors["site"] = _("Please choose a site from the list.")
    if errors or day is None:
        return _detail_page(_staff_readable(referral_id), errors, 422)
    return _move(referral_id, InboundStatus.INVITED, _("The person is invited."),
                 appointment=Appointment(day, at.replace(second=0, microsecond=0), site))


@bp.post("/inbound-referrals/<uuid:referral_id>/decline")
@ui_roles("staff")
def decline(referral_id):
    reason = request.form.get("reason", "").strip()
    if not reason or len(reason) > 500:
        return _detail_page(_staff_readable(referral_id), {
            "reason": _("Please say in a few words why (at most 500 characters).")}, 422)
    return _move(referral_id, InboundStatus.DECLINED, _("The referral is declined."),
                 reason=reason)


@bp.post("/inbound-referrals/<uuid:referral_id>/not-reached")
@ui_roles("staff")
def not_reached(referral_id):
    return _move(referral_id, InboundStatus.NOT_REACHED,
                 _("The referral is marked as not reached."))


def prefill_from(referral_id: str | None) -> dict[str, str | list[str]]:
    """The intake form's values from an inbound referral ("start intake"): the person, their
    residence status and needs as the sender gave them. Empty for no such open referral."""
    if not referral_id:
        return {}
    try:
        r = store.get(deps().session_factory, str(uuid.UUID(referral_id)))
    except (ValueError, store.InboundNotFound):
        return {}
    if r.status not in OPEN:
        return {}
    note_access("viewed", "ui", inbound_referral_ids=[r.id])
    p, contact = r.person, r.person.get("contact") or {}
    address = contact.get("address") or {}
    values: dict[str, str | list[str]] = dict(
        inbound_referral_id=r.id, given_name=p["given_name"], family_name=p["family_name"],
        birth_date=words.form_date(p["birth_date"]), nationality=p["nationality"],
        languages=", ".join(p["languages"]), nationalities=", ".join(p.get("nationalities", ())),
        preferred_language=p.get("preferred_language") or "",
        interpreter=p.get("interpreter") or "none", phone=contact.get("phone") or "",
        email=contact.get("email") or "", preferred_channel=contact.get("preferred_channel") or "",
        no_fixed_address="yes" if contact.get("no_fixed_address") else "",
        residence_status=r.residence_status, needs=list(r.need_codes))
    if address:
        values.update(street=address["street"], postcode=address["postcode"],
                      city=address["city"], district=address.get("district") or "")
    for n in r.needs:
        values[f"urgency-{n['code']}"] = n.get("urgency", "normal")
        if n.get("note"):
            values[f"note-{n['code']}"] = n["note"]
    if p.get("other_names"):
        values.update(other_given_name=p["other_names"][0]["given_name"],
                      other_family_name=p["other_names"][0]["family_name"])
    for i, m in enumerate(p.get("household", ())):
        values.update({f"hh-{i}-given_name": m["given_name"],
                       f"hh-{i}-family_name": m["family_name"],
                       f"hh-{i}-relation": m["relation"],
                       f"hh-{i}-birth_date": words.form_date(m["birth_date"])})
    return values


def arrived_with(referral_id: str | None, intake_id: str) -> str | None:
    """The intake form was opened from an inbound referral: the person arrived, with this
    consultation. After the intake committed, on its own: a referral closed meanwhile (or
    none) leaves the intake as it is. The referral's id, if linked."""
    if not referral_id:
        return None
    try:
        r = store.move(deps().uow, deps().clock, str(uuid.UUID(referral_id)),
                       InboundStatus.ARRIVED, current_principal().username, intake_id=intake_id)
    except (ValueError, TransitionRefused, InboundError, store.InboundNotFound):
        return None
    note_access("changed", "ui", inbound_referral_ids=[r.id])
    return r.id


@bp.get("/sent-referrals")
@ui_roles("partner")
def partner_list():
    """A partner's users: the persons their partner referred to the centre, with status and
    appointment (the sender hears back)."""
    principal = current_principal()
    if not principal.partner:
        abort(403)
    found = store.listing(deps().session_factory, sender=principal.partner)
    return render_template("intake/inbound_sent.html", referrals=found,
                           partner=words.partner_name(principal.partner, ui_language()),
                           **_page_words())
