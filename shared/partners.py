"""The partner directory: every partner organisation and how Lotse reaches it, as data.

One entry per partner (`shared/defaults/partners.json`, or the file `LOTSE_PARTNERS_FILE` names):
which adapter kind speaks to its system, where (endpoint), with which credentials (the name
of the environment variable holding them, never the secret itself; `<VAR>_FILE` names a file
instead), which secret signs its callbacks (`callback_secret_env`, `<VAR>_PREVIOUS` too while
it is rotated; docs/security.md, "Partner callbacks and partner credentials"), timeouts,
rate limit, circuit breaker, delivery attempts, the legal basis that lets a referral leave
without consent, and the allow-list of fields the partner may receive. Adding a partner whose
system is of a known kind is an entry here, no code.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from shared.defaults import read_text, resource

DEFAULT_FILE = resource("partners.json")  # shipped in the package

# The adapter kinds Lotse has code for (services/partner_adapter/partners/).
KINDS = ("welfare_case_api", "jobcenter_handover", "appointment_booking", "secure_submission",
         "portal")

# Every field a referral can carry towards a partner; allow-lists pick from these.
SHAREABLE_FIELDS = (
    "referral_id", "intake_reference", "need", "service",
    "person.given_name", "person.family_name", "person.birth_date", "person.nationality",
    "person.languages", "residence_status", "household",
    "for_person",  # the household member a referral is for (a child's school place)
)


class PartnerConfigError(ValueError):
    """The directory is broken; the message names the entry and field."""


class _Auth(Schema):
    class Meta:
        unknown = RAISE

    scheme = fields.String(required=True, validate=validate.OneOf(("bearer", "api_key",
                                                                   "none")))
    secret_env = fields.String(load_default=None, allow_none=True,
                               validate=validate.Regexp(r"^[A-Z][A-Z0-9_]*$"))


# What a visitor may be asked to bring to a partner (the words: shared/words.DOCUMENT)
DOCUMENTS = ("passport", "residence_document", "landlord_confirmation",
             "registration_certificate", "rental_contract", "bank_account", "income_proof",
             "tax_id", "birth_certificates", "vaccination_record", "school_reports",
             "biometric_photo", "admission_letter", "qualification_documents")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Hours(Schema):
    class Meta:
        unknown = RAISE

    days = fields.List(fields.String(validate=validate.OneOf(WEEKDAYS)), required=True,
                       validate=validate.Length(min=1))
    opens = fields.String(required=True, validate=validate.Regexp(r"^[0-2]\d:[0-5]\d$"))
    closes = fields.String(required=True, validate=validate.Regexp(r"^[0-2]\d:[0-5]\d$"))


class _Visit(Schema):
    """Where visitors go to the partner: the visitor's next-steps sheet prints it."""

    class Meta:
        unknown = RAISE

    address = fields.String(required=True, validate=validate.Length(min=5, max=200))
    phone = fields.String(load_default=None, validate=validate.Length(min=3, max=40))
    hours = fields.List(fields.Nested(_Hours), load_default=list)


class _Service(Schema):
    class Meta:
        unknown = RAISE

    code = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9_]{2,60}$"))
    name = fields.String(required=True, validate=validate.Length(min=2, max=200))
    # the name in German (the city's language) and, for the English UI, in English
    name_en = fields.String(load_default=None, validate=validate.Length(min=2, max=200))
    # what a visitor brings to this service's first appointment
    bring = fields.List(fields.String(validate=validate.OneOf(DOCUMENTS)), load_default=list)


class _Entry(Schema):
    class Meta:
        unknown = RAISE

    code = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{1,39}$"))
    name = fields.String(required=True, validate=validate.Length(min=2, max=200))
    name_en = fields.String(load_default=None, validate=validate.Length(min=2, max=200))
    visit = fields.Nested(_Visit, load_default=None)
    # what the partner offers: the services routing rules and referrals may name
    services = fields.List(fields.Nested(_Service), load_default=list)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    channel = fields.String(required=True, validate=validate.Length(min=2, max=40))
    format = fields.String(required=True, validate=validate.Length(min=2, max=40))
    endpoint = fields.String(load_default=None, allow_none=True)
    auth = fields.Nested(_Auth, load_default=lambda: {"scheme": "none", "secret_env": None})
    connect_timeout = fields.Float(load_default=3.0, validate=validate.Range(min=0.1, max=30))
    read_timeout = fields.Float(load_default=10.0, validate=validate.Range(min=0.1, max=120))
    rate_limit_per_minute = fields.Integer(load_default=600,
                                           validate=validate.Range(min=1, max=100_000))
    breaker_failures = fields.Integer(load_default=5, validate=validate.Range(min=1, max=100))
    breaker_open_seconds = fields.Float(load_default=30.0,
                                       validate=validate.Range(min=1, max=3600))
    max_attempts = fields.Integer(load_default=8, validate=validate.Range(min=1, max=50))
    legal_basis = fields.String(load_default=None, allow_none=True)
    # the same in German, for the record of processing (the referrals quote `legal_basis`)
    legal_basis_de = fields.String(load_default=None, allow_none=True)
    # secure submission (FIT-Connect): the destination (Zustellpunkt) whose published key
    # the data are encrypted to
    destination_id = fields.String(load_default=None, allow_none=True,
                                   validate=validate.Length(min=1, max=100))
    allow_list = fields.List(fields.String(validate=validate.OneOf(SHAREABLE_FIELDS)),
                             required=True, validate=validate.Length(min=1))
    # how the partner's answers come back: signed webhook, or Lotse reads its case status
    # (partners with only a read API) every poll_seconds
    inbound = fields.String(load_default="webhook", validate=validate.OneOf(("webhook",
                                                                            "poll")))
    poll_seconds = fields.Float(load_default=300.0, validate=validate.Range(min=1, max=86400))
    # the variable holding the secret this partner's callbacks are signed with (its own: a
    # partner cannot sign for another)
    callback_secret_env = fields.String(load_default=None, allow_none=True,
                                        validate=validate.Regexp(r"^[A-Z][A-Z0-9_]*$"))

    @validates_schema
    def _reachable(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data["kind"] != "portal" and not data.get("endpoint"):
            raise ValidationError("a partner with a system needs an endpoint", "endpoint")
        if data["inbound"] == "poll" and data["kind"] == "portal":
            raise ValidationError("portal partners answer in Lotse: nothing to poll", "inbound")
        if data["kind"] == "secure_submission" and not data.get("destination_id"):
            raise ValidationError("a secure submission needs the partner's destination id",
                                  "destination_id")
        if (data["kind"] != "portal" and data["inbound"] == "webhook"
                and not data.get("callback_secret_env")):
            raise ValidationError("a partner answering by webhook needs its own callback "
                                  "secret", "callback_secret_env")
        if "referral_id" not in data["allow_list"]:
            raise ValidationError("the referral id must be shared: answers refer to it",
                                  "allow_list")


class _Directory(Schema):
    class Meta:
        unknown = RAISE

    partners = fields.List(fields.Nested(_Entry), required=True,
                           validate=validate.Length(min=1))


@dataclass(frozen=True)
class OpeningHours:
    days: tuple[str, ...]
    opens: str
    closes: str


@dataclass(frozen=True)
class Visit:
    address: str
    phone: str | None = None
    hours: tuple[OpeningHours, ...] = ()


@dataclass(frozen=True)
class PartnerService:
    code: str
    name: str
    name_en: str | None = None
    bring: tuple[str, ...] = ()


@dataclass(frozen=True)
class PartnerConfig:
    code: str
    name: str
    kind: str
    channel: str
    format: str
    endpoint: str | None
    auth_scheme: str
    secret_env: str | None
    connect_timeout: float
    read_timeout: float
    rate_limit_per_minute: int
    breaker_failures: int
    breaker_open_seconds: float
    max_attempts: int
    legal_basis: str | None
    allow_list: tuple[str, ...]
    destination_id: str | None = None
    inbound: str = "webhook"
    name_en: str | None = None
    legal_basis_de: str | None = None
    visit: Visit | None = None
    poll_seconds: float = 300.0
    callback_secret_env: str | None = None
    services: tuple[PartnerService, ...] = ()

    @property
    def has_system(self) -> bool:
        """False: the partner takes referrals over in Lotse's partner portal."""
        return self.kind != "portal"

    def url(self, sandbox_url: str) -> str:
        """The endpoint; `{sandbox}` stands for the stand-in partner systems' base URL."""
        return (self.endpoint or "").replace("{sandbox}", sandbox_url.rstrip("/"))


def load_directory(path: Path | str | None = None) -> dict[str, PartnerConfig]:
    """Read and check the directory; a broken entry fails loudly, naming itself."""
    source = path or os.environ.get("LOTSE_PARTNERS_FILE") or DEFAULT_FILE
    try:
        raw: Any = json.loads(read_text(source))
        data = _Directory().load(raw)
    except (OSError, ValueError) as exc:
        raise PartnerConfigError(f"partner directory {source}: {exc}") from None
    except ValidationError as exc:
        problems = exc.messages.get("partners", exc.messages) if isinstance(exc.messages,
                                                                            dict) else {}
        named = {(raw["partners"][i].get("code", i) if isinstance(i, int) else i): v
                 for i, v in problems.items()} if isinstance(problems, dict) else problems
        raise PartnerConfigError(f"partner directory {source}: {named}") from None
    out: dict[str, PartnerConfig] = {}
    for entry in data["partners"]:
        if entry["code"] in out:
            raise PartnerConfigError(f"partner directory {source}: {entry['code']} twice")
        auth = entry.pop("auth")
        services = tuple(PartnerService(**{**s, "bring": tuple(s["bring"])})
                         for s in entry.pop("services"))
        visit = entry.pop("visit")
        if visit is not None:
            entry["visit"] = Visit(visit["address"], visit["phone"], tuple(
                OpeningHours(tuple(h["days"]), h["opens"], h["closes"]) for h in visit["hours"]))
        if len({s.code for s in services}) != len(services):
            raise PartnerConfigError(f"partner directory {source}: {entry['code']} names a "
                                     "service twice")
        out[entry["code"]] = PartnerConfig(**{**entry, "allow_list": tuple(entry["allow_list"])},
                                           services=services,
                                           auth_scheme=auth["scheme"],
                                           secret_env=auth.get("secret_env"))
    return out


DIRECTORY = load_directory()


def services_by_partner(directory: Mapping[str, PartnerConfig] | None = None,
                        ) -> dict[str, tuple[str, ...]]:
    """The service codes each partner of the directory offers."""
    return {code: tuple(s.code for s in p.services)
            for code, p in (DIRECTORY if directory is None else directory).items()}
