"""Wire shapes of the reports API (documented in its OpenAPI document)."""
from __future__ import annotations

from typing import Any, Sequence

from marshmallow import (RAISE, Schema, ValidationError, fields, validate, validates_schema)

from services.reporting.domain import (CONSULTATION_DIMENSIONS, INTERVALS, NATIONALITY_GROUPS,
                                       QUEUE_DIMENSIONS, REFERRAL_DIMENSIONS)

LONGEST_SPAN_DAYS = 3660  # ten years, leap days included
BEFORE_FROM = "must not be before `from`"
TOO_LONG = f"at most {LONGEST_SPAN_DAYS} days after `from`"
FORMATS = ("json", "csv", "xlsx")


class Dimensions(fields.Field):
    """A comma-separated list of dimension names (each once), from a fixed set."""

    def __init__(self, allowed: Sequence[str], **kwargs: Any):
        super().__init__(**kwargs)
        self.allowed = tuple(allowed)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> tuple[str, ...]:
        if not isinstance(value, str):
            raise ValidationError("a comma-separated list of dimensions")
        names = [n.strip() for n in value.split(",") if n.strip()]
        unknown = [n for n in names if n not in self.allowed]
        if unknown:
            raise ValidationError(f"unknown dimension {', '.join(unknown)}; one or more of "
                                  f"{', '.join(self.allowed)}")
        if len(set(names)) != len(names):
            raise ValidationError("each dimension once")
        return tuple(names)


class PeriodQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    start = fields.Date(required=True, data_key="from",
                        metadata={"description": "first day (YYYY-MM-DD, Europe/Berlin)"})
    end = fields.Date(required=True, data_key="to",
                      metadata={"description": "last day, included"})

    @validates_schema
    def _span(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            raise ValidationError(BEFORE_FROM, "to")
        if start and end and (end - start).days > LONGEST_SPAN_DAYS:
            raise ValidationError(TOO_LONG, "to")


class ReportQuerySchema(PeriodQuerySchema):
    format = fields.String(load_default="json", validate=validate.OneOf(FORMATS))
    interval = fields.String(load_default=None, validate=validate.OneOf(INTERVALS), metadata={
        "description": "split the rows by day, week, month, quarter or year (`period`)"})
    suppress_under = fields.Integer(load_default=None, validate=validate.Range(min=2, max=100),
                                    metadata={"description": "for outside readers: counts "
                                              "under this are withheld (null, and named in "
                                              "the row's `suppressed`; `<N` in csv and xlsx)"})


class ConsultationQuerySchema(ReportQuerySchema):
    by = Dimensions(CONSULTATION_DIMENSIONS, load_default=(), metadata={
        "description": "comma-separated: " + ", ".join(CONSULTATION_DIMENSIONS)})
    site = fields.String(load_default=None, validate=validate.Length(min=1, max=40))
    nationality_group = fields.String(load_default=None,
                                      validate=validate.OneOf(NATIONALITY_GROUPS))


class ReferralQuerySchema(ReportQuerySchema):
    by = Dimensions(REFERRAL_DIMENSIONS, load_default=(), metadata={
        "description": "comma-separated: " + ", ".join(REFERRAL_DIMENSIONS)})
    partner = fields.String(load_default=None, validate=validate.Length(min=1, max=40))
    service = fields.String(load_default=None, validate=validate.Length(min=1, max=60))
    need = fields.String(load_default=None, validate=validate.Length(min=1, max=60))
    site = fields.String(load_default=None, validate=validate.Length(min=1, max=40))
    nationality_group = fields.String(load_default=None,
                                      validate=validate.OneOf(NATIONALITY_GROUPS))


class QueueQuerySchema(ReportQuerySchema):
    by = Dimensions(QUEUE_DIMENSIONS, load_default=(), metadata={
        "description": "comma-separated: " + ", ".join(QUEUE_DIMENSIONS)})
    site = fields.String(load_default=None, validate=validate.Length(min=1, max=40))


class SummaryQuerySchema(PeriodQuerySchema):
    site = fields.String(load_default=None, validate=validate.Length(min=1, max=40))
    partner = fields.String(load_default=None, validate=validate.Length(min=1, max=40))


class RowsSchema(Schema):
    rows = fields.List(fields.Dict(), metadata={
        "description": "one per combination of the `by` dimensions (and period) found"})
    suppressed_under = fields.Integer(metadata={"description": "when cells were withheld"})


class QueueSummarySchema(Schema):
    tickets = fields.Integer(metadata={"description": "walk-in tickets drawn"})
    by_status = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "how far they got: waiting, called, served, no_show"})
    by_site = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_language = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "the language the visitor chose (ISO 639)"})
    median_wait_minutes = fields.Float(allow_none=True, metadata={
        "description": "from drawing to being called, of the tickets called (null: none)"})
    p90_wait_minutes = fields.Float(allow_none=True, metadata={
        "description": "90th percentile (nearest rank) of the same"})
    interpreter_needed = fields.Integer(metadata={
        "description": "tickets called by someone not speaking their language"})


class SummarySchema(Schema):
    start = fields.String(data_key="from")
    end = fields.String(data_key="to")
    consultations = fields.Dict()
    referrals = fields.Dict()
    deadline_breaches = fields.Dict(metadata={"description": "by phase"})
    on_hold_reasons = fields.Dict(metadata={"description": "referrals put on hold, by reason"})
    consent_withdrawals = fields.Integer()
    erasures = fields.Integer()
    review = fields.List(fields.Dict(), metadata={"description": "site × nationality group"})
    queue = fields.Nested(QueueSummarySchema, metadata={
        "description": "walk-in tickets drawn in the period (the `site` filter narrows them, "
                       "`partner` does not: a ticket has no partner)"})
    all_sites = fields.List(fields.String(), metadata={
        "description": "figures of every site whatever the `site` filter (they belong to "
                       "no consultation)"})
