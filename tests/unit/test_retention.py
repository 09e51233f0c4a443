"""The retention schedule as data, and the plain rules that decide what is due."""
from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from services.intake.retention import PersonContact, due_persons
from services.partner_adapter.retention import without_person
from shared.retention import (SERVICES, Purge, RetentionConfigError, RetentionRule,
                              RetentionScheduler, apply_schedule, check_coverage,
                              load_schedule, render_table)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


def rule(category="journal", service="ops", days=90, measured_from="recorded_at",
         action="delete") -> RetentionRule:
    return RetentionRule(category, service, "what it covers", days, measured_from, action,
                         "Art. 5(1)(e) GDPR")


class FakePurge:
    """Records each call; 'due' rows are counted in a dry run and handled otherwise."""

    def __init__(self, due: int, measured_from="recorded_at", action="delete"):
        self.due, self.calls = due, []
        self.purge = Purge(measured_from, action, self.apply)

    def apply(self, cutoff, now, dry_run):
        self.calls.append((cutoff, now, dry_run))
        count = self.due
        if not dry_run:
            self.due = 0
        return count


def write(tmp_path, entries) -> str:
    path = tmp_path / "retention.json"
    path.write_text(json.dumps({"categories": entries}))
    return str(path)


def entry(**changes) -> dict:
    return {"category": "journal", "service": "ops", "covers": "the event journal",
            "keep_for_days": 90, "measured_from": "recorded_at", "action": "delete",
            "legal_reason": "Art. 5(1)(e) GDPR", **changes}


def test_the_shipped_schedule_has_the_defaults_of_the_domain_notes():
    schedule = {(r.service, r.category): r for r in load_schedule()}
    assert schedule[("intake", "intake_records")].keep_for_days == 365
    assert schedule[("referral", "referral_metadata")].keep_for_days == 3 * 365
    assert schedule[("intake", "consent_proofs")].keep_for_days == 3 * 365
    payloads = schedule[("partner_adapter", "partner_payloads")]
    assert (payloads.keep_for_days, payloads.action) == (0, "anonymise")
    for service in SERVICES:
        assert schedule[(service, "outbox_sent")].keep_for_days == 14
        assert schedule[(service, "inbox")].keep_for_days == 30
    assert schedule[("ops", "journal")].keep_for_days == 90
    assert schedule[("intake", "access_log")].keep_for_days == 3 * 365


def test_a_broken_entry_names_itself_and_its_field(tmp_path):
    with pytest.raises(RetentionConfigError, match=r"ops/journal.*keep_for_days"):
        load_schedule(write(tmp_path, [entry(keep_for_days=-1)]))
    with pytest.raises(RetentionConfigError, match=r"ops/journal.*action"):
        load_schedule(write(tmp_path, [entry(action="shred")]))
    with pytest.raises(RetentionConfigError, match=r"ops/journal.*legal_reason"):
        load_schedule(write(tmp_path, [{k: v for k, v in entry().items()
                                        if k != "legal_reason"}]))
    with pytest.raises(RetentionConfigError, match="twice"):
        load_schedule(write(tmp_path, [entry(), entry()]))
    for text in ({"fr": "le journal"}, {"de": "x", "en": "the event journal"}, {}, 7):
        with pytest.raises(RetentionConfigError, match=r"ops/journal.*covers"):
            load_schedule(write(tmp_path, [entry(covers=text)]))


def test_an_entry_says_what_it_covers_in_each_language_or_the_same_in_both(tmp_path):
    [both, plain] = load_schedule(write(tmp_path, [
        entry(covers={"de": "das Ereignisjournal", "en": "the event journal"}),
        entry(category="inbox", legal_reason={"en": "Art. 5(1)(e) GDPR"})]))
    assert both.said_in("de") == ("das Ereignisjournal", "Art. 5(1)(e) GDPR")
    assert both.said_in("en") == ("the event journal", "Art. 5(1)(e) GDPR")
    assert plain.said_in("de") == ("the event journal", "Art. 5(1)(e) GDPR")


def test_every_shipped_text_is_in_german_and_english():
    for rule in load_schedule():
        for text in (rule.covers, rule.legal_reason):
            assert isinstance(text, dict) and set(text) == {"de", "en"}, rule.category


def test_the_cutoff_is_the_period_before_now():
    assert rule(days=30).cutoff(NOW) == NOW - timedelta(days=30)
    assert rule(days=0).cutoff(NOW) == NOW


def test_a_dry_run_only_counts_and_a_run_applies_each_entry_of_its_service():
    journal, audit = FakePurge(3), FakePurge(1, "at")
    schedule = (rule(), rule("ops_audit", days=1095, measured_from="at"),
                rule("inbox", service="intake", days=30, measured_from="processed_at"))
    purges = {"journal": journal.purge, "ops_audit": audit.purge}

    dry = apply_schedule(schedule, "ops", purges, NOW, dry_run=True)
    assert [(o.category, o.count, o.dry_run) for o in dry] == [("journal", 3, True),
                                                                 ("ops_audit", 1, True)]
    assert journal.calls == [(NOW - timedelta(days=90), NOW, True)]
    done = apply_schedule(schedule, "ops", purges, NOW)
    assert [o.count for o in done] == [3, 1]
    assert [o.count for o in apply_schedule(schedule, "ops", purges, NOW)] == [0, 0]
    assert audit.calls[-1] == (NOW - timedelta(days=1095), NOW, False)


def test_the_table_names_every_category_with_its_count():
    outcomes = apply_schedule((rule(),), "ops", {"journal": FakePurge(7).purge}, NOW, True)
    table = render_table(outcomes)
    assert "journal" in table and " 7" in table and "due" in table.splitlines()[0]


def test_schedule_and_code_must_agree():
    purges = {"journal": FakePurge(0).purge}
    check_coverage((rule(),), "ops", purges)
    with pytest.raises(RetentionConfigError, match="ops/ops_audit: category"):
        check_coverage((rule(), rule("ops_audit")), "ops", purges)
    with pytest.raises(RetentionConfigError, match="ops/journal: measured_from"):
        check_coverage((rule(measured_from="occurred_at"),), "ops", purges)
    with pytest.raises(RetentionConfigError, match="ops/journal: action"):
        check_coverage((rule(action="anonymise"),), "ops", purges)
    with pytest.raises(RetentionConfigError, match="no entry for ops/journal"):
        check_coverage((), "ops", purges)


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_implements_exactly_the_shipped_schedule(service):
    from services.retention import purges_of

    deps = SimpleNamespace(session_factory=None, uow=None)  # purges touch it only when run
    check_coverage(load_schedule(), service, purges_of(service, deps))


def test_persons_without_referrals_are_due_a_year_after_their_last_contact():
    cutoff = NOW - timedelta(days=365)
    contacts = [PersonContact("due", cutoff - timedelta(days=1), False),
                PersonContact("a-day-younger", cutoff + timedelta(days=1), False),
                PersonContact("referred", cutoff - timedelta(days=1), True)]
    assert [c.person_id for c in due_persons(contacts, cutoff, referred=False)] == ["due"]
    assert [c.person_id for c in due_persons(contacts, cutoff, referred=True)] == ["referred"]


def test_a_delivered_payload_keeps_only_what_identifies_the_case():
    request = {"referral_id": "r1", "intake_reference": "LT-1", "need": "living_costs",
               "service": "sgb2", "residence_status": "TEMP_PROTECTION_24",
               "person": {"given_name": "Olena", "family_name": "Kovalenko"},
               "household": [{"relation": "child", "birth_date": "2019-01-01"}]}
    assert without_person(request) == {"referral_id": "r1", "intake_reference": "LT-1",
                                       "need": "living_costs", "service": "sgb2", "person": {}}


def test_the_scheduler_applies_the_schedule_at_start_and_then_at_its_interval():
    stop, seen = threading.Event(), []
    clock = iter([NOW, NOW + timedelta(days=1)])

    def job(now):
        seen.append(now)
        if len(seen) == 2:
            stop.set()
        return []

    RetentionScheduler("ops", job, lambda: next(clock), interval=0.01).run(stop)
    assert seen == [NOW, NOW + timedelta(days=1)]


def test_a_failing_run_is_logged_and_the_next_one_still_comes(caplog):
    stop, calls = threading.Event(), []

    def job(now):
        calls.append(now)
        if len(calls) == 1:
            raise RuntimeError("database away")
        stop.set()
        return []

    RetentionScheduler("ops", job, lambda: NOW, interval=0.01).run(stop)
    assert len(calls) == 2 and "retention run failed" in caplog.text
