"""Flask app of the partner sandbox, mounted at /sandbox."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from functools import lru_cache

from flask import (Blueprint, Flask, abort, current_app, flash, jsonify, redirect,
                   render_template, request, url_for)

from flask_babel import gettext as _
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from jsonschema import Draft202012Validator, FormatChecker
from werkzeug.exceptions import BadRequest, HTTPException

from services.partner_sandbox import erasure, notices, store
from services.partner_sandbox.systems import (DESTINATION, NOTICE_FORMATS, SYSTEMS,
                                              WBS_REQUIRED, PartnerSystem)
from shared import secure_submission as crypto
from shared import words
from shared.auth import allow_anonymous, current_principal, ui_roles
from shared.config import Settings
from shared.db import make_engine, ping
from shared.defaults import read_text, resource
from shared.web import create_service_app, exempt_from_csrf, ui_language

SCHEMAS = resource("schemas")  # the schemas Lotse publishes (shared/defaults/schemas)
api = Blueprint("sandbox_api", __name__, url_prefix="/sandbox")
ui = Blueprint("sandbox_ui", __name__, url_prefix="/sandbox", template_folder="templates")


def engine():
    return current_app.extensions["sandbox_engine"]


def settings() -> Settings:
    return current_app.extensions["sandbox_settings"]


def _system(partner: str):
    if partner not in SYSTEMS:
        abort(404, "no such partner system")
    return SYSTEMS[partner]


def _idempotency_key() -> str:
    """Every write to a partner system names its idempotency key (400 without one)."""
    key = request.headers.get("Idempotency-Key")
    if not key:
        abort(400, "Idempotency-Key header is required")
    return key


def _json_object() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, "JSON body required")
    return body


def _presents_credential(partner: str) -> bool:
    """The request carries this stand-in system's own credential, the way it takes it."""
    expected = settings().partner_credentials.get(partner)
    if not expected:
        return False
    return all(hmac.compare_digest(request.headers.get(name, "").encode(), value.encode())
               for name, value in SYSTEMS[partner].credential_headers(expected).items())


def _require_key(*partners: str) -> None:
    """Each stand-in system takes its own partner's credential (bearer token or API key) and
    no other; an operator's session or token opens the sandbox's controls too."""
    if any(_presents_credential(partner) for partner in partners):
        return
    principal = current_principal()
    if principal is None or not principal.has("operator"):
        abort(401, "credential missing or wrong")


@lru_cache(maxsize=None)
def _validator(schema: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(read_text(SCHEMAS / schema)),
                                format_checker=FormatChecker())


def _schema_errors(schema: str, payload: dict) -> dict[str, list[str]]:
    """The partner checks what it receives against its published schema."""
    errors: dict[str, list[str]] = {}
    for e in _validator(schema).iter_errors(payload):
        errors.setdefault(".".join(map(str, e.absolute_path)) or "(document)", []).append(
            e.message)
    return errors


def _create(partner: str):
    """Create a case idempotently, after playing the configured failure mode. A well-formed
    request with a new key to a working partner system (most of them) is stored in one
    statement that reads the behaviour too; anything else takes the long way: behaviour,
    refusal, slowness, the case (or the one stored under the key), timeout."""
    system = _system(partner)
    _require_key(partner)
    key = request.headers.get("Idempotency-Key")
    payload = request.get_json(silent=True)
    refusal = _refusal(system, key, payload)
    status = "announced" if system.protocol == "fit_connect" else "new"
    if refusal is None:
        case = store.create_case_when_ok(engine(), partner, key, payload, status)
        if case is not None:
            return _case_answer(system, case, True, payload)
    mode = store.behaviour(engine(), partner, settings().sandbox_auto_accept_seconds)
    if mode["mode"] == "fail":
        abort(503, f"{system.name} is down (sandbox failure mode)")
    if isinstance(refusal, HTTPException):
        raise refusal
    if refusal is not None:
        return refusal
    if mode["mode"] == "slow":
        time.sleep(mode["delay_seconds"])
    case, created = store.create_case(engine(), partner, key, payload, status)
    if mode["mode"] == "timeout" and system.protocol != "fit_connect":
        # The case exists but the answer never arrives in time: the caller must retry with
        # the same key and get this same case back.
        time.sleep(mode["delay_seconds"] or 15)
        abort(504, "gateway timeout (sandbox failure mode)")
    return _case_answer(system, case, created, payload)


def _refusal(system: PartnerSystem, key: str | None,
             payload: object) -> HTTPException | tuple | None:
    """Why the partner system refuses this case request (400: no idempotency key or no JSON
    object; 422: required fields missing or the published schema not met), None: it is well
    formed. Answered only after the failure mode: a system that is down refuses nothing."""
    if not key:
        return BadRequest("Idempotency-Key header is required")
    if not isinstance(payload, dict):
        return BadRequest("JSON body required")
    missing = [f for f in system.required if not payload.get(f)]
    if missing:
        return jsonify(code=422, errors={f: ["required"] for f in missing}), 422
    if system.schema:
        errors = _schema_errors(system.schema, payload)
        if errors:
            return jsonify(code=422, errors=errors), 422
    return None


def _case_answer(system: PartnerSystem, case: dict, created: bool, payload: dict):
    if system.protocol == "fit_connect":  # announced now, the encrypted data follow (PUT)
        return jsonify({"submissionId": case["reference"], "caseId": case["reference"],
                        "destinationId": payload["destinationId"]}), 201 if created else 200
    answer = {system.reference_field: case["reference"], "status": case["status"],
              "created": created}
    if case.get("appointment"):
        answer["appointment"] = case["appointment"]
    return jsonify(answer), 201 if created else 200


def _remind(partner: str, reference: str):
    """A reminder from Lotse about a case whose deadline is near (idempotent by key)."""
    _system(partner)
    _require_key(partner)
    key = _idempotency_key()
    count = store.add_reminder(engine(), partner, reference, key)
    if count is None:
        abort(404, "no such case")
    return jsonify(reference=reference, reminders=count), 200


def _lookup(partner: str):
    """Find the case for a client reference: how Lotse resolves an answer it never got."""
    system = _system(partner)
    _require_key(partner)
    if store.behaviour(engine(), partner, None)["mode"] == "fail":
        abort(503, f"{system.name} is down (sandbox failure mode)")
    reference = request.args.get(system.lookup_parameter)
    if not reference:
        abort(400, f"{system.lookup_parameter} is required")
    return jsonify(items=[{"reference": c["reference"], "status": c["status"],
                           **({"appointment": c["appointment"]} if c.get("appointment") else {})}
                          for c in store.find_cases(engine(), partner, reference)
                          if c["status"] != "announced"])  # not submitted: no case yet


def _status(partner: str, reference: str):
    """The read API: where a case stands (what Lotse polls when a partner has no webhooks)."""
    system = _system(partner)
    _require_key(partner)
    if store.behaviour(engine(), partner, None)["mode"] == "fail":
        abort(503, f"{system.name} is down (sandbox failure mode)")
    case = store.find_case(engine(), partner, reference)
    if case is None or case["status"] == "announced":
        abort(404, "no such case")
    return jsonify(reference=reference, status=case["status"], reason=case.get("reason"),
                   outcome=case.get("outcome"), updated_at=case["updated_at"].isoformat())


def _withdraw(partner: str, reference: str):
    _system(partner)
    _require_key(partner)
    _idempotency_key()
    if not store.withdraw_case(engine(), partner, reference):
        abort(404, "no such case")
    return jsonify(reference=reference, status="withdrawn"), 200


def _notice(partner: str, reference: str):
    """A notice from Lotse about a case: the person withdrew the consent, or the data must be
    erased. Stored once per idempotency key; a notice carrying more than ids and codes (a
    name, a birth date) is refused, as the partner's data protection officer would."""
    system, form = _system(partner), NOTICE_FORMATS[partner]
    _require_key(partner)
    if store.behaviour(engine(), partner, None)["mode"] == "fail":
        abort(503, f"{system.name} is down (sandbox failure mode)")
    key = _idempotency_key()
    body = _json_object()
    unexpected = sorted(set(body) - set(form.allowed))
    if unexpected:
        return jsonify(code=422, errors={f: ["not accepted in a notice"]
                                         for f in unexpected}), 422
    kind = form.kinds.get(body.get(form.kind_field))
    if kind is None or not body.get(form.client_reference_field):
        return jsonify(code=422, errors={form.kind_field: [f"one of {', '.join(form.kinds)}"],
                                         form.client_reference_field: ["required"]}), 422
    stored = notices.add_notice(engine(), partner, reference, key, kind, body)
    if stored is None:
        abort(404, "no such case")
    if kind == "erasure":  # a good partner erases the person's data it holds
        erasure.erase_case(engine(), partner, reference)
    if store.behaviour(engine(), partner, None)["mode"] == "timeout":
        abort(504, "gateway timeout (sandbox failure mode)")  # stored, the answer is lost
    return jsonify(case_reference=reference, kind=kind, created=stored[1]), \
        201 if stored[1] else 200


@api.get("/<partner>/notices")
def list_notices(partner):
    """The notices a partner system received (tests and the sandbox's own pages)."""
    _system(partner)
    _require_key(partner)
    return jsonify(items=[{k: (v.isoformat() if k == "received_at" else v)
                           for k, v in n.items()}
                          for n in notices.notices(engine(), partner,
                                                   request.args.get("case_reference"))])


for _partner, _system_def in SYSTEMS.items():
    api.add_url_rule(f"/{_partner}{_system_def.path}", f"create_{_partner}",
                     lambda p=_partner: _create(p), methods=["POST"])
    api.add_url_rule(f"/{_partner}{_system_def.path}", f"lookup_{_partner}",
                     lambda p=_partner: _lookup(p), methods=["GET"])
    api.add_url_rule(f"/{_partner}{_system_def.path}/<reference>", f"status_{_partner}",
                     lambda reference, p=_partner: _status(p, reference), methods=["GET"])
    api.add_url_rule(f"/{_partner}{_system_def.path}/<reference>/reminders",
                     f"remind_{_partner}", lambda reference, p=_partner: _remind(p, reference),
                     methods=["POST"])
    api.add_url_rule(f"/{_partner}{_system_def.path}/<reference>/cancellation",
                     f"withdraw_{_partner}",
                     lambda reference, p=_partner: _withdraw(p, reference), methods=["POST"])
    api.add_url_rule(f"/{_partner}{_system_def.path}/<reference>/"
                     f"{NOTICE_FORMATS[_partner].path}", f"notice_{_partner}",
                     lambda reference, p=_partner: _notice(p, reference), methods=["POST"])


# -- a FIT-Connect destination: published key, encrypted submissions -------------------------

class ImportedKeys:
    """Destination key pairs imported once per process: importing a 4096-bit private key
    checks it (a third of a second of CPU), far too much to repeat for every submission.
    The kid is the key's thumbprint, so a key made anew in the database is imported anew."""

    def __init__(self) -> None:
        self._keys: dict[str, RSAKey] = {}
        self._lock = threading.Lock()  # the first requests arrive together: import once

    def get(self, jwk: dict) -> RSAKey:
        with self._lock:
            if jwk["kid"] not in self._keys:
                self._keys[jwk["kid"]] = RSAKey.import_key(jwk)
            return self._keys[jwk["kid"]]


def _destination_key() -> RSAKey:
    jwk = store.destination_key(engine(), "wohnungsamt",
                                lambda: crypto.new_destination_key().as_dict(private=True))
    return current_app.extensions["sandbox_keys"].get(jwk)


@api.get("/wohnungsamt/v1/destinations/<destination_id>")
def destination(destination_id):
    _require_key("wohnungsamt")
    if destination_id != DESTINATION["destinationId"]:
        abort(404, "no such destination")
    return jsonify({**DESTINATION, "encryptionKid": _destination_key().kid})


@api.get("/wohnungsamt/v1/destinations/<destination_id>/keys/<kid>")
def destination_key(destination_id, kid):
    _require_key("wohnungsamt")
    key = _destination_key()
    if destination_id != DESTINATION["destinationId"] or kid != key.kid:
        abort(404, "no such key")
    return jsonify(crypto.published(key))


@api.put("/wohnungsamt/v1/submissions/<reference>")
def submit(reference):
    """Decrypt metadata and data with the destination's private key, check the data against
    the announced hash, and take the application in; repeating it changes nothing."""
    system = SYSTEMS["wohnungsamt"]
    _require_key(system.code)
    mode = store.behaviour(engine(), system.code, settings().sandbox_auto_accept_seconds)
    if mode["mode"] == "fail":
        abort(503, f"{system.name} is down (sandbox failure mode)")
    body = request.get_json(silent=True) or {}
    key = _destination_key()
    try:
        metadata = json.loads(crypto.decrypt(body["encryptedMetadata"], key))
        raw = crypto.decrypt(body["encryptedData"], key)
        data = json.loads(raw)
    except (KeyError, TypeError, ValueError, JoseError) as exc:
        return jsonify(code=422, errors={"encryptedData": [f"cannot decrypt: {exc}"]}), 422
    announced = metadata.get("contentStructure", {}).get("data", {})
    if announced.get("hash", {}).get("content") != hashlib.sha512(raw).hexdigest():
        return jsonify(code=422, errors={"encryptedData": ["hash differs from metadata"]}), 422
    schema = announced.get("submissionSchema", {}).get("schemaUri")
    if schema != DESTINATION["services"][0]["submissionSchemas"][0]["schemaUri"]:
        return jsonify(code=422, errors={"encryptedMetadata": [f"unknown schema {schema}"]}), 422
    missing = [f for f in WBS_REQUIRED if not data.get(f)]
    if missing:
        return jsonify(code=422, errors={f: ["required"] for f in missing}), 422
    if mode["mode"] == "slow":
        time.sleep(mode["delay_seconds"])
    case = store.submit(engine(), system.code, reference, data)
    if case is None:
        abort(404, "no such submission")
    if mode["mode"] == "timeout":  # submitted, but the answer is lost
        time.sleep(mode["delay_seconds"] or 15)
        abort(504, "gateway timeout (sandbox failure mode)")
    return jsonify(submissionId=reference, status="submitted"), 200


@api.get("/<partner>/cases")
def list_cases(partner):
    _system(partner)
    _require_key(partner)
    return jsonify(items=store.find_cases(engine(), partner,
                                          request.args.get("client_reference")))


@api.put("/<partner>/behaviour")
def put_behaviour(partner):
    """Switch a partner system to fail (5xx), time out, be slow, or work (ok)."""
    _system(partner)
    _require_key(partner)
    body = request.get_json(silent=True) or {}
    mode = body.get("mode", "ok")
    if mode not in store.MODES:
        return jsonify(code=422, errors={"mode": [f"one of {', '.join(store.MODES)}"]}), 422
    store.set_behaviour(engine(), partner, mode, float(body.get("delay_seconds", 0)),
                        body.get("auto_accept_seconds",
                                 settings().sandbox_auto_accept_seconds))
    return jsonify(store.behaviour(engine(), partner, None))


@api.get("/api/stats")
def stats():
    """Case counts per system: any stand-in system's credential, or an operator."""
    _require_key(*SYSTEMS)
    return jsonify(store.stats(engine()))


@ui.get("/")
@ui_roles("partner", "operator")
def home():
    principal = current_principal()
    # A partner without a system of its own (a portal partner) has no stand-in system here:
    # the page tells it where its referrals are answered instead of answering 404.
    portal_partner = principal.partner if principal.partner not in (None, *SYSTEMS) else None
    partners = ([] if portal_partner else [principal.partner] if principal.partner
                else list(SYSTEMS))
    return render_template("sandbox/home.html", systems=[SYSTEMS[p] for p in partners],
                           portal_partner=portal_partner,
                           cases={p: store.find_cases(engine(), p) for p in partners},
                           behaviour={p: store.behaviour(engine(), p,
                                                         settings().sandbox_auto_accept_seconds)
                                      for p in partners})


@ui.post("/<partner>/cases/<reference>/status")
@ui_roles("partner", "operator")
def set_status(partner, reference):
    principal = current_principal()
    if principal.partner and principal.partner != partner:
        abort(403)
    status = request.form.get("status")
    if status not in ("accepted", "rejected", "in-progress", "completed"):
        abort(400)
    if not store.change_status(engine(), partner, reference, status,
                               request.form.get("reason") or None):
        abort(404)
    flash(_("%(ref)s: %(status)s; Lotse is being notified.", ref=reference,
            status=words.label(status, "referral_status", ui_language())))
    return redirect(url_for(".home"))


@ui.post("/<partner>/behaviour")
@ui_roles("operator")
def set_behaviour(partner):
    _system(partner)
    mode = request.form.get("mode", "ok")
    if mode not in store.MODES:
        abort(400)
    store.set_behaviour(engine(), partner, mode, float(request.form.get("delay_seconds") or 0),
                        settings().sandbox_auto_accept_seconds)
    return redirect(url_for(".home"))


def create_app(settings_: Settings | None = None) -> Flask:
    cfg = settings_ or Settings.from_env("partner_sandbox")
    db = make_engine(cfg.database_url)
    app, _rest = create_service_app(__name__, cfg, title="Partner sandbox",
                                    spec_prefix="/sandbox/api",
                                    readiness=[("database", lambda: ping(db))])
    app.extensions["sandbox_engine"] = db
    app.extensions["sandbox_settings"] = cfg
    app.extensions["sandbox_keys"] = ImportedKeys()
    app.register_blueprint(api)
    exempt_from_csrf(app, api)
    app.register_blueprint(ui)
    # The partner systems' own APIs check their partner's credential themselves.
    allow_anonymous(app, *(f"sandbox_api.{rule.endpoint.split('.', 1)[1]}"
                           for rule in app.url_map.iter_rules()
                           if rule.endpoint.startswith("sandbox_api.")))
    return app
