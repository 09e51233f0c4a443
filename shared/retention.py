"""Retention schedules (storage limitation, Art. 5(1)(e) GDPR): what is kept how long, as data.

The schedule (`shared/defaults/retention.json`, or the file `LOTSE_RETENTION_FILE` names) has
one entry per data category and service: what it covers, how many days it is kept, from which
moment that is measured, whether it is then deleted or anonymised, and the legal reason. Each
service implements its categories as `Purge`s over its own tables
(`services/<service>/retention.py`); `apply_schedule` works out the cut-off of each entry from
an injected `now` and lets the purges count (dry run) or act. A service whose purges and the
schedule disagree (a category without code, code without an entry, another starting point)
refuses to start, naming the entry and field.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from marshmallow import RAISE, Schema, ValidationError, fields, validate
from sqlalchemy import Column, ColumnElement, Select, Table, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from shared.clock import Clock
from shared.defaults import TEXT_LANGUAGES, in_language, read_text, resource
from shared.runtime import StopSignal

DEFAULT_FILE = resource("retention.json")  # shipped in the package
ACTIONS = ("delete", "anonymise")
SERVICES = ("intake", "referral", "partner_adapter", "ops", "reporting")

log = logging.getLogger(__name__)


class RetentionConfigError(ValueError):
    """The schedule is broken; the message names the entry and field."""


Text = str | Mapping[str, str]  # the same in each language, or {"de": ..., "en": ...}


@dataclass(frozen=True)
class RetentionRule:
    """One entry of the schedule."""

    category: str
    service: str
    covers: Text
    keep_for_days: int
    measured_from: str
    action: str
    legal_reason: Text

    def said_in(self, lang: str) -> tuple[str, str]:
        """What the entry covers and its legal reason, in `lang`."""
        return in_language(self.covers, lang), in_language(self.legal_reason, lang)

    def cutoff(self, now: datetime) -> datetime:
        """Rows whose starting point lies before this moment are due."""
        return now - timedelta(days=self.keep_for_days)


class _Entry(Schema):
    class Meta:
        unknown = RAISE

    category = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{1,59}$"))
    service = fields.String(required=True, validate=validate.OneOf(SERVICES))
    covers = fields.Method(deserialize="_text", required=True)
    keep_for_days = fields.Integer(required=True, strict=True,
                                   validate=validate.Range(min=0, max=36_500))
    measured_from = fields.String(required=True, validate=validate.Length(min=2, max=60))
    action = fields.String(required=True, validate=validate.OneOf(ACTIONS))
    legal_reason = fields.Method(deserialize="_text", required=True)

    def _text(self, value: Any) -> Text:
        """A text of 3 to 500 characters, or one per language of the shipped texts."""
        said = value if isinstance(value, dict) else {"": value}
        if not said or (isinstance(value, dict) and not set(value) <= set(TEXT_LANGUAGES)) or \
                not all(isinstance(t, str) and 3 <= len(t) <= 500 for t in said.values()):
            raise ValidationError("a text of 3 to 500 characters, or {\"de\": ..., \"en\": "
                                  "...} with such texts")
        return dict(value) if isinstance(value, dict) else str(value)


class _Schedule(Schema):
    class Meta:
        unknown = RAISE

    categories = fields.List(fields.Dict(), required=True, validate=validate.Length(min=1))


def load_schedule(path: Path | str | None = None) -> tuple[RetentionRule, ...]:
    """Read and check the schedule; a broken entry fails loudly, naming itself and the field."""
    source = path or DEFAULT_FILE
    try:
        raw: Any = json.loads(read_text(source))
        entries = _Schedule().load(raw)["categories"]
    except (OSError, ValueError) as exc:
        raise RetentionConfigError(f"retention schedule {source}: {exc}") from None
    except ValidationError as exc:
        raise RetentionConfigError(f"retention schedule {source}: {exc.messages}") from None
    rules: dict[tuple[str, str], RetentionRule] = {}
    for i, entry in enumerate(entries):
        name = f"{entry.get('service', '?')}/{entry.get('category', i)}"
        try:
            rule = RetentionRule(**_Entry().load(entry))
        except ValidationError as exc:
            raise RetentionConfigError(
                f"retention schedule {source}: entry {name}: {exc.messages}") from None
        if (rule.service, rule.category) in rules:
            raise RetentionConfigError(f"retention schedule {source}: entry {name} twice")
        rules[(rule.service, rule.category)] = rule
    return tuple(rules.values())


@dataclass(frozen=True)
class Purge:
    """A service's code for one category: `apply(cutoff, now, dry_run) -> rows due`.

    In a dry run it only counts; otherwise it deletes or anonymises and returns how many."""

    measured_from: str
    action: str
    apply: Callable[[datetime, datetime, bool], int]


def check_coverage(schedule: Iterable[RetentionRule], service: str,
                   purges: Mapping[str, Purge]) -> None:
    """The schedule and the service's code must describe the same categories."""
    entries = {r.category: r for r in schedule if r.service == service}
    for category, rule in entries.items():
        purge = purges.get(category)
        if purge is None:
            raise RetentionConfigError(f"retention entry {service}/{category}: category: "
                                       f"the {service} service has no code for it")
        for field in ("measured_from", "action"):
            if getattr(rule, field) != getattr(purge, field):
                raise RetentionConfigError(
                    f"retention entry {service}/{category}: {field}: "
                    f"{getattr(rule, field)!r}, but the code implements "
                    f"{getattr(purge, field)!r}")
    missing = sorted(set(purges) - set(entries))
    if missing:
        raise RetentionConfigError(f"retention schedule: no entry for {service}/"
                                   f"{missing[0]}: every stored category needs a period")


@dataclass(frozen=True)
class Outcome:
    service: str
    category: str
    action: str
    cutoff: datetime
    count: int
    dry_run: bool


def apply_schedule(schedule: Iterable[RetentionRule], service: str,
                   purges: Mapping[str, Purge], now: datetime,
                   dry_run: bool = False) -> list[Outcome]:
    """Apply (or with dry_run, count) every entry of one service as of `now`."""
    outcomes = []
    for rule in schedule:
        if rule.service != service:
            continue
        cutoff = rule.cutoff(now)
        count = purges[rule.category].apply(cutoff, now, dry_run)
        outcomes.append(Outcome(service, rule.category, rule.action, cutoff, count, dry_run))
    return outcomes


def render_table(outcomes: Iterable[Outcome]) -> str:
    """The CLI's table: one line per category with the rows due (dry run) or handled."""
    outcomes = list(outcomes)
    lines = [f"{'service':<16} {'category':<26} {'action':<10} {'older than':<17} "
             f"{'due' if outcomes and outcomes[0].dry_run else 'done':>7}"]
    for o in outcomes:
        lines.append(f"{o.service:<16} {o.category:<26} {o.action:<10} "
                     f"{o.cutoff.strftime('%Y-%m-%d %H:%M'):<17} {o.count:>7}")
    return "\n".join(lines)


# --- the purges every bus service shares -----------------------------------------------------

def purge_rows(session_factory: sessionmaker[Session], table: Table, column: str, *,
               measured_from: str,
               where: Callable[[Table], Iterable[ColumnElement[bool]]] = lambda t: ()) -> Purge:
    """Delete the rows of `table` whose `column` lies before the cut-off (and `where`)."""
    def apply(cutoff: datetime, now: datetime, dry_run: bool) -> int:
        conditions = [table.c[column] < cutoff, *where(table)]
        with session_factory() as session:
            if dry_run:
                return session.execute(select(func.count()).select_from(table)
                                       .where(*conditions)).scalar_one()
            # on the session's connection: a Core DML result, which has the rowcount
            count = session.connection().execute(delete(table).where(*conditions)).rowcount
            session.commit()
            return count
    return Purge(measured_from, "delete", apply)


def purge_with_dependents(session_factory: sessionmaker[Session],
                          due: Callable[[datetime], Select[Any]], keys: Sequence[Column[Any]],
                          *, measured_from: str, chunk: int = 500) -> Purge:
    """Delete the rows whose ids `due(cutoff)` selects, with the rows that depend on them:
    `keys` are the columns holding those ids, children first, the parent's key last; in
    chunks, so a long list of ids never makes one huge IN clause."""
    def apply(cutoff: datetime, now: datetime, dry_run: bool) -> int:
        with session_factory() as session:
            if dry_run:
                return session.execute(select(func.count()).select_from(
                    due(cutoff).subquery())).scalar_one()
            ids = list(session.execute(due(cutoff)).scalars())
            for start in range(0, len(ids), chunk):
                for key in keys:
                    session.execute(delete(key.table).where(key.in_(ids[start:start + chunk])))
            session.commit()
            return len(ids)
    return Purge(measured_from, "delete", apply)


def bus_purges(session_factory: sessionmaker[Session], outbox: Table,
               inbox: Table) -> dict[str, Purge]:
    """Sent outbox rows and inbox marks: kept only as long as redeliveries and traces need."""
    return {
        "outbox_sent": purge_rows(session_factory, outbox, "sent_at", measured_from="sent_at",
                                  where=lambda t: (t.c.status == "sent",)),
        "inbox": purge_rows(session_factory, inbox, "processed_at",
                            measured_from="processed_at"),
    }


RUN_MAY_TAKE_SECONDS = 3600.0


class RetentionScheduler:
    """Applies one service's schedule at start and then every `interval` seconds.

    Several workers of a service may run it at once: every purge is idempotent (what one
    deleted, the other finds no longer due)."""

    def __init__(self, service: str, job: Callable[[datetime], list[Outcome]], clock: Clock,
                 interval: float):
        self.service, self.job, self.clock, self.interval = service, job, clock, interval

    def run(self, stop: StopSignal) -> None:
        while not stop.is_set():
            # a run may take long (a backlog after a restore, a lock wait): the liveness
            # probe hears of it instead of taking the busy loop for a hung one
            getattr(stop, "beat", lambda within: None)(RUN_MAY_TAKE_SECONDS)
            try:
                outcomes = self.job(self.clock())
                done = {o.category: o.count for o in outcomes if o.count}
                if done:
                    log.info("retention applied", extra={"service": self.service,
                                                         "counts": done})
            except Exception:
                log.exception("retention run failed", extra={"service": self.service})
            stop.wait(self.interval)
