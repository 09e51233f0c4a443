"""Figures for a period, read from the reporting service's own tables.

A period is a range of the city's calendar days, both ends included; consultations count on
the day they were recorded, referrals on the day they were opened, occurrences (holds,
deadline breaches, consent withdrawals, erasures) on the day they happened. Rows may be split
by an interval (day, week, month, quarter, year): each then names its `period`.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import case, func, select
from sqlalchemy.engine import Connection

from services.reporting import domain
from services.reporting import tables as t

TOP_NATIONALITIES = 10
REFERRAL_MEASURES = ("referrals", "reroutes", "median_hours_to_acknowledgement",
                     "p90_hours_to_acknowledgement", "median_hours_to_acceptance",
                     "p90_hours_to_acceptance")


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    interval: str | None = None  # rows split by it when set
    filters: Mapping[str, str] = field(default_factory=dict)


def _consultation_column(name: str) -> Any:
    c = t.consultations.c
    if name == "visit":
        return case((c.return_visit.is_(True), "returning"), else_="new").label("visit")
    return c[name].label(name)


def consultation_rows(conn: Connection, period: Period,
                      by: Sequence[str]) -> list[dict[str, Any]]:
    """Consultations counted per combination of the `by` dimensions (and period)."""
    c = t.consultations
    columns = [_consultation_column(name) for name in by]
    if period.interval:
        columns.append(c.c.day)
    query = (select(*columns, func.count().label("consultations"))
             .where(c.c.day >= period.start, c.c.day <= period.end,
                    *[_consultation_column(k) == v for k, v in period.filters.items()])
             .group_by(*columns))
    rows = [dict(row._mapping) for row in conn.execute(query)]
    return _by_period(rows, by, period.interval, ("consultations",))


def _by_period(rows: list[dict[str, Any]], by: Sequence[str], interval: str | None,
               counts: Sequence[str]) -> list[dict[str, Any]]:
    """Rows of days folded into rows of periods (counts added up), sorted."""
    if interval:
        folded: dict[tuple[Any, ...], dict[str, Any]] = {}
        for row in rows:
            period = domain.period_of(row.pop("day"), interval)
            key = (period, *[row[name] for name in by])
            into = folded.setdefault(key, {"period": period, **{n: row[n] for n in by},
                                           **{m: 0 for m in counts}})
            for m in counts:
                into[m] += row[m]
        rows = list(folded.values())
    keys = (["period"] if interval else []) + list(by)
    return sorted(rows, key=lambda r: tuple("" if r[k] is None else str(r[k]) for k in keys))


def referral_rows(conn: Connection, period: Period,
                  by: Sequence[str]) -> list[dict[str, Any]]:
    """Referrals counted per combination of the `by` dimensions (and period), with their
    re-routes and the hours to the partner's acknowledgement and acceptance (median and
    90th percentile, measured from when the referral left for the partner)."""
    r = t.referrals
    query = select(r.c.day, r.c.requested_at, r.c.acknowledged_at, r.c.accepted_at,
                   *[r.c[name] for name in by if name not in ("day",)]).where(
        r.c.day >= period.start, r.c.day <= period.end,
        *[r.c[k] == v for k, v in period.filters.items()])
    if "rerouted" not in by:
        query = query.add_columns(r.c.rerouted)
    groups: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
    for row in conn.execute(query):
        label = domain.period_of(row.day, period.interval) if period.interval else None
        groups[(label, *[getattr(row, name) for name in by])].append(row)
    out = []
    for (label, *values), members in groups.items():
        row = ({"period": label} if period.interval else {}) | dict(zip(by, values, strict=True))
        out.append(row | _referral_measures(members))
    keys = (["period"] if period.interval else []) + list(by)
    return sorted(out, key=lambda r: tuple("" if r[k] is None else str(r[k]) for k in keys))


def _referral_measures(members: Sequence[Any]) -> dict[str, Any]:
    ack = domain.hours(_seconds(m.requested_at, m.acknowledged_at) for m in members
                       if m.requested_at and m.acknowledged_at)
    accept = domain.hours(_seconds(m.requested_at, m.accepted_at) for m in members
                          if m.requested_at and m.accepted_at)
    return {"referrals": len(members), "reroutes": sum(1 for m in members if m.rerouted),
            "median_hours_to_acknowledgement": domain.rounded(domain.median(ack)),
            "p90_hours_to_acknowledgement": domain.rounded(domain.percentile(ack, 0.9)),
            "median_hours_to_acceptance": domain.rounded(domain.median(accept)),
            "p90_hours_to_acceptance": domain.rounded(domain.percentile(accept, 0.9))}


def _seconds(start: Any, end: Any) -> float:
    return max(0.0, (end - start).total_seconds())


def occurrence_counts(conn: Connection, period: Period, kind: str) -> dict[str, int]:
    """How often something happened in the period, by its detail (a reason, a phase)."""
    o = t.occurrences
    query = (select(o.c.detail, func.count()).where(
        o.c.kind == kind, o.c.day >= period.start, o.c.day <= period.end,
        *[o.c[k] == v for k, v in period.filters.items() if k in ("partner", "service")])
        .group_by(o.c.detail))
    return {detail: count for detail, count in conn.execute(query)}


def _counts(rows: Iterable[Mapping[str, Any]], name: str, measure: str) -> dict[str, int]:
    return {str(row[name]): row[measure] for row in rows}


def summary(conn: Connection, period: Period) -> dict[str, Any]:
    """Every figure of the period in one answer (the dashboard's, and the API's summary)."""
    only = Period(period.start, period.end, filters={
        k: v for k, v in period.filters.items() if k in domain.CONSULTATION_DIMENSIONS})
    consultations: dict[str, Any] = {"total": sum(r["consultations"] for r in
                                                  consultation_rows(conn, only, ()))}
    for name in domain.CONSULTATION_DIMENSIONS:
        if name == "nationality":
            continue
        consultations[f"by_{name}"] = _counts(consultation_rows(conn, only, [name]), name,
                                              "consultations")
    nationalities = sorted(consultation_rows(conn, only, ["nationality"]),
                           key=lambda r: (-r["consultations"], r["nationality"]))
    consultations["top_nationalities"] = nationalities[:TOP_NATIONALITIES]
    referral_filters = {k: v for k, v in period.filters.items() if k in ("partner",
                                                                          "service")}
    ref = Period(period.start, period.end, filters=referral_filters)
    everything = referral_rows(conn, ref, [])
    referrals: dict[str, Any] = everything[0] if everything else {
        "referrals": 0, "reroutes": 0, **{m: None for m in REFERRAL_MEASURES[2:]}}
    for name in ("partner", "service", "status", "outcome"):
        referrals[f"by_{name}"] = _counts(referral_rows(conn, ref, [name]), name,
                                          "referrals")
    occ = Period(period.start, period.end, filters=referral_filters)
    return {
        "from": period.start.isoformat(), "to": period.end.isoformat(),
        "consultations": consultations,
        "referrals": referrals,
        "deadline_breaches": occurrence_counts(conn, occ, domain.DEADLINE_BREACH),
        "on_hold_reasons": occurrence_counts(conn, occ, domain.ON_HOLD),
        "consent_withdrawals": sum(occurrence_counts(conn, occ,
                                                     domain.CONSENT_WITHDRAWAL).values()),
        # a person's erasure concerns no partner: counted whatever the filter
        "erasures": sum(occurrence_counts(conn, Period(period.start, period.end),
                                          domain.ERASURE).values()),
        "review": consultation_rows(conn, only, ["site", "nationality_group"]),
    }
