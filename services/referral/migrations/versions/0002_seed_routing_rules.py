"""Seed the routing table (domain.md §2 and §3) for the partners Lotse has adapters for.

Needs with no rule here (Sozialamt, Kita, school, housing ...) get referrals "on-hold" with
reason no_matching_rule until their partners are connected.

Revision ID: 0002
Revises: 0001
"""
from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# statuses from which the Jobcenter (SGB II) is responsible for living costs if able to work
SGB2 = ["DE_CITIZEN", "DE_SPAETAUSSIEDLER", "EU_FREE_MOVEMENT", "EU_FAMILY_3RD",
        "REFUGEE_RECOGNISED", "SUBSIDIARY_PROTECTION", "DEPORTATION_BAN", "SETTLED",
        "FAMILY_REUNION", "WORK"]
EU = ["DE_CITIZEN", "DE_SPAETAUSSIEDLER", "EU_FREE_MOVEMENT"]
NON_EU = ["EU_FAMILY_3RD", "TEMP_PROTECTION_24", "FIKTION", "ASYLUM_ARRIVAL", "ASYLUM_PENDING",
          "REFUGEE_RECOGNISED", "SUBSIDIARY_PROTECTION", "DEPORTATION_BAN",
          "HUMANITARIAN_OTHER", "DULDUNG", "WORK", "STUDY_TRAINING", "FAMILY_REUNION",
          "SETTLED", "VISA_FREE_SHORT", "UNKNOWN_UNDOCUMENTED"]
MBE = "§ 45 AufenthG; MBE serves adults from 27"
JMD = "KJP 'JUGEND STÄRKEN'; JMD serves the 12th to the 27th birthday, any lawful status or Duldung"

RULES = [
    dict(id="registration-eu", need="address_registration", partner="registration",
         service="buergerdienste", priority=10, residence_statuses=EU,
         citation="§ 17 BMG (register within 2 weeks); EU citizens: Bürgerdienste"),
    dict(id="registration-non-eu", need="address_registration", partner="registration",
         service="buergerdienste_international", priority=20, residence_statuses=NON_EU,
         citation="§ 17 BMG; non-EU citizens: Bürgerdienste International (Dortmund)"),
    dict(id="orientation-mbe", need="orientation_counselling", partner="welfare",
         service="mbe", priority=10, min_age=27, citation=MBE),
    dict(id="orientation-jmd", need="orientation_counselling", partner="welfare",
         service="jmd", priority=10, min_age=12, max_age=27, citation=JMD),
    dict(id="youth-jmd", need="youth_counselling", partner="welfare", service="jmd",
         priority=10, min_age=12, max_age=27, citation=JMD),
    dict(id="recognition-mbe", need="recognition_of_qualifications", partner="welfare",
         service="mbe", priority=20, min_age=27, citation=MBE),
    dict(id="recognition-jmd", need="recognition_of_qualifications", partner="welfare",
         service="jmd", priority=20, min_age=12, max_age=27, citation=JMD),
    dict(id="language-course-mbe", need="language_course", partner="welfare", service="mbe",
         priority=30, min_age=27, citation=MBE + "; helps with the BAMF course application"),
    dict(id="language-course-jmd", need="language_course", partner="welfare", service="jmd",
         priority=30, min_age=12, max_age=27, citation=JMD),
    dict(id="living-costs-sgb2", need="living_costs", partner="jobcenter", service="sgb2",
         priority=10, min_age=15, max_age=67, residence_statuses=SGB2,
         citation="§ 7 SGB II (15 to pension age, able to work, in need)"),
    dict(id="living-costs-sgb2-temp-protection", need="living_costs", partner="jobcenter",
         service="sgb2", priority=10, min_age=15, max_age=67,
         residence_statuses=["TEMP_PROTECTION_24"], valid_from=date(2022, 6, 1),
         citation="§ 7 SGB II with § 74 SGB II: § 24 AufenthG holders since 1 June 2022 "
                  "(Rechtskreiswechsel)"),
]


def upgrade() -> None:
    rules = sa.table("routing_rules", sa.column("id"), sa.column("need"), sa.column("partner"),
                     sa.column("service"), sa.column("priority"), sa.column("min_age"),
                     sa.column("max_age"), sa.column("residence_statuses", sa.JSON()),
                     sa.column("valid_from", sa.Date()), sa.column("valid_to", sa.Date()),
                     sa.column("citation"))
    op.bulk_insert(rules, [dict(dict(min_age=None, max_age=None, residence_statuses=None,
                                     valid_from=None, valid_to=None), **r) for r in RULES])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM routing_rules WHERE id IN ({})".format(
        ", ".join(f"'{r['id']}'" for r in RULES))))
