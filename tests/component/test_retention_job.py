"""The retention job on each service's own tables, with an injected clock: what is due goes,
what is a day younger stays, a dry run changes nothing and a second run finds nothing more."""
from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from services import retention
from services.intake import access_log, handlers
from services.intake import retention as intake_retention
from services.intake import tables as it
from services.intake.api import command_from
from services.intake.schemas import IntakeInSchema
from services.ops import tables as ot
from services.ops.bootstrap import bootstrap as ops_bootstrap
from services.partner_adapter import tables as pt
from services.referral import tables as rt
from shared.db import migrate
from shared.retention import apply_schedule, load_schedule
from tests.component.conftest import migrated
from tests.conftest import SMOKE_INTAKE, wait_until

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
SCHEDULE = load_schedule()


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def counts(outcomes) -> dict[str, int]:
    return {o.category: o.count for o in outcomes}


def rows(deps, table, *where) -> int:
    with deps.session_factory() as s:
        return s.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def bus_rows(deps, outbox, inbox) -> None:
    """Sent outbox rows 15 and 13 days old, a pending one, inbox marks 31 and 29 days old."""
    with deps.session_factory() as s:
        for i, (status, sent) in enumerate((("sent", days_ago(15)), ("sent", days_ago(13)),
                                            ("pending", None))):
            s.execute(outbox.insert().values(
                event_id=f"e{i}-{uuid.uuid4()}", event_type="x.y", routing_key="x.y",
                correlation_id="c", body="{}", status=status, attempts=0,
                next_attempt_at=days_ago(20), created_at=days_ago(20), sent_at=sent))
        for i, age in enumerate((31, 29)):
            s.execute(inbox.insert().values(subscriber="s", event_id=f"i{i}",
                                            processed_at=days_ago(age)))
        s.commit()


def check_runs(run, expected: dict[str, int]) -> None:
    assert counts(run(True)) == expected          # dry run: counts
    assert counts(run(True)) == expected          # ... and changed nothing
    assert counts(run(False)) == expected         # the run handles exactly those
    assert set(counts(run(False)).values()) == {0}  # and a second run finds nothing more


# --- intake -----------------------------------------------------------------------------------

def record(deps, given_name: str, at: datetime) -> dict:
    data = IntakeInSchema().load({**SMOKE_INTAKE, "person": {**SMOKE_INTAKE["person"],
                                                             "given_name": given_name}})
    intake_id = handlers.record_intake(command_from(data, "staff"), deps.uow(), lambda: at).id
    with deps.session_factory() as s:
        person_id = s.execute(select(it.intakes.c.person_id).where(
            it.intakes.c.id == str(intake_id))).scalar_one()
    return {"intake_id": str(intake_id), "person_id": person_id}


@pytest.fixture
def intake_world(intake_deps):
    old = record(intake_deps, "Alt", days_ago(366))
    young = record(intake_deps, "Jung", days_ago(364))
    referred = record(intake_deps, "Verwiesen", days_ago(400))
    with intake_deps.session_factory() as s:
        s.execute(it.intake_referrals.insert().values(
            referral_id=str(uuid.uuid4()), intake_id=referred["intake_id"], need="living_costs",
            status="completed", version=3, updated_at=days_ago(400)))
        for age in (1096, 1094):
            s.execute(it.consents.insert().values(
                id=str(uuid.uuid4()), person_id=young["person_id"], partner="welfare",
                purpose="referral", method="signed_form", language="uk",
                given_at=days_ago(1200), recorded_by="staff", withdrawn_at=days_ago(age),
                withdrawn_by="staff"))
        access_log.record(s, [access_log.Access("staff", "staff", None, "intake", "ui",
                                                "viewed", days_ago(age),
                                                person_id=young["person_id"])
                              for age in (1096, 1094)])
        s.execute(it.outbox.delete())  # the recorded intakes' events: replaced by known ages
        s.commit()
    bus_rows(intake_deps, it.outbox, it.inbox)
    return {"old": old, "young": young, "referred": referred}


def test_intake_categories_are_applied_as_of_the_injected_now(intake_deps, intake_world):
    erased = []

    def erase(uow, person_id, *, requested_by, reason, now):
        erased.append((person_id, requested_by, now))

    purges = intake_retention.purges(intake_deps, erase=erase)
    with intake_deps.session_factory() as s:  # walk-in tickets of 91 and 89 days ago
        s.execute(it.queue_tickets.insert(), [
            {"id": str(uuid.uuid4()), "site": "centre", "day": days_ago(age).date(), "seq": 1,
             "language": "uk", "topic": "other", "status": "served",
             "drawn_at": days_ago(age)} for age in (91, 89)])
        # partners' referrals to the centre last changed 181 and 179 days ago
        s.execute(it.inbound_referrals.insert(), [
            {"id": str(uuid.uuid4()), "sender": "registration", "sent_by": "registration",
             "person": {}, "residence_status": "TEMP_PROTECTION_24", "needs": [],
             "consent": {}, "status": "declined", "created_at": days_ago(age + 5),
             "updated_at": days_ago(age)} for age in (181, 179)])
        s.commit()

    def run(dry_run):
        return apply_schedule(SCHEDULE, "intake", purges, NOW, dry_run)

    assert counts(run(True)) == {"intake_records": 1, "intake_records_referred": 0,
                                 "consent_proofs": 1, "access_log": 1, "outbox_sent": 1,
                                 "inbox": 1, "idempotency_keys": 0, "login_attempts": 0,
                                 "queue_tickets": 1, "inbound_referrals": 1}
    assert erased == []
    run(False)
    assert rows(intake_deps, it.queue_tickets) == 1
    assert rows(intake_deps, it.inbound_referrals) == 1
    assert erased == [(intake_world["old"]["person_id"], "retention", NOW)]
    assert rows(intake_deps, it.consents, it.consents.c.withdrawn_at.is_not(None)) == 1
    assert rows(intake_deps, it.access_log) == 1
    assert rows(intake_deps, it.outbox) == 2 and rows(intake_deps, it.inbox) == 1


def test_referred_persons_are_kept_as_long_as_the_referral_metadata(intake_deps, intake_world):
    cutoff = NOW - timedelta(days=1095)
    with intake_deps.session_factory() as s:
        contacts = intake_retention.person_contacts(s)
    due = intake_retention.due_persons(contacts, cutoff, referred=True)
    assert due == []
    later = intake_retention.due_persons(contacts, days_ago(399), referred=True)
    assert [c.person_id for c in later] == [intake_world["referred"]["person_id"]]


def test_the_person_record_is_erased_through_the_erasure_use_case(settings, intake_deps,
                                                                  intake_world):
    run = retention.job("intake", intake_deps, settings.for_service("intake"))
    check_runs(lambda dry: [o for o in run(NOW, dry) if o.category == "intake_records"],
               {"intake_records": 1})
    with intake_deps.session_factory() as s:
        left = set(s.execute(select(it.persons.c.id)).scalars())
    assert intake_world["old"]["person_id"] not in left
    assert {intake_world["young"]["person_id"], intake_world["referred"]["person_id"]} <= left


# --- referral ---------------------------------------------------------------------------------

def test_ended_referrals_go_three_years_after_their_last_change(settings, referral_deps):
    r = rt.referrals
    with referral_deps.session_factory() as s:
        for rid, status, age in (("due", "completed", 1096), ("young", "completed", 1094),
                                 ("open", "requested", 2000)):
            s.execute(r.insert().values(
                id=rid, intake_id=str(uuid.uuid4()), intake_reference="LT-1",
                need="living_costs", partner="jobcenter", service="sgb2", routing_reason="r",
                status=status, version=2, created_at=days_ago(age + 10),
                updated_at=days_ago(age)))
            s.execute(rt.referral_history.insert().values(
                referral_id=rid, status=status, changed_by="lotse", changed_at=days_ago(age)))
        s.commit()
    bus_rows(referral_deps, rt.outbox, rt.inbox)
    run = retention.job("referral", referral_deps, settings.for_service("referral"))
    check_runs(lambda dry: run(NOW, dry), {"referral_metadata": 1, "outbox_sent": 1,
                                           "inbox": 1})
    with referral_deps.session_factory() as s:
        assert set(s.execute(select(r.c.id)).scalars()) == {"young", "open"}
    assert rows(referral_deps, rt.referral_history) == 2


# --- partner adapter --------------------------------------------------------------------------

PAYLOAD = {"referral_id": "r", "intake_reference": "LT-1", "need": "living_costs",
           "service": "sgb2", "residence_status": "TEMP_PROTECTION_24",
           "person": {"given_name": "Olena", "family_name": "Kovalenko",
                      "birth_date": "1987-03-14"}}


ERASED = {"erased": True, "referral_id": "r", "need": "living_costs", "service": "sgb2"}


def case(s, case_id, partner, status, updated, partner_status=None, disclosed=None,
         channel="rest", request=PAYLOAD):
    s.execute(pt.partner_cases.insert().values(
        id=case_id, referral_id=str(uuid.uuid4()), partner=partner, service="x",
        idempotency_key=str(uuid.uuid4()), request=request, status=status, attempts=1,
        next_attempt_at=updated, created_at=updated, updated_at=updated,
        partner_status=partner_status))
    if disclosed:
        s.execute(pt.disclosures.insert().values(
            case_id=case_id, referral_id="r", partner=partner, channel=channel,
            fields=["person.given_name"], payload_sha256="0" * 64, disclosed_at=disclosed))


def test_partner_payloads_are_not_kept_after_delivery(settings, adapter_deps):
    with adapter_deps.session_factory() as s:
        case(s, "delivered", "jobcenter", "opened", days_ago(0.1), disclosed=days_ago(0.1))
        case(s, "pending", "jobcenter", "pending", days_ago(5))
        case(s, "portal-done", "sozialamt", "opened", days_ago(31), "completed")
        case(s, "portal-young", "sozialamt", "opened", days_ago(29), "completed")
        case(s, "portal-open", "sozialamt", "opened", days_ago(300), "accepted")
        # taken over in the portal (a disclosure, as every opened portal case has), not yet
        # answered: the portal is how the partner gets the data, so it stays
        case(s, "portal-taken-over", "sozialamt", "opened", days_ago(10),
             disclosed=days_ago(10), channel="partner_portal")
        # consent withdrawn / referral cancelled before delivery: an ended case too
        case(s, "withdrawn", "jobcenter", "cancelled", days_ago(31))
        case(s, "withdrawn-young", "jobcenter", "cancelled", days_ago(29))
        # erased: already reduced further than retention would, left as it is
        case(s, "erased", "jobcenter", "opened", days_ago(0.1), disclosed=days_ago(0.1),
             request=ERASED)
        case(s, "ancient", "jobcenter", "failed", days_ago(1096))
        case(s, "ancient-withdrawn", "jobcenter", "cancelled", days_ago(1096))
        s.commit()
    bus_rows(adapter_deps, pt.outbox, pt.inbox)
    run = retention.job("partner_adapter", adapter_deps,
                        settings.for_service("partner_adapter"))
    check_runs(lambda dry: run(NOW, dry), {
        "partner_payloads": 1, "ended_case_payloads": 4, "partner_case_metadata": 2,
        "outbox_sent": 1, "inbox": 1})
    with adapter_deps.session_factory() as s:
        requests = dict(s.execute(select(pt.partner_cases.c.id,
                                         pt.partner_cases.c.request)).all())
    disclosures = rows(adapter_deps, pt.disclosures)
    kept = {k: v for k, v in PAYLOAD.items() if k in ("referral_id", "intake_reference",
                                                      "need", "service")}
    assert requests["delivered"] == {**kept, "person": {}} and disclosures == 3
    assert requests["portal-done"] == requests["withdrawn"] == {**kept, "person": {}}
    for untouched in ("pending", "portal-young", "portal-open", "portal-taken-over",
                      "withdrawn-young"):
        assert requests[untouched] == PAYLOAD
    assert requests["erased"] == ERASED
    assert "ancient" not in requests and "ancient-withdrawn" not in requests


# --- operator console ---------------------------------------------------------------------------

@pytest.fixture
def ops_deps(settings):
    return migrated("ops", settings, ops_bootstrap)


def ops_rows(deps) -> None:
    with deps.session_factory() as s:
        for i, age in enumerate((91, 89)):
            s.execute(ot.journal.insert().values(
                event_id=f"j{i}", type="intake.recorded", schemaversion=2, service="intake",
                subject="intake/x", correlation_id="c", occurred_at=days_ago(age),
                recorded_at=days_ago(age), data={}))
        for i, (status, settled) in enumerate((("replayed", days_ago(31)),
                                               ("discarded", days_ago(29)),
                                               ("parked", None))):
            s.execute(ot.dead_letters.insert().values(
                queue="q", service="referral", event_id=f"d{i}", event_type="intake.recorded",
                reason="bug", attempts=1, body="{}", status=status, parked_at=days_ago(400),
                settled_at=settled))
        for age in (1096, 1094):
            s.execute(ot.audit.insert().values(at=days_ago(age), actor="op", action="replay",
                                               target="d0"))
        for referral, status, age in (("ended-long-ago", "completed", 91),
                                      ("ended-lately", "rejected", 89),
                                      ("only-notices-long-ago", None, 91),
                                      ("open-and-overdue", "in-progress", 400)):
            s.execute(ot.referrals.insert().values(
                referral_id=referral, partner="welfare", status=status, status_at=days_ago(age),
                completion_overdue_since=days_ago(age) if status == "in-progress" else None,
                updated_at=days_ago(age)))
        s.commit()
    bus_rows(deps, ot.outbox, ot.inbox)


def test_the_console_keeps_its_journal_and_settled_dead_letters_for_a_while(settings,
                                                                            ops_deps):
    ops_rows(ops_deps)
    run = retention.job("ops", ops_deps, settings.for_service("ops"))
    check_runs(lambda dry: run(NOW, dry), {"journal": 1, "referral_projection": 2,
                                           "settled_dead_letters": 1, "ops_audit": 1,
                                           "outbox_sent": 1, "inbox": 1})
    with ops_deps.session_factory() as s:
        assert set(s.execute(select(ot.dead_letters.c.status)).scalars()) == {"discarded",
                                                                             "parked"}
        assert list(s.execute(select(ot.journal.c.event_id)).scalars()) == ["j1"]


def test_a_referrals_projection_goes_with_its_events_unless_it_is_still_open(settings,
                                                                            ops_deps):
    """As long as the journal's events (90 days after the last one); an open referral's row
    stays however old, so the console still counts it overdue."""
    from services.ops.projection import overdue_referrals

    ops_rows(ops_deps)
    schedule = {(r.service, r.category): r for r in SCHEDULE}
    assert schedule["ops", "referral_projection"].keep_for_days == \
        schedule["ops", "journal"].keep_for_days
    retention.job("ops", ops_deps, settings.for_service("ops"))(NOW)
    with ops_deps.session_factory() as s:
        assert set(s.execute(select(ot.referrals.c.referral_id)).scalars()) == {
            "ended-lately", "open-and-overdue"}
        assert overdue_referrals(s.connection()) == 1


def test_the_workers_scheduler_applies_the_schedule_with_the_services_clock(settings,
                                                                           ops_deps):
    ops_rows(ops_deps)
    ops_deps.clock = lambda: NOW
    stop = threading.Event()
    loop = threading.Thread(target=retention.scheduler(
        "ops", ops_deps, settings.for_service("ops")).run, args=(stop,))
    loop.start()
    try:
        wait_until(lambda: rows(ops_deps, ot.journal) == 1, message="the journal purged")
    finally:
        stop.set()
        loop.join(5)
    assert rows(ops_deps, ot.audit) == 1


def test_the_cli_prints_a_table_of_categories_and_counts(settings, monkeypatch, capsys):
    monkeypatch.setenv("LOTSE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("LOTSE_LOG_FORMAT", "text")
    for service in ("intake", "referral", "partner_adapter", "ops", "reporting"):
        migrate(service, settings.for_service(service).database_url)
    from services.cli import main

    main(["retention", "run", "--dry-run"])
    out = capsys.readouterr()
    table = out.out.splitlines()
    assert table[0].split()[:3] == ["service", "category", "action"]
    listed = {tuple(line.split()[:2]) for line in table[1:]}
    assert listed == {(r.service, r.category) for r in SCHEDULE}
    assert "dry run: nothing changed" in out.err
