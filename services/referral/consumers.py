"""What the referral service listens to on the bus."""
from __future__ import annotations

from services.referral import erasure, handlers, partner_notices
from services.referral.tables import erased
from shared.bus.topology import Subscription
from shared.erasure import guarded

# Events about an erased person are dropped (tombstones), so they cannot recreate data.
# The busiest queues take their batches set-based (batch_handler); the per-event handler is
# the same code with a batch of one, for a failed batch retried message by message.
SUBSCRIPTIONS = guarded((
    Subscription("referral", "open_referrals", ("intake.recorded",),
                 handlers.open_referrals_for_intake,
                 batch_handler=handlers.open_referrals_for_intakes),
    Subscription("referral", "record_case_opened", ("partner_case.opened",),
                 handlers.record_case_opened, batch_handler=handlers.record_cases_opened),
    Subscription("referral", "apply_partner_report",
                 ("partner_case.status_reported", "partner_case.failed"),
                 handlers.apply_partner_report, batch_handler=handlers.apply_partner_reports),
    Subscription("referral", "follow_consents", ("consent.given", "consent.withdrawn"),
                 handlers.follow_consents),
    Subscription("referral", "record_partner_notice", ("partner_case.notice_sent",),
                 partner_notices.record_partner_notice),
    Subscription("referral", "erase_person", ("person.erasure_requested",),
                 erasure.erase_person),
    Subscription("referral", "route_with_added_facts", ("intake.facts_added",),
                 handlers.route_with_added_facts),
), erased)
