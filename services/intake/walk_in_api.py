"""JSON API of the walk-in queue (/api/v1/queue): draw a ticket, the waiting list, call,
served, no-show. For staff (reception draws for visitors; the kiosk page draws too)."""
from __future__ import annotations

from datetime import datetime

from flask import abort, current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from services.intake import walk_in_store as store
from services.intake.walk_in import QueueError, Ticket, TicketStatus, TransitionRefused
from services.intake.walk_in_schemas import (CallNextInSchema, DrawInSchema, QueueOutSchema,
                                             ServedInSchema, SiteQuerySchema, TicketOutSchema)
from shared.auth import api_roles, current_principal
from shared.web import FieldError

blp = Blueprint("queue", __name__, url_prefix="/api/v1/queue",
                description="The walk-in queue: tickets per site, called by language")


def deps():
    return current_app.extensions["lotse"]


def ticket_body(t: Ticket, now: datetime) -> dict:
    return {"id": t.id, "number": t.number, "site": t.site, "language": t.language,
            "topic": t.topic, "status": t.status.value, "drawn_at": t.drawn_at,
            "called_at": t.called_at, "called_by": t.called_by, "closed_at": t.closed_at,
            "waiting_minutes": t.waiting_minutes(now),
            "interpreter_needed": t.interpreter_needed, "intake_id": t.intake_id}


def queue_body(site: str) -> dict:
    d = deps()
    now = d.clock()
    tickets = store.open_tickets(d.session_factory, site, store.city_day(now))
    return {"site": site, "items": [ticket_body(t, now) for t in tickets]}


def answering(call, *args):
    """The store's refusals as HTTP answers: 422 naming the field, 409 for a move the
    ticket's status does not allow, 404 for no such ticket."""
    try:
        return call(*args)
    except QueueError as exc:
        raise FieldError(exc.field, exc.message) from None
    except TransitionRefused as exc:
        abort(409, str(exc))
    except store.TicketNotFound:
        abort(404, "no ticket with this id")


@blp.route("")
class Queue(MethodView):
    @api_roles("staff")
    @blp.arguments(SiteQuerySchema, location="query")
    @blp.response(200, QueueOutSchema)
    def get(self, query):
        """The site's waiting and called tickets of today, longest waiting first."""
        return queue_body(query["site"])


@blp.route("/tickets")
class Tickets(MethodView):
    @api_roles("staff")
    @blp.arguments(DrawInSchema)
    @blp.response(201, TicketOutSchema)
    @blp.alt_response(422, description="Invalid input; `errors.json` names each field")
    def post(self, data):
        """Draw a ticket for a visitor: the site's next number of the day, waiting."""
        d = deps()
        ticket = answering(store.draw, d.uow, d.clock, data["site"],
                           data["language"], data["topic"])
        return ticket_body(ticket, d.clock())


@blp.route("/call-next")
class CallNext(MethodView):
    @api_roles("staff")
    @blp.arguments(CallNextInSchema)
    @blp.response(200, TicketOutSchema)
    @blp.alt_response(409, description="No ticket waits that this staff member can serve")
    def post(self, data):
        """Call the longest-waiting ticket in a language the caller speaks (German for
        everyone, the others as in their account), or one that has waited so long it is
        called for anyone, marked as needing an interpreter."""
        d = deps()
        ticket = answering(store.call_next, d.uow, d.clock, data["site"],
                           current_principal().username)
        if ticket is None:
            abort(409, "no ticket waiting that you can serve")
        return ticket_body(ticket, d.clock())


@blp.route("/tickets/<uuid:ticket_id>/call")
class Call(MethodView):
    @api_roles("staff")
    @blp.response(200, TicketOutSchema)
    @blp.alt_response(409, description="The ticket is not waiting")
    def post(self, ticket_id):
        """Call this ticket."""
        d = deps()
        ticket = answering(store.call, d.uow, d.clock, str(ticket_id),
                           current_principal().username)
        return ticket_body(ticket, d.clock())


@blp.route("/tickets/<uuid:ticket_id>/served")
class Served(MethodView):
    @api_roles("staff")
    @blp.arguments(ServedInSchema)
    @blp.response(200, TicketOutSchema)
    @blp.alt_response(409, description="The ticket was not called")
    def post(self, data, ticket_id):
        """The called visitor was served; `intake_id` links the consultation recorded."""
        return _close(ticket_id, TicketStatus.SERVED, data["intake_id"])


@blp.route("/tickets/<uuid:ticket_id>/no-show")
class NoShow(MethodView):
    @api_roles("staff")
    @blp.response(200, TicketOutSchema)
    @blp.alt_response(409, description="The ticket was not called")
    def post(self, ticket_id):
        """The called visitor did not come to the desk."""
        return _close(ticket_id, TicketStatus.NO_SHOW, None)


def _close(ticket_id, status: TicketStatus, intake_id) -> dict:
    d = deps()
    ticket = answering(store.close, d.uow, d.clock, str(ticket_id), status,
                       str(intake_id) if intake_id else None)
    return ticket_body(ticket, d.clock())
