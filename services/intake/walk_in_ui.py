"""Pages of the walk-in queue: reception (waiting list, draw, call next, served, no-show) for
staff; the kiosk to draw a ticket and the waiting room's display, both without a login.

A kiosk or a display has no person logged in. Each site has two keys, derived from the
secret key (HMAC) for two purposes: the kiosk's, which draws tickets, and the display's, which
only shows numbers (a display hangs on a public screen: its key must not draw). The pages
answer only at addresses holding their key: staff open them from the reception page on the
kiosk's or the screen's browser. A wrong key is answered as no page at all (404). The kiosk
can only draw tickets of its site, a few a minute (walk_in.DrawLimit); the display shows
numbers only (no language, topic or name). The keys are changed by changing the secret.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from typing import Callable

from babel import Locale, UnknownLocaleError
from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request,
                   session, url_for)
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_wtf.csrf import ValidationError, validate_csrf

from services.intake import walk_in_store as store
from services.intake.login_throttle import client_key
from services.intake.walk_in import (TOPICS, DrawLimit, NumbersRunOut, QueueError, Ticket,
                                     TicketStatus, TransitionRefused)
from shared import words
from shared.auth import current_principal, ui_roles
from shared.client_address import client_address
from shared.reference import NEEDS, SITES
from shared.web import ui_language

bp = Blueprint("queue_ui", __name__, template_folder="templates")
SITE_CODES = tuple(s.code for s in SITES)
# The kiosk's languages, each shown in itself: German and English, then the centre's frequent
KIOSK_LANGUAGES = ("de", "en", "uk", "ru", "ar", "fa", "prs", "ps", "tr", "kmr", "ckb", "ro",
                   "bg", "pl", "sq", "ti", "so", "fr")
_OWN_NAMES = {"prs": ("دری", "rtl"), "kmr": ("Kurmancî", "ltr")}  # CLDR has no locale for these
ANONYMOUS_ENDPOINTS = ("queue_ui.kiosk", "queue_ui.display", "queue_ui.display_numbers")
KIOSK_CLIENT, KIOSK_TICKET = "queue_kiosk_client", "queue_kiosk_ticket"  # session keys


def deps():
    return current_app.extensions["lotse"]


def site_key(secret: str | bytes, site: str, purpose: str) -> str:
    """The site's key for one purpose ("kiosk" or "display"); one never opens the other."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, f"lotse-queue|{purpose}|{site}".encode(),
                    hashlib.sha256).hexdigest()[:32]


def kiosk_key(secret: str | bytes, site: str) -> str:
    """The key in the site's kiosk address (draws tickets)."""
    return site_key(secret, site, "kiosk")


def display_key(secret: str | bytes, site: str) -> str:
    """The key in the site's display address (shows called numbers only)."""
    return site_key(secret, site, "display")


def _site_with_key(site: str, key: str, purpose: str) -> str:
    if site not in SITE_CODES or not hmac.compare_digest(
            key.encode(), site_key(current_app.secret_key, site, purpose).encode()):
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
    """The topics' words in `lang` (whatever the page's language)."""
    found = {n.code: n.label(lang) for n in NEEDS}
    with force_locale(lang):
        found["other"] = _("Something else")
    return found


def _chosen_site() -> str:
    site = request.values.get("site", "centre")
    return site if site in SITE_CODES else "centre"


@bp.get("/queue")
@ui_roles("staff")
def reception():
    """The site's waiting list with waiting times, drawing for a visitor, calling next."""
    return _reception_page(_chosen_site())


def _reception_page(site: str, errors: dict[str, str] | None = None,
                    status: int = 200) -> ResponseReturnValue:
    now = deps().clock()
    tickets = store.open_tickets(deps().session_factory, site, store.city_day(now))
    context = dict(site=site, tickets=tickets, now=now, topics=_topic_words(ui_language()))
    if request.headers.get("X-Partial"):  # the open page's refresh
        return render_template("intake/_queue_rows.html", **context)
    secret = current_app.secret_key
    with deps().session_factory() as s:
        speaks = store.languages_of(s, current_principal().username)
    return render_template(
        "intake/queue.html", sites=SITES, speaks=speaks, errors=errors or {},
        form=request.form if errors else {},
        languages=words.picker_options("language", ui_language()),
        kiosk_url=url_for(".kiosk", site=site, key=kiosk_key(secret, site)),
        display_url=url_for(".display", site=site, key=display_key(secret, site)),
        **context), status


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
        label, message = _draw_refusal(exc)
        flash(_("The ticket was not drawn: %(field)s: %(message)s", field=label,
                message=message))
        return _reception_page(site, errors={exc.field: message}, status=422)
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


def _draw_refusal(exc: QueueError) -> tuple[str, str]:
    """A refused draw in the page's language: the field's label and what to do."""
    if isinstance(exc, NumbersRunOut):
        return _("Site"), _("All of today's numbers at this site are drawn.")
    if exc.field == "language":
        return _("Visitor's language"), _(
            "Please type a language by its name or its ISO code (e.g. Ukrainian or uk).")
    if exc.field == "topic":
        return _("Topic"), _("Please choose a topic from the list.")
    return _("Site"), _("Please choose a site from the list.")


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
            TicketStatus.SERVED: _("served"), TicketStatus.NO_SHOW: _("not come"),
            TicketStatus.LEFT: _("left without being served")}[status]


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
    and gets a number. No login; the address holds the site's kiosk key. A draw (POST) is
    answered with a redirect to the page showing its number (a reload draws nothing); the
    number is kept in the kiosk's session, not in the address."""
    site = _site_with_key(site, key, "kiosk")
    if request.method == "POST":
        return _kiosk_draw(site, key)
    if request.args.get("drawn"):
        ticket = _drawn_ticket(site)
        if ticket is not None:
            return _kiosk_page(site, key, ticket=ticket)
    session.pop(KIOSK_TICKET, None)
    language = request.args.get("language", "")
    return _kiosk_page(site, key, language=language if language in KIOSK_LANGUAGES else "")


def _kiosk_draw(site: str, key: str) -> ResponseReturnValue:
    if not _csrf_valid():
        return _kiosk_page(site, key, message=_in_german_and_english(
            lambda: _("The page had expired. Please choose again.")), status=400)
    language = request.form.get("language", "")
    if language not in KIOSK_LANGUAGES:
        return _kiosk_page(site, key, message=_choose_again(), status=422)
    limit: DrawLimit = current_app.extensions.setdefault("lotse_kiosk_limit", DrawLimit())
    if not limit.allow(site, _kiosk_clients(), deps().clock()):
        return _kiosk_page(site, key, stop=True, status=429, message=_in_german_and_english(
            lambda: _("Many numbers were drawn here just now. Please go to reception.")))
    try:
        ticket = store.draw(deps().uow, deps().clock, site, language,
                            request.form.get("topic", ""))
    except NumbersRunOut:
        return _kiosk_page(site, key, stop=True, status=409, message=_in_german_and_english(
            lambda: _("There are no more numbers today. Please go to reception.")))
    except QueueError:
        return _kiosk_page(site, key, language=language, message=_choose_again(), status=422)
    session[KIOSK_TICKET] = ticket.id
    return redirect(url_for(".kiosk", site=site, key=key, drawn=1), 303)


def _csrf_valid() -> bool:
    """The kiosk's form token (the view is exempt from the app-wide check, which answers a
    dead-end 400 page: a kiosk left open past its session asks the visitor to choose again)."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return True
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        return False
    return True


def _kiosk_clients() -> list[str]:
    """Who draws, for the draw limit: the browser session and the client address."""
    client = session.setdefault(KIOSK_CLIENT, secrets.token_urlsafe(12))
    address = client_address(request.remote_addr, request.headers.get("X-Forwarded-For"),
                             deps().settings.trusted_proxies)
    return [f"session|{client}", f"address|{client_key(address)}"]


def _drawn_ticket(site: str) -> Ticket | None:
    ticket_id = session.get(KIOSK_TICKET)
    try:
        ticket = store.get(deps().session_factory, str(ticket_id)) if ticket_id else None
    except store.TicketNotFound:
        return None
    return ticket if ticket is not None and ticket.site == site else None


def _choose_again() -> dict[str, str]:
    return _in_german_and_english(lambda: _("Please choose your language, then a topic."))


def _in_german_and_english(text: Callable[[], str]) -> dict[str, str]:
    """A kiosk text in both its languages, whatever the browser asks for."""
    found = {}
    for lang in ("de", "en"):
        with force_locale(lang):
            found[lang] = text()
    return found


def _kiosk_page(site: str, key: str, *, language: str = "", ticket: Ticket | None = None,
                message: dict[str, str] | None = None, stop: bool = False,
                status: int = 200) -> tuple[str, int]:
    return render_template(
        "intake/queue_kiosk.html", site=site, key=key, language=language, ticket=ticket,
        message=message, stop=stop,
        languages=[(c, *own_name(c)) for c in KIOSK_LANGUAGES], topics=TOPICS,
        topic_de=_topic_words("de"), topic_en=_topic_words("en")), status


def exempt_kiosk_from_csrf(state: BlueprintSetupState) -> None:
    """The kiosk checks its form token itself (_csrf_valid)."""
    state.app.extensions["csrf"].exempt(f"{__name__}.kiosk")


bp.record_once(exempt_kiosk_from_csrf)


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
    site = _site_with_key(site, key, "display")
    return render_template("intake/queue_display.html", site=site, key=key,
                           called=_called_today(site))


@bp.get("/queue/display/<site>/<key>/numbers")
def display_numbers(site, key):
    site = _site_with_key(site, key, "display")
    return render_template("intake/_queue_numbers.html", called=_called_today(site))


def _called_today(site: str) -> list[Ticket]:
    now = deps().clock()
    return store.recently_called(deps().session_factory, site, store.city_day(now))
