"""The console learns from events and metrics: overdue referrals from the referral events it
journals (its own table ops_referrals), outbox backlogs and partner circuits from the
services' Prometheus metrics, no other service's table read. The journal takes its events
in batches (one insert) or one by one, with the same result."""
from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from services import registry
from services.ops import console, domain, erasure, handlers, projection
from services.ops import tables as t
from services.ops.bootstrap import bootstrap
from services.ops.readings import Databases, ServiceMetrics
from shared import metrics
from shared.db import migrate
from shared.events.envelope import new_envelope, parse_envelope

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


class Referral:
    """Events of one referral as the referral service publishes them (through the wire)."""

    def __init__(self, partner: str = "welfare"):
        self.id, self.intake_id, self.partner = str(uuid.uuid4()), str(uuid.uuid4()), partner
        self.correlation = str(uuid.uuid4())

    def _wire(self, event_type: str, data: dict, cause: str | None = None):
        e = new_envelope(event_type, 1, "referral", f"referral/{self.id}", data,
                         correlation_id=self.correlation, causation_id=cause)
        return parse_envelope(e.to_json())

    def requested(self, when: float):
        return self._wire("referral.requested", {
            "referral_id": self.id, "intake_id": self.intake_id, "intake_reference": "L-1",
            "need": "living_costs", "partner": self.partner, "service": "sgb2",
            "routing_reason": "rule", "status": "requested", "version": 1,
            "requested_at": at(when), "residence_status": "TEMP_PROTECTION_24",
            "person": {"given_name": "Olena", "family_name": "Kovalenko",
                       "birth_date": "1987-03-14", "nationality": "UA", "languages": ["uk"]},
            "consent_method": "signed_form"})

    def status(self, status: str, version: int, when: float, previous: str = "requested"):
        return self._wire("referral.status_changed", {
            "referral_id": self.id, "intake_id": self.intake_id, "need": "living_costs",
            "partner": self.partner, "service": "sgb2", "status": status,
            "previous_status": previous, "reason": None, "partner_case_ref": "C-1",
            "version": version, "changed_at": at(when), "changed_by": "partner:welfare"})

    def overdue(self, phase: str, status: str, when: float, kind: str = "referral.overdue"):
        return self._wire(kind, {
            "referral_id": self.id, "intake_id": self.intake_id, "partner": self.partner,
            "service": "sgb2", "partner_case_ref": None, "status": status, "phase": phase,
            "due_at": at(when - 1), "noticed_at": at(when)})


def scenario() -> tuple[list, dict[str, Referral]]:
    """Five referrals, three of them overdue now, in the order the journal receives them."""
    a, b, c, d, e = (Referral(), Referral(), Referral("jobcenter"), Referral(), Referral())
    events = [
        a.requested(0), a.overdue("acknowledgement", "requested", 10),  # overdue
        b.requested(0), b.overdue("acknowledgement", "requested", 10),
        b.status("accepted", 2, 11),  # a new phase: no longer overdue
        c.requested(0), c.status("accepted", 2, 1),
        c.overdue("completion", "accepted", 20),  # overdue
        d.requested(0), d.overdue("acknowledgement", "requested", 10),
        d.status("completed", 3, 12, previous="received"),  # done: not counted
        # out of order on the bus: the later status first, then the older one
        e.status("in-progress", 3, 5, previous="accepted"), e.requested(0),
        e.overdue("completion", "in-progress", 30),  # overdue
        e.overdue("completion", "in-progress", 31, kind="referral.reminder_due"),
    ]
    return events, {"a": a, "b": b, "c": c, "d": d, "e": e}


def ops_only(settings):
    """The console's database migrated; the other services' databases exist but are empty."""
    ops = settings.for_service("ops")
    migrate("ops", ops.database_url)
    return ops, bootstrap(ops)


def feed(deps, envelopes, batch: int | None) -> None:
    """Through the journal's batch handler (`batch` at a time) or its per-event handler."""
    if batch is None:
        for envelope in envelopes:
            with deps.uow() as uow:
                handlers.record_in_journal(envelope, uow)
                uow.commit()
        return
    for start in range(0, len(envelopes), batch):
        with deps.uow() as uow:
            handlers.record_batch_in_journal(envelopes[start:start + batch], uow)
            uow.commit()


class Exposition(BaseHTTPRequestHandler):
    """A relay's or worker's /metrics."""

    body = ""

    def do_GET(self):
        payload = self.body.encode()
        self.send_response(200)
        self.send_header("Content-Type", metrics.CONTENT_TYPE)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def metrics_url():
    server = HTTPServer(("127.0.0.1", 0), Exposition)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/metrics"
    server.shutdown()
    server.server_close()


def test_overdue_and_backlog_figures_come_from_events_and_metrics(settings, metrics_url):
    ops, deps = ops_only(settings)
    events, _ = scenario()
    feed(deps, events, batch=50)
    Exposition.body = (
        '# TYPE lotse_outbox_pending gauge\n'
        'lotse_outbox_pending{service="intake"} 12.0\n'
        'lotse_outbox_pending{service="referral"} 0.0\n'
        '# TYPE lotse_outbox_oldest_pending_seconds gauge\n'
        'lotse_outbox_oldest_pending_seconds{service="intake"} 75.5\n'
        'lotse_outbox_oldest_pending_seconds{service="referral"} 0.0\n'
        '# TYPE lotse_partner_circuit_open gauge\n'
        'lotse_partner_circuit_open{partner="jobcenter"} 1.0\n'
        'lotse_partner_circuit_open{partner="welfare"} 0.0\n')
    databases = Databases(ops)

    readings = console.backlogs(deps.engine, databases, {}, service_metrics=ServiceMetrics(
        (metrics_url,), local=False))

    # no other service's table exists: the figures cannot have come from there
    for service in ("intake", "referral", "partner_adapter"):
        assert inspect(databases(service)).get_table_names() == []
    assert readings["unreachable"] == {}
    assert readings["overdue_referrals"] == 3
    assert readings["outboxes"]["intake"] == {"pending": 12, "oldest_pending_seconds": 75.5}
    assert readings["outboxes"]["referral"] == {"pending": 0, "oldest_pending_seconds": 0.0}
    assert readings["outboxes"]["partner_adapter"]["pending"] is None  # no relay reported
    assert readings["circuits"] == {"jobcenter": "open", "welfare": "closed"}
    alerts = {a.key: a for a in domain.evaluate(readings, domain.Thresholds())}
    assert alerts["overdue_referrals"].value == "3"
    assert alerts["outbox_lag:intake"].value == "76"
    assert alerts["open_circuits"].message == "circuit open for jobcenter"


def test_embedded_the_figures_come_from_this_process_s_own_metrics(settings):
    """`lotse run`: every relay and the case opener report into this process's registry."""
    ops, deps = ops_only(settings)
    metrics.set_outbox_pending("partner_adapter", 4, 2.5)
    metrics.set_circuit_states({"sandbox-partner-x": ("half-open",)})
    readings = console.backlogs(deps.engine, Databases(ops), {},
                                service_metrics=ServiceMetrics())
    assert readings["outboxes"]["partner_adapter"] == {"pending": 4,
                                                       "oldest_pending_seconds": 2.5}
    assert readings["circuits"]["sandbox-partner-x"] == "half-open"
    metrics.set_circuit_states({"sandbox-partner-x": ("closed",)})


def test_an_unreadable_metrics_address_leaves_its_figures_unknown(settings):
    from tests.conftest import free_port

    ops, deps = ops_only(settings)
    url = f"http://127.0.0.1:{free_port()}/metrics"
    readings = console.backlogs(deps.engine, Databases(ops), {},
                                service_metrics=ServiceMetrics((url,), local=False))
    assert set(readings["metrics_unreadable"]) == {url}
    assert {o["pending"] for o in readings["outboxes"].values()} == {None}
    assert readings["unreachable"] == {}  # not an alert of its own: Prometheus has LotseTargetDown


def rows(deps):
    with deps.engine.connect() as conn:
        journal = sorted(
            tuple((k, v) for k, v in r._mapping.items() if k not in ("id", "recorded_at"))
            for r in conn.execute(select(t.journal)))
        projected = sorted(
            tuple((k, v) for k, v in r._mapping.items() if k != "updated_at")
            for r in conn.execute(select(t.referrals)))
        overdue = projection.overdue_referrals(conn)
    return journal, projected, overdue


@pytest.mark.parametrize("batch", [50, 4, 1])
def test_a_batch_and_the_same_events_one_by_one_end_in_the_same_rows(tmp_path, batch):
    from tests.conftest import embedded_settings

    events, _ = scenario()
    one_by_one = ops_only(embedded_settings(tmp_path / "single"))[1]
    batched = ops_only(embedded_settings(tmp_path / "batched"))[1]
    feed(one_by_one, events, batch=None)
    feed(batched, events, batch=batch)
    expected = rows(one_by_one)
    assert len(expected[0]) == len(events) and len(expected[1]) == 5 and expected[2] == 3
    assert rows(batched) == expected
    # and every row matches the plain rules folded in memory
    folded = domain.fold(domain.referral_facts(e) for e in events)
    assert sum(f.overdue for f in folded.values()) == 3


def test_an_event_journalled_again_is_skipped_and_changes_nothing(settings):
    """A replay after the inbox row was purged: no duplicate, no error."""
    _, deps = ops_only(settings)
    events, _ = scenario()
    feed(deps, events, batch=50)
    before = rows(deps)
    feed(deps, events[:6], batch=50)
    feed(deps, events[6:9], batch=None)
    assert rows(deps) == before


def test_erasure_deletes_the_projection_rows_of_the_persons_referrals(settings):
    _, deps = ops_only(settings)
    events, refs = scenario()
    feed(deps, events, batch=50)
    request = new_envelope("person.erasure_requested", 1, "intake", "person/p", {
        "request_id": str(uuid.uuid4()), "person_id": str(uuid.uuid4()),
        "person_ids": [], "intake_ids": [refs["a"].intake_id],
        "referral_ids": [refs["a"].id, refs["c"].id], "requested_at": T0})
    with deps.uow() as uow:
        erasure.erase_person(parse_envelope(request.to_json()), uow)
        uow.commit()
    with deps.engine.connect() as conn:
        left = set(conn.execute(select(t.referrals.c.referral_id)).scalars())
        assert projection.overdue_referrals(conn) == 1  # e only
    assert left == {refs[k].id for k in "bde"}


def test_the_trace_names_who_answered_each_event_from_the_journal_alone(settings):
    ops, deps = ops_only(settings)
    intake_id = str(uuid.uuid4())
    recorded = new_envelope("consent.given", 1, "intake", f"intake/{intake_id}", {
        "consent_id": str(uuid.uuid4()), "person_id": str(uuid.uuid4()), "partner": "welfare",
        "method": "signed_form", "language": "uk", "purpose": "referral", "given_at": T0})
    ref = Referral()
    ref.correlation = recorded.correlationid
    answer = ref.status("requested", 2, 0.001, previous="on-hold")
    answer = replace(answer, causationid=recorded.id, time=recorded.time + timedelta(
        milliseconds=40))
    later = replace(ref.status("requested", 3, 0.002, previous="on-hold"),
                    causationid=recorded.id, time=recorded.time + timedelta(milliseconds=90))
    feed(deps, [parse_envelope(recorded.to_json()), answer, later], batch=50)

    result = console.trace(deps.engine, registry.topology(ops), recorded.id)
    first = result["events"][0]
    assert first["event_id"] == recorded.id
    assert first["handled_by"] == [{"subscriber": "referral.follow_consents", "ms": 40.0}]


def test_a_trace_starts_from_the_intake_reference_staff_read_out(settings):
    """The trace page invites the LT reference: it finds the intake and its referrals'
    events by it (written any case)."""
    from tests.component.test_delivery import intake_recorded

    ops, deps = ops_only(settings)
    recorded = parse_envelope(intake_recorded())
    feed(deps, [recorded], batch=50)
    result = console.trace(deps.engine, registry.topology(ops), "lt-2026-abcdef")
    assert [e["event_id"] for e in result["events"]] == [recorded.id]
    with pytest.raises(console.NothingToTrace):
        console.trace(deps.engine, registry.topology(ops), "LT-2026-ZZZZZZ")


def test_the_migration_fills_the_projection_from_the_journal(tmp_path, url=None):
    """An existing console upgraded: the referrals it journalled count at once (on
    PostgreSQL too: tests/integration/test_ops_projection_postgres.py)."""
    from alembic import command
    from alembic.config import Config

    from shared.clock import utcnow
    from shared.db import make_engine

    url = url or f"sqlite:///{tmp_path / 'ops.db'}"
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(console.__file__).parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["service"] = "ops"
    command.upgrade(cfg, "0002")
    events, refs = scenario()
    engine = make_engine(url)
    with engine.begin() as conn:  # journalled by the console before this change
        # (as journalled then: without the intake reference, which 0004 fills from the data)
        conn.execute(t.journal.insert(), [
            {k: v for k, v in domain.journal_entry(e, utcnow()).items()
             if k != "intake_reference"} for e in events])
        conn.execute(t.erased.insert().values(kind="referral", subject_id=refs["c"].id,
                                              request_id="r", erased_at=T0))
    command.upgrade(cfg, "head")
    with engine.connect() as conn:
        backfilled = {r.referral_id: r for r in conn.execute(select(t.referrals))}
        references = set(conn.execute(select(t.journal.c.intake_reference).where(
            t.journal.c.type == "referral.requested")).scalars())
        assert references == {"L-1"}
        assert projection.overdue_referrals(conn) == 2  # a and e; c was erased
    folded = domain.fold(domain.referral_facts(e) for e in events)
    assert set(backfilled) == set(folded) - {refs["c"].id}
    for rid, row in backfilled.items():
        f = folded[rid]
        assert (row.status, row.version, row.partner, row.work_since, row.ack_overdue_since,
                row.completion_overdue_since) == (f.status, f.version, f.partner, f.work_since,
                                                  f.ack_overdue_since,
                                                  f.completion_overdue_since)
    engine.dispose()


def journal_subscription():
    from services.ops.consumers import SUBSCRIPTIONS

    [sub] = [s for s in SUBSCRIPTIONS if s.key == "ops.journal"]
    return sub


def test_the_journal_subscription_has_a_batch_handler_and_a_per_event_one():
    sub = journal_subscription()
    assert sub.batch_handler is handlers.record_batch_in_journal
    assert getattr(sub.handler, "__wrapped__", sub.handler) is handlers.record_in_journal


def test_delivered_as_a_batch_or_retried_one_by_one_the_journal_ends_the_same(tmp_path):
    """Through the bus's delivery: one batch_handler call per batch; a batch that fails is
    delivered again message by message through the per-event handler."""
    from shared.bus import delivery
    from tests.conftest import embedded_settings

    if not hasattr(delivery, "deliver_batch"):
        pytest.skip("batched delivery not there yet (shared/bus/delivery.py)")
    events, _ = scenario()
    bodies = [e.to_json() for e in events]
    sub = journal_subscription()
    calls = []

    def counting(envelopes, uow):
        calls.append(len(envelopes))
        handlers.record_batch_in_journal(envelopes, uow)

    def failing(envelopes, uow):
        handlers.record_batch_in_journal(envelopes, uow)
        raise RuntimeError("the batch fails after its insert: rolled back")

    batched = ops_only(embedded_settings(tmp_path / "batched"))[1]
    retried = ops_only(embedded_settings(tmp_path / "retried"))[1]
    outcomes = delivery.deliver_batch(bodies, replace(sub, batch_handler=counting), batched.uow)
    assert calls == [len(events)]
    again = delivery.deliver_batch(bodies, replace(sub, batch_handler=failing), retried.uow)
    assert {o.verdict for o in outcomes + again} == {delivery.Verdict.ACK}
    assert rows(retried) == rows(batched)
    assert rows(batched)[2] == 3
