"""Figures for a period, read from the reporting service's own tables.

A period is a range of the city's calendar days, both ends included; consultations count on
the day they were recorded, referrals on the day they were opened, occurrences (holds,
deadline breaches, consent withdrawals, erasures) on the day they happened, walk-in tickets
on the day they were drawn. Rows may be split by an interval (day, week, month, quarter,
year): each then names its `period`.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Mapping, Sequence

from sqlalchemy import case, func, select
from sqlalchemy.engine import Connection

from services.reporting import domain
from services.reporting import tables as t

TOP_NATIONALITIES = 10
REFERRAL_MEASURES = ("referrals", "reroutes", "median_hours_to_acknowledgement",
                     "p90_hours_to_acknowledgement", "median_hours_to_acceptance",
                     "p90_hours_to_acceptance")
QUEUE_MEASURES = ("tickets", "served", "no_shows", "median_wait_minutes", "p90_wait_minutes")


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
    # no consultation, no row (a count without `by` would say 0), as for referrals
    rows = [dict(row._mapping) for row in conn.execute(query) if row.consultations]
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
    if conn.dialect.name == "postgresql":
        return _measured_in_database(conn, period, by)
    names = [*by, "day"] if period.interval else by
    return _grouped(_referrals(conn, period, names), by, period.interval)


def _measured_in_database(conn: Connection, period: Period,
                          by: Sequence[str]) -> list[dict[str, Any]]:
    """The rows referral_rows gives, measured by PostgreSQL, also by period: a year's
    referrals (about 96,000) are not fetched one by one for their percentiles (issue 21,
    item 7). The same figures as _referral_measures: the nearest-rank 90th percentile is
    percentile_disc, the median (the mean of the middle two of an even count)
    percentile_cont; both skip nulls."""
    r = t.referrals
    columns = [_referral_column(name) for name in by]
    if period.interval:  # the label domain.period_of gives, from the city's date
        columns.insert(0, func.to_char(r.c.day, PERIOD_LABELS[period.interval]).label("period"))
    measures = [func.count().label("referrals"),
                func.count().filter(r.c.rerouted.is_(True)).label("reroutes")]
    for name, seconds in (("acknowledgement", r.c.ack_seconds),
                          ("acceptance", r.c.accept_seconds)):
        measures += [func.percentile_cont(0.5).within_group(seconds).label(f"median_{name}"),
                     func.percentile_disc(0.9).within_group(seconds).label(f"p90_{name}")]
    query = _from_referrals(select(*columns, *measures), [*by, *period.filters]) \
        .where(*_opened_in(period)).group_by(*columns)
    labels = (["period"] if period.interval else []) + list(by)
    out = []
    for row in conn.execute(query):
        if not row.referrals:  # no referral, no row (a count without `by` would say 0)
            continue
        out.append({**{name: row._mapping[name] for name in labels},
                    "referrals": row.referrals, "reroutes": row.reroutes,
                    **{f"{measure}_hours_to_{name}": _in_hours(row._mapping[f"{measure}_{name}"])
                       for name in ("acknowledgement", "acceptance")
                       for measure in ("median", "p90")}})
    return sorted(out, key=lambda r: tuple("" if r[k] is None else str(r[k]) for k in labels))


# PostgreSQL's to_char patterns for domain.period_of's labels: 2022-03-07, 2022-W10 (the ISO
# week and its year), 2022-03, 2022-Q1, 2022
PERIOD_LABELS = {"day": "YYYY-MM-DD", "week": 'IYYY-"W"IW', "month": "YYYY-MM",
                 "quarter": 'YYYY-"Q"Q', "year": "YYYY"}


def _in_hours(seconds: Any) -> float | None:
    return None if seconds is None else domain.rounded(float(seconds) / 3600)


def _referrals(conn: Connection, period: Period, names: Sequence[str]) -> list[Any]:
    """The referrals opened in the period: the named columns and the measures' inputs."""
    columns = dict.fromkeys(["rerouted", "ack_seconds", "accept_seconds", *names])
    query = select(*[_referral_column(name) for name in columns])
    return list(conn.execute(_from_referrals(query, [*names, *period.filters]).where(
        *_opened_in(period))))


def _referral_column(name: str) -> Any:
    """A referral's own column, or its consultation's (site, nationality group)."""
    source = t.consultations if name in domain.REFERRAL_CONSULTATION_DIMENSIONS \
        else t.referrals
    return source.c[name].label(name)


def _from_referrals(query: Any, names: Sequence[str]) -> Any:
    return query.select_from(_referral_source(names))


def _referral_source(names: Sequence[str]) -> Any:
    """The referrals, joined to their consultations if a name needs it (a referral whose
    consultation was not counted, or purged, has none: its site is null)."""
    r, c = t.referrals, t.consultations
    if not set(names) & set(domain.REFERRAL_CONSULTATION_DIMENSIONS):
        return r
    return r.outerjoin(c, c.c.intake_key == r.c.intake_key)


def _opened_in(period: Period) -> list[Any]:
    r = t.referrals
    return [r.c.day >= period.start, r.c.day <= period.end,
            *[_referral_column(k) == v for k, v in period.filters.items()]]


def _grouped(members: Sequence[Any], by: Sequence[str], interval: str | None,
             measures: Callable[[Sequence[Any]], dict[str, Any]] | None = None
             ) -> list[dict[str, Any]]:
    """The members grouped by the `by` dimensions (and period), each group measured (by
    default as referrals)."""
    measure = measures or _referral_measures
    groups: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
    for row in members:
        label = domain.period_of(row.day, interval) if interval else None
        groups[(label, *[getattr(row, name) for name in by])].append(row)
    out = []
    for (label, *values), rows in groups.items():
        row = ({"period": label} if interval else {}) | dict(zip(by, values, strict=True))
        out.append(row | measure(rows))
    keys = (["period"] if interval else []) + list(by)
    return sorted(out, key=lambda r: tuple("" if r[k] is None else str(r[k]) for k in keys))


def _referral_measures(members: Sequence[Any]) -> dict[str, Any]:
    ack = domain.hours(m.ack_seconds for m in members if m.ack_seconds is not None)
    accept = domain.hours(m.accept_seconds for m in members if m.accept_seconds is not None)
    return {"referrals": len(members), "reroutes": sum(1 for m in members if m.rerouted),
            "median_hours_to_acknowledgement": domain.rounded(domain.median(ack)),
            "p90_hours_to_acknowledgement": domain.rounded(domain.percentile(ack, 0.9)),
            "median_hours_to_acceptance": domain.rounded(domain.median(accept)),
            "p90_hours_to_acceptance": domain.rounded(domain.percentile(accept, 0.9))}


# --- walk-in tickets -----------------------------------------------------------------------

def queue_rows(conn: Connection, period: Period, by: Sequence[str]) -> list[dict[str, Any]]:
    """Walk-in tickets drawn in the period per combination of the `by` dimensions (and
    period): how many, how many were served and how many did not come when called, and the
    minutes from drawing to being called (median and 90th percentile, nearest rank, of the
    tickets called)."""
    if conn.dialect.name == "postgresql":
        return _queue_measured_in_database(conn, period, by)
    names = [*by, "day"] if period.interval else list(by)
    return _queue_in_python(conn, period, names, by)


def _queue_in_python(conn: Connection, period: Period, names: Sequence[str],
                     by: Sequence[str]) -> list[dict[str, Any]]:
    columns = dict.fromkeys(["status", "waited_seconds", *names])
    members = conn.execute(select(*[_ticket_column(n) for n in columns])
                           .where(*_drawn_in(period))).all()
    return _grouped(members, by, period.interval, _queue_measures)


def _queue_measures(members: Sequence[Any]) -> dict[str, Any]:
    waits = [m.waited_seconds for m in members if m.waited_seconds is not None]
    median, p90 = domain.median(waits), domain.percentile(waits, 0.9)
    return {"tickets": len(members),
            "served": sum(1 for m in members if m.status == domain.SERVED),
            "no_shows": sum(1 for m in members if m.status == domain.NO_SHOW),
            "median_wait_minutes": _in_minutes(median), "p90_wait_minutes": _in_minutes(p90)}


def _queue_measured_in_database(conn: Connection, period: Period,
                                by: Sequence[str]) -> list[dict[str, Any]]:
    """The rows queue_rows gives, measured by PostgreSQL as _measured_in_database measures
    referrals (the median percentile_cont, the nearest-rank 90th percentile percentile_disc,
    both of the seconds waited, skipping the tickets not called)."""
    q = t.queue_tickets
    columns = [_ticket_column(name) for name in by]
    if period.interval:
        columns.insert(0, func.to_char(q.c.day, PERIOD_LABELS[period.interval]).label("period"))
    query = select(*columns, func.count().label("tickets"),
                   func.count().filter(q.c.status == domain.SERVED).label("served"),
                   func.count().filter(q.c.status == domain.NO_SHOW).label("no_shows"),
                   func.percentile_cont(0.5).within_group(q.c.waited_seconds).label("median"),
                   func.percentile_disc(0.9).within_group(q.c.waited_seconds).label("p90")) \
        .where(*_drawn_in(period)).group_by(*columns)
    labels = (["period"] if period.interval else []) + list(by)
    out = [{**{name: row._mapping[name] for name in labels}, "tickets": row.tickets,
            "served": row.served, "no_shows": row.no_shows,
            "median_wait_minutes": _in_minutes(row.median),
            "p90_wait_minutes": _in_minutes(row.p90)}
           for row in conn.execute(query) if row.tickets]
    return sorted(out, key=lambda r: tuple("" if r[k] is None else str(r[k]) for k in labels))


def _in_minutes(seconds: Any) -> float | None:
    return None if seconds is None else domain.rounded(float(seconds) / 60)


def _ticket_column(name: str) -> Any:
    return t.queue_tickets.c[name].label(name)


def _drawn_in(period: Period) -> list[Any]:
    q = t.queue_tickets
    return [q.c.day >= period.start, q.c.day <= period.end,
            *[q.c[k] == v for k, v in period.filters.items()]]


def queue_summary(conn: Connection, period: Period) -> dict[str, Any]:
    """The period's walk-in tickets: how many, by status, site and language, their waits,
    and how many were called needing an interpreter."""
    q = t.queue_tickets
    measured = queue_rows(conn, period, ())  # one row, or none for no ticket
    total = measured[0] if measured else _queue_measures([])
    found: dict[str, Any] = {"tickets": total["tickets"],
                             "median_wait_minutes": total["median_wait_minutes"],
                             "p90_wait_minutes": total["p90_wait_minutes"]}
    counted = counts_by_each(conn, q, _drawn_in(period),
                             {name: q.c[name] for name in ("status", "site", "language")})
    for name, counts in counted.items():
        found[f"by_{name}"] = {str(value): n for value, n in counts.items()}
    found["interpreter_needed"] = conn.execute(select(func.count()).where(
        *_drawn_in(period), q.c.interpreter_needed.is_(True))).scalar_one()
    return found


# Occurrences whose subject is a referral: its consultation's site and nationality group
# narrow them. The others (a consent withdrawn, an erasure) belong to no consultation: they
# count for all sites whatever the filter, and the summary says so (`all_sites`).
OF_A_REFERRAL = (domain.DEADLINE_BREACH, domain.ON_HOLD)
NOT_BY_SITE = ("consent_withdrawals", "erasures")


def occurrence_counts(conn: Connection, period: Period, kind: str) -> dict[str, int]:
    """How often something happened in the period, by its detail (a reason, a phase)."""
    o, r, c = t.occurrences, t.referrals, t.consultations
    where = [o.c.kind == kind, o.c.day >= period.start, o.c.day <= period.end,
             *[o.c[k] == v for k, v in period.filters.items() if k in ("partner", "service")]]
    source: Any = o
    by_consultation = {k: v for k, v in period.filters.items()
                       if k in domain.REFERRAL_CONSULTATION_DIMENSIONS}
    if by_consultation and kind in OF_A_REFERRAL:  # joined on the referral's key
        source = o.join(r, r.c.referral_key == o.c.subject_key).join(
            c, c.c.intake_key == r.c.intake_key)
        where += [c.c[k] == v for k, v in by_consultation.items()]
    query = select(o.c.detail, func.count()).select_from(source).where(*where) \
        .group_by(o.c.detail)
    return {detail: count for detail, count in conn.execute(query)}


def counts_by_each(conn: Connection, source: Any, where: Sequence[Any],
                   columns: Mapping[str, Any]) -> dict[str, dict[Any, int]]:
    """How many rows of the source have each value of each column, column by column. On
    PostgreSQL in one pass over the rows (GROUPING SETS; grouping() tells which column a row
    counts): a year's summary reads its 96,000 referrals once, not once per column."""
    out: dict[str, dict[Any, int]] = {name: {} for name in columns}
    if conn.dialect.name != "postgresql":
        for name, column in columns.items():
            out[name] = {value: n for value, n in conn.execute(
                select(column, func.count()).select_from(source).where(*where)
                .group_by(column))}
        return out
    query = select(*[column.label(name) for name, column in columns.items()],
                   *[func.grouping(column).label(f"grouping_{name}")
                     for name, column in columns.items()],
                   func.count().label("rows_counted")).select_from(source).where(*where) \
        .group_by(func.grouping_sets(*columns.values()))
    for row in conn.execute(query):
        found = row._mapping
        name = next(n for n in columns if found[f"grouping_{n}"] == 0)
        out[name][found[name]] = found["rows_counted"]
    return out


def _in_order(counts: Mapping[Any, int]) -> dict[str, int]:
    """Counts by value as the reports list them: by the value's name."""
    return {str(value): n for value, n in sorted(
        counts.items(), key=lambda item: "" if item[0] is None else str(item[0]))}


def summary(conn: Connection, period: Period) -> dict[str, Any]:
    """Every figure of the period in one answer (the dashboard's, and the API's summary)."""
    only = Period(period.start, period.end, filters={
        k: v for k, v in period.filters.items() if k in domain.CONSULTATION_DIMENSIONS})
    c = t.consultations
    found = counts_by_each(conn, c, [c.c.day >= only.start, c.c.day <= only.end, *[
        _consultation_column(k) == v for k, v in only.filters.items()]], {
        name: c.c.return_visit if name == "visit" else c.c[name]
        for name in domain.CONSULTATION_DIMENSIONS})
    found["visit"] = {"returning" if returning else "new": n
                      for returning, n in found["visit"].items()}
    consultations: dict[str, Any] = {"total": sum(found["site"].values())}
    for name in domain.CONSULTATION_DIMENSIONS:
        if name != "nationality":
            consultations[f"by_{name}"] = _in_order(found[name])
    consultations["top_nationalities"] = [
        {"nationality": code, "consultations": n} for code, n in sorted(
            found["nationality"].items(), key=lambda item: (-item[1], item[0]))
    ][:TOP_NATIONALITIES]
    ref = Period(period.start, period.end, filters={
        k: v for k, v in period.filters.items() if k in domain.REFERRAL_DIMENSIONS})
    measured = referral_rows(conn, ref, ())  # one row, or none for no referral
    referrals: dict[str, Any] = measured[0] if measured else _referral_measures([])
    by = ("partner", "service", "status", "outcome")
    counted = counts_by_each(conn, _referral_source(list(ref.filters)), _opened_in(ref),
                             {name: t.referrals.c[name] for name in by})
    for name in by:
        referrals[f"by_{name}"] = {str(value): n for value, n in counted[name].items()}
    occ = Period(period.start, period.end, filters={
        k: v for k, v in period.filters.items()
        if k in ("partner", "service", *domain.REFERRAL_CONSULTATION_DIMENSIONS)})
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
        # a ticket has a site, but no partner
        "queue": queue_summary(conn, Period(period.start, period.end, filters={
            k: v for k, v in period.filters.items() if k == "site"})),
        "all_sites": list(NOT_BY_SITE),
    }
