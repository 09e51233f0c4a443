"""Pages of the walk-in queue: reception (waiting list, draw, call next, served, no-show) for
staff; the kiosk to draw a ticket and the waiting room's display, both without a login.

A kiosk or a display has no person logged in. Each site has a key of its own, derived from
the secret key (HMAC), and its kiosk and display pages answer only at addresses holding it:
staff open them from the reception page on the kiosk's or the screen's browser. A wrong key
is answered as no page at all (404). The kiosk can only draw tickets of its site; the display
shows numbers only (no language, topic or name). A key is changed by changing the secret.
"""
from __future__ import annotations

import hashlib
import hmac
import uuid

from babel import Locale, UnknownLocaleError
from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _

from services.intake import walk_in_store as store
from services.intake.walk_in import (TOPICS, QueueError, Ticket, TicketStatus,
                                     TransitionRefused)
from shared import words
from shared.auth import current_principal, ui_roles
from shared.reference import NEEDS, SITES
from shared.web import ui_language

bp = Blueprint("queue_ui", __name__, template_folder="templates")
SITE_CODES = tuple(s.code for s in SITES)
# The kiosk's languages, each shown in itself: German and English, then the centre's frequent
KIOSK_LANGUAGES = ("de", "en", "uk", "ru", "ar", "fa", "prs", "ps", "tr", "kmr", "ckb", "ro",
                   "bg", "pl", "sq", "ti", "so", "fr")
_OWN_NAMES = {"prs": ("دری", "rtl"), "kmr": ("Kurmancî", "ltr")}  # CLDR has no locale for these
ANONYMOUS_ENDPOINTS = ("queue_ui.kiosk", "queue_ui.display", "queue_ui.display_numbers")


def deps():
    return current_app.extensions["lotse"]


def kiosk_key(secret: str | bytes, site: str) -> str:
    """The site's key in its kiosk and display addresses."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, f"lotse-queue-kiosk|{site}".encode(), hashlib.sha256).hexdigest()[:32]


def _site_with_key(site: str, key: str) -> str:
    if site not in SITE_CODES or not hmac.compare_digest(
            key.encode(), kiosk_key(current_app.secret_key, site).encode()):
        abort(404)
    return site


def own_name(code: str) -> tuple[str, str]:
    """A language's name in itself and its writing direction (for the kiosk's buttons)."""
    if code in _OWN_NAMES:
        return _OWN_NAMES[code]
    try:
        locale = Locale.parse(code)
    except (UnknownLocaleError, ValueError):
        return words.language_name(code, "de"), "ltr"
    return (locale.get_display_name(code) or code), (
        "rtl" if locale.character_order == "right-to-left" else "ltr")


def _topic_words(lang: str) -> dict[str, str]:
    found = {n.code: n.label(lang) for n in NEEDS}
    found["other"] = _("Something else")
    return found


def _chosen_site() -> str:
    site = request.values.get("site", "centre")
    return site if site in SITE_CODES else "centre"


@bp.get("/queue")
@ui_roles("staff")
def reception():
    """The site's waiting list with waiting times, drawing for a visitor, calling next."""
    site = _chosen_site()
    now = deps().clock()
    tickets = store.open_tickets(deps().session_factory, site, store.city_day(now))
    context = dict(site=site, tickets=tickets, now=now, topics=_topic_words(ui_language()))
    if request.headers.get("X-Partial"):  # the open page's refresh
        return render_template("intake/_queue_rows.html", **context)
    key = kiosk_key(current_app.secret_key, site)
    with deps().session_factory() as s:
        speaks = store.languages_of(s, current_principal().username)
    return render_template("intake/queue.html", sites=SITES, speaks=speaks,
                           languages=words.picker_options("language", ui_language()),
                           kiosk_url=url_for(".kiosk", site=site, key=key),
                           display_url=url_for(".display", site=site, key=key), **context)


@bp.post("/queue/tickets")
@ui_roles("staff")
def reception_draw():
    """Reception draws a ticket for a visitor (language typed by name, or its code)."""
    site = _chosen_site()
    typed = request.form.get("language", "")
    language = words.code_for(typed, "language") if typed.strip() else None
    try:
        ticket = store.draw(deps().uow, deps().clock, site,
                            language or typed.strip(), request.form.get("topic", ""))
    except QueueError as exc:
        flash(_("The ticket was not drawn: %(field)s: %(message)s", field=exc.field,
                message=exc.message))
        return redirect(url_for(".reception", site=site)), 303
    flash(_("Ticket %(number)s drawn.", number=ticket.number))
    return redirect(url_for(".reception", site=site)), 303


@bp.post("/queue/call-next")
@ui_roles("staff")
def reception_call_next():
    site = _chosen_site()
    ticket = store.call_next(deps().uow, deps().clock, site,
                             current_principal().username)
    if ticket is None:
        flash(_("No ticket is waiting in a language you speak."))
    else:
        flash(_called_message(ticket))
    return redirect(url_for(".reception", site=site)), 303


def _called_message(ticket: Ticket) -> str:
    if ticket.interpreter_needed:
        return _("Ticket %(number)s called (%(language)s): an interpreter is needed.",
                 number=ticket.number, language=words.language_name(ticket.language,
                                                                    ui_language()))
    return _("Ticket %(number)s called.", number=ticket.number)


def _act(ticket_id, act) -> object:
    site = _chosen_site()
    try:
        flash(act(str(ticket_id)))
    except TransitionRefused as exc:
        flash(_("Ticket %(number)s is already %(status)s.", number=exc.number,
                status=_status_word(exc.status)))
    except store.TicketNotFound:
        abort(404)
    return redirect(url_for(".reception", site=site)), 303


def _status_word(status: TicketStatus) -> str:
    return {TicketStatus.WAITING: _("waiting"), TicketStatus.CALLED: _("called"),
            TicketStatus.SERVED: _("served"), TicketStatus.NO_SHOW: _("not come")}[status]


@bp.post("/queue/tickets/<uuid:ticket_id>/call")
@ui_roles("staff")
def reception_call(ticket_id):
    d = deps()
    return _act(ticket_id, lambda i: _called_message(
        store.call(d.uow, d.clock, i, current_principal().username)))


@bp.post("/queue/tickets/<uuid:ticket_id>/served")
@ui_roles("staff")
def reception_served(ticket_id):
    d = deps()
    return _act(ticket_id, lambda i: _("Ticket %(number)s served.", number=store.close(
        d.uow, d.clock, i, TicketStatus.SERVED).number))


@bp.post("/queue/tickets/<uuid:ticket_id>/no-show")
@ui_roles("staff")
def reception_no_show(ticket_id):
    d = deps()
    return _act(ticket_id, lambda i: _("Ticket %(number)s: the visitor did not come.",
                                       number=store.close(d.uow, d.clock, i,
                                                          TicketStatus.NO_SHOW).number))


@bp.route("/queue/kiosk/<site>/<key>", methods=["GET", "POST"])
def kiosk(site, key):
    """The site's kiosk: the visitor picks a language (each named in itself), then a topic,
    and gets a number. No login; the address holds the site's key."""
    site = _site_with_key(site, key)
    language = request.values.get("language", "")
    if language not in KIOSK_LANGUAGES:
        language = ""
    ticket = None
    if request.method == "POST" and language:
        try:
            ticket = store.draw(deps().uow, deps().clock, site, language,
                                request.form.get("topic", ""))
        except QueueError:
            abort(422, _("Please choose a topic."))
    return render_template("intake/queue_kiosk.html", site=site, key=key, language=language,
                           ticket=ticket, languages=[(c, *own_name(c)) for c in KIOSK_LANGUAGES],
                           topics=TOPICS, topic_de=_topic_words_in("de"),
                           topic_en=_topic_words_in("en"))


def _topic_words_in(lang: str) -> dict[str, str]:
    found = {n.code: n.label(lang) for n in NEEDS}
    found["other"] = "Sonstiges" if lang == "de" else "Something else"
    return found


def serve_with(ticket_id: str | None, intake_id: str) -> None:
    """The intake form was opened from a called ticket: the ticket is served with this
    consultation. After the intake committed, on its own: a ticket closed meanwhile (or
    none) leaves the intake as it is."""
    if not ticket_id:
        return
    try:
        store.close(deps().uow, deps().clock, str(uuid.UUID(ticket_id)), TicketStatus.SERVED,
                    intake_id)
    except (ValueError, TransitionRefused, store.TicketNotFound):
        pass


@bp.get("/queue/display/<site>/<key>")
def display(site, key):
    """The waiting room's screen: the numbers called, large; it refreshes itself."""
    site = _site_with_key(site, key)
    return render_template("intake/queue_display.html", site=site, key=key,
                           called=_called_today(site))


@bp.get("/queue/display/<site>/<key>/numbers")
def display_numbers(site, key):
    site = _site_with_key(site, key)
    return render_template("intake/_queue_numbers.html", called=_called_today(site))


def _called_today(site: str) -> list[Ticket]:
    now = deps().clock()
    return store.recently_called(deps().session_factory, site, store.city_day(now))
