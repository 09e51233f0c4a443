"""JSON API of the intake service (/api/v1): intakes, persons, consents, merges, tokens."""
from __future__ import annotations

from flask import abort, current_app, request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from services.intake import accounts, handlers, idempotency, queries, repository
from services.intake.access_log import Accessor
from services.intake.data_protection import note_access
from services.intake.domain import (Address, Consent, Contact, HouseholdMember, Intake,
                                    IntakeError, Need, OtherName, Person, Residence)
from services.intake.person_schemas import (ConsentListSchema, MatchListSchema,
                                            MatchQuerySchema, MergeInSchema, MergeOutSchema,
                                            PersonListSchema, PersonNameListSchema,
                                            PersonNamesQuerySchema, PersonRecordSchema,
                                            PersonSearchQuerySchema, WithdrawSchema)
from services.intake.schemas import (CONSULTATION_IN, INTAKE_IN, IdempotencyHeaderSchema,
                                     IntakeFactsInSchema, IntakeOutSchema, IntakePageSchema,
                                     PageQuerySchema,
                                     PartnerConsentOutSchema, PartnerConsentSchema,
                                     TokenRequestSchema, TokenSchema)
from services.intake.token_api import password_login, throttled_answer
from shared.auth import api_roles, current_principal, new_credential, sign_credential
from shared.web import FieldError

blp = Blueprint("intakes", __name__, url_prefix="/api/v1/intakes",
                description="Consultation intakes and their referrals")
persons_blp = Blueprint("persons", __name__, url_prefix="/api/v1/persons",
                        description="Newcomers: records, likely matches, consents, merges")
consents_blp = Blueprint("consents", __name__, url_prefix="/api/v1",
                         description="Withdrawing consents and undoing merges")
auth_blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth",
                     description="Bearer tokens for the API")


def deps():
    return current_app.extensions["lotse"]


def _person(p: dict) -> Person:
    contact = p.get("contact") or {}
    address = contact.get("address")
    return Person(
        p["given_name"].strip(), p["family_name"].strip(), p["birth_date"], p["nationality"],
        tuple(p["languages"]),
        other_names=tuple(OtherName(n["given_name"].strip(), n["family_name"].strip())
                          for n in p.get("other_names", ())),
        nationalities=tuple(p.get("nationalities", ())),
        preferred_language=p.get("preferred_language"),
        interpreter=p.get("interpreter", "none"),
        contact=Contact(contact.get("phone"), contact.get("email"),
                        Address(**address).located() if address else None,
                        contact.get("no_fixed_address", False),
                        contact.get("preferred_channel")),
        household=tuple(HouseholdMember(m["given_name"].strip(), m["family_name"].strip(),
                                        m["relation"], m["birth_date"])
                        for m in p.get("household", ())))


def _consent(c: dict, partner: str | None = None) -> Consent:
    return Consent(c.get("share_with_partners", True), c["method"], c["language"],
                   partner=c.get("partner", partner), purpose=c.get("purpose", "referral"),
                   information_version=c.get("information_version"))


def command_from(data: dict, staff: str, person_id=None) -> handlers.RecordIntake:
    residence = data.get("residence") or {}
    return handlers.RecordIntake(
        person=_person(data["person"]), residence_status=data["residence_status"],
        site=data["site"], staff=staff,
        needs=tuple(Need(n["code"], n["urgency"], n.get("note"), n.get("for_member"))
                    for n in data["needs"]),
        consent=_consent(data["consent"]) if data.get("consent") else None,
        person_id=person_id or data.get("person_id"),
        residence=Residence(data["residence_status"], **residence),
        consents=tuple(_consent(c) for c in data.get("consents", ())),
        channel=data.get("channel", "in_person"), arrival_date=data.get("arrival_date"),
        notes=data.get("notes"))


def _field_errors(call, *args):
    """Domain rule violations become 422 errors naming the field."""
    try:
        return call(*args)
    except IntakeError as exc:
        raise FieldError(exc.field, exc.message) from None


def record(data: dict, channel: str, person_id=None,
           key: idempotency.IdempotencyKey | None = None) -> Intake:
    """Shared by the API and the UI form; the access-log entry commits with the intake."""
    d, principal = deps(), current_principal()
    try:
        return _field_errors(handlers.record_intake,
                             command_from(data, principal.username, person_id), d.uow(),
                             d.clock, Accessor(principal, channel), key)
    except idempotency.KeyConflict as exc:
        abort(409, str(exc))


def _idempotency_key(headers: dict) -> idempotency.IdempotencyKey | None:
    if headers["idempotency_key"] is None:
        return None
    return idempotency.IdempotencyKey(current_principal().username, headers["idempotency_key"],
                                      idempotency.body_hash(request.get_json()))


@blp.route("")
class Intakes(MethodView):
    @api_roles("staff")
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, IntakePageSchema)
    def get(self, query):
        """List intakes, newest first, with their referrals (paginated)."""
        page = queries.intake_page(deps().session_factory, query["page"], query["per_page"])
        note_access("listed", "api", intake_ids=[i["id"] for i in page["items"]])
        return page

    @api_roles("staff")
    @blp.arguments(INTAKE_IN)
    @blp.arguments(IdempotencyHeaderSchema, location="headers")
    @blp.response(201, IntakeOutSchema)
    @blp.alt_response(409, description="The Idempotency-Key was used with another body (or "
                                       "its intake was erased)")
    @blp.alt_response(422, description="Invalid input; `errors.json` names each field")
    def post(self, data, headers):
        """Record the intake of a consultation (a new person, or `person_id` for a returning
        visitor); referrals to partners follow by event. Send an `Idempotency-Key` to be able
        to repeat the request safely after a lost answer."""
        intake = record(data, "api", key=_idempotency_key(headers))
        return queries.recorded_body(intake), {
            "Location": url_for("intakes.IntakeById", intake_id=intake.id)}


@blp.route("/<uuid:intake_id>")
class IntakeById(MethodView):
    @api_roles("staff")
    @blp.response(200, IntakeOutSchema)
    def get(self, intake_id):
        """One intake with each referral's status and partner case reference."""
        body = queries.intake_detail(deps().session_factory, str(intake_id))
        if body is None:
            abort(404, "no intake with this id")
        note_access("viewed", "api", intake_ids=[intake_id])
        return body


@blp.route("/<uuid:intake_id>/facts")
class IntakeFacts(MethodView):
    @api_roles("staff")
    @blp.arguments(IntakeFactsInSchema)
    @blp.response(200, IntakeOutSchema)
    @blp.alt_response(404, description="No intake with this id")
    @blp.alt_response(422, description="A fact recorded already, or an impossible one; "
                                        "`errors.json` names the field")
    def post(self, facts, intake_id):
        """Record routing facts the consultation left out (the first-issue date, the purpose
        of stay, the arrival date): referrals waiting on hold for a missing fact are routed
        again by event."""
        add_facts(intake_id, facts, "api")
        return queries.intake_detail(deps().session_factory, str(intake_id))


def add_facts(intake_id, facts: dict, channel: str) -> None:
    """Shared by the API and the intake page."""
    d = deps()
    try:
        _field_errors(handlers.add_facts, str(intake_id), facts,
                      current_principal().username, d.uow(), d.clock)
    except LookupError:
        abort(404, "no intake with this id")
    note_access("changed", channel, intake_ids=[intake_id])


@persons_blp.route("")
class Persons(MethodView):
    @api_roles("staff")
    @persons_blp.arguments(PersonSearchQuerySchema, location="query")
    @persons_blp.response(200, PersonListSchema)
    def get(self, query):
        """Search by name (any script), date of birth (YYYY-MM-DD or DD.MM.YYYY) or reference."""
        found = queries.search(deps().session_factory, query["q"])
        note_access("listed", "api", person_ids=[f["id"] for f in found])
        return {"items": found}


@persons_blp.route("/names")
class PersonNames(MethodView):
    @api_roles("staff")
    @persons_blp.arguments(PersonNamesQuerySchema, location="query")
    @persons_blp.response(200, PersonNameListSchema)
    def get(self, query):
        """The names of these persons, for lists other services show staff (referrals, the
        work queue): logged as listed."""
        with deps().session_factory() as session:
            found = repository.person_names(session, [str(i) for i in query["id"]])
        note_access("listed", "api", person_ids=[f[0] for f in found])
        return {"items": [{"id": i, "given_name": g, "family_name": f} for i, g, f in found]}


@persons_blp.route("/matches")
class Matches(MethodView):
    @api_roles("staff")
    @persons_blp.arguments(MatchQuerySchema, location="query")
    @persons_blp.response(200, MatchListSchema)
    def get(self, query):
        """Likely earlier records of a returning visitor (names across scripts + birth date)."""
        found = queries.find_matches(deps().session_factory, query["given_name"],
                                     query["family_name"], query["birth_date"])
        note_access("listed", "api", person_ids=[m["person"]["id"] for m in found])
        return {"items": found}


@persons_blp.route("/<uuid:person_id>")
class PersonById(MethodView):
    @api_roles("staff")
    @persons_blp.response(200, PersonRecordSchema)
    def get(self, person_id):
        """A person with the timeline of consultations, referrals, consents and merges."""
        body = queries.person_detail(deps().session_factory, str(person_id))
        if body is None:
            abort(404, "no person with this id")
        note_access("viewed", "api", person_ids=[person_id])
        return body


@persons_blp.route("/<uuid:person_id>/consultations")
class Consultations(MethodView):
    @api_roles("staff")
    @persons_blp.arguments(CONSULTATION_IN)
    @persons_blp.response(201, IntakeOutSchema)
    def post(self, data, person_id):
        """A returning visitor's new consultation on the same person."""
        _require_person(person_id)
        return queries.recorded_body(record(data, "api", person_id))


@persons_blp.route("/<uuid:person_id>/consents")
class Consents(MethodView):
    @api_roles("staff")
    @persons_blp.response(200, ConsentListSchema)
    def get(self, person_id):
        """Every consent of the person, valid and withdrawn."""
        consents = _require_person(person_id)["consents"]
        note_access("viewed", "api", person_ids=[person_id])
        return {"items": consents}

    @api_roles("staff")
    @persons_blp.arguments(PartnerConsentSchema)
    @persons_blp.response(201, PartnerConsentOutSchema)
    def post(self, data, person_id):
        """Record a consent for one partner given after the consultation."""
        _require_person(person_id)
        d = deps()
        consent_id = _field_errors(handlers.give_consent, person_id, _consent(data),
                                   current_principal().username, d.uow(), d.clock)
        note_access("consent_given", "api", person_ids=[person_id])
        return next(c for c in _require_person(person_id)["consents"]
                    if c["id"] == consent_id)


@persons_blp.route("/<uuid:person_id>/merge")
class Merge(MethodView):
    @api_roles("staff")
    @persons_blp.arguments(MergeInSchema)
    @persons_blp.response(201, MergeOutSchema)
    def post(self, data, person_id):
        """Merge a duplicate record into this person (audited; undo with /merges/<id>/undo)."""
        _require_person(person_id)
        d = deps()
        result = _field_errors(handlers.merge_persons, person_id, data["duplicate_id"],
                               current_principal().username, data["reason"], d.uow(), d.clock)
        note_access("merged", "api", person_ids=[person_id, data["duplicate_id"]])
        return next(m for m in _require_person(person_id)["merges"]
                    if m["id"] == result.merge_id)


@consents_blp.route("/consents/<uuid:consent_id>/withdraw")
class Withdraw(MethodView):
    @api_roles("staff")
    @consents_blp.arguments(WithdrawSchema)
    @consents_blp.response(200, PartnerConsentOutSchema)
    def post(self, data, consent_id):
        """Withdraw a consent; referrals relying on it are cancelled (consent.withdrawn)."""
        d = deps()
        try:
            _field_errors(handlers.withdraw_consent, consent_id,
                          current_principal().username, data["reason"], d.uow(), d.clock)
        except LookupError:
            abort(404, "no consent with this id")
        with d.session_factory() as s:
            person_id, consent = repository.get_consent(s, str(consent_id))
        note_access("consent_withdrawn", "api", person_ids=[person_id])
        return {**consent.__dict__, "valid": consent.valid}


@consents_blp.route("/merges/<merge_id>/undo")
class UndoMerge(MethodView):
    @api_roles("staff")
    @consents_blp.response(200, MergeOutSchema)
    def post(self, merge_id):
        """Undo a merge: the merged record gets its consultations and consents back."""
        d = deps()
        try:
            _field_errors(handlers.undo_merge, merge_id, current_principal().username,
                          d.uow(), d.clock)
        except LookupError:
            abort(404, "no merge with this id")
        with d.session_factory() as s:
            merge = dict(repository.get_merge(s, merge_id)._mapping)
        note_access("unmerged", "api", person_ids=[merge["survivor_id"], merge["merged_id"]])
        return merge


def _require_person(person_id) -> dict:
    body = queries.person_detail(deps().session_factory, str(person_id))
    if body is None:
        abort(404, "no person with this id")
    return body


@auth_blp.route("/token")
class Token(MethodView):
    @auth_blp.arguments(TokenRequestSchema)
    @auth_blp.response(200, TokenSchema)
    @auth_blp.alt_response(401, description="Unknown user or wrong password")
    @auth_blp.alt_response(429, description="Too many failed logins of this user name from "
                                            "this address, or of all accounts: Retry-After")
    def post(self, data):
        """Exchange username and password for a bearer token."""
        try:
            principal = password_login(data["username"], data["password"])
        except accounts.LoginThrottled as exc:
            return throttled_answer(exc)
        if principal is None:
            abort(401, "unknown user or wrong password")
        ttl = current_app.config["LOTSE_TOKEN_TTL"]
        credential = new_credential(principal, ttl, deps().clock())
        return {"access_token": sign_credential(current_app.secret_key, credential),
                "token_type": "Bearer", "expires_in": ttl, "jti": credential.jti}
