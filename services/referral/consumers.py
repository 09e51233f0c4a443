"""What the referral service listens to on the bus."""
from __future__ import annotations

from services.referral import handlers
from shared.bus.topology import Subscription

SUBSCRIPTIONS = (
    Subscription("referral", "open_referrals", ("intake.recorded",),
                 handlers.open_referrals_for_intake),
    Subscription("referral", "record_case_opened", ("partner_case.opened",),
                 handlers.record_case_opened),
    Subscription("referral", "apply_partner_report",
                 ("partner_case.status_reported", "partner_case.failed"),
                 handlers.apply_partner_report),
    Subscription("referral", "follow_consents", ("consent.given", "consent.withdrawn"),
                 handlers.follow_consents),
)
