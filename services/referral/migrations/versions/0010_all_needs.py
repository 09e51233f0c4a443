"""Rules for every row of the domain.md §3 table, and the partners without a case API.

Partners without an API take referrals over in Lotse's partner portal. Statuses follow
domain.md §4; dates and citations §2. Integreat (self-service information) is no recipient.

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ASYLBLG = ["ASYLUM_ARRIVAL", "ASYLUM_PENDING", "DULDUNG", "VISA_FREE_SHORT"]
QUALIFYING = ["DE_CITIZEN", "DE_SPAETAUSSIEDLER", "EU_FREE_MOVEMENT", "EU_FAMILY_3RD",
              "REFUGEE_RECOGNISED", "SUBSIDIARY_PROTECTION", "DEPORTATION_BAN",
              "HUMANITARIAN_OTHER", "SETTLED", "FAMILY_REUNION", "WORK", "TEMP_PROTECTION_24"]
NON_EU = ["EU_FAMILY_3RD", "TEMP_PROTECTION_24", "FIKTION", "ASYLUM_ARRIVAL", "ASYLUM_PENDING",
          "REFUGEE_RECOGNISED", "SUBSIDIARY_PROTECTION", "DEPORTATION_BAN",
          "HUMANITARIAN_OTHER", "DULDUNG", "WORK", "STUDY_TRAINING", "FAMILY_REUNION",
          "SETTLED", "VISA_FREE_SHORT"]
KINDERGELD = ["DE_CITIZEN", "DE_SPAETAUSSIEDLER", "EU_FREE_MOVEMENT", "EU_FAMILY_3RD",
              "TEMP_PROTECTION_24", "REFUGEE_RECOGNISED", "SUBSIDIARY_PROTECTION",
              "DEPORTATION_BAN", "SETTLED", "FAMILY_REUNION", "WORK"]
NOT_TEMPORARY = ["DE_CITIZEN", "DE_SPAETAUSSIEDLER", "EU_FREE_MOVEMENT", "EU_FAMILY_3RD",
                 "TEMP_PROTECTION_24", "REFUGEE_RECOGNISED", "SUBSIDIARY_PROTECTION",
                 "DEPORTATION_BAN", "HUMANITARIAN_OTHER", "SETTLED", "FAMILY_REUNION", "WORK"]

PARTNERS = [
    dict(code="sozialamt", name="Sozialamt Dortmund (AsylbLG, SGB XII)", legal_basis=None),
    dict(code="familienkasse", name="Familienkasse (Kindergeld)", legal_basis=None),
    dict(code="course_provider", name="Integration course providers (VHS)", legal_basis=None),
    dict(code="jugendamt", name="Jugendamt / Kita-Portal", legal_basis=None),
    dict(code="dlzb", name="Dienstleistungszentrum Bildung (school placement)",
         legal_basis=None),
    dict(code="health_insurer", name="Statutory health insurance (GKV)", legal_basis=None),
    dict(code="wohnungsamt", name="Wohnungsamt (WBS, housing)", legal_basis=None),
    dict(code="lokal_willkommen", name="lokal willkommen district offices", legal_basis=None),
    dict(code="kim", name="KIM case management (across benefit systems)", legal_basis=None),
]


def rule(id, need, partner, service, citation, priority=10, **conditions):
    return dict(dict(min_age=None, max_age=None, residence_statuses=None, valid_from=None,
                     valid_to=None, requires_need=None),
                id=id, need=need, partner=partner, service=service, priority=priority,
                citation=citation, **conditions)


RULES = [
    rule("residence-permit-abh", "residence_permit", "registration", "auslaenderbehoerde",
         "§§ 71, 81 AufenthG; non-EU only: Bürgerdienste International (Dortmund)",
         residence_statuses=NON_EU),
    rule("living-costs-asylblg", "living_costs", "sozialamt", "asylblg",
         "§ 1 AsylbLG (Gestattung, Ankunftsnachweis, Duldung, before § 24 is granted)",
         residence_statuses=ASYLBLG),
    rule("living-costs-sgb12", "living_costs", "sozialamt", "sgb12",
         "SGB XII: pension age (or not able to work) with a qualifying status", priority=5,
         min_age=67, residence_statuses=QUALIFYING),
    rule("child-benefit", "child_benefit", "familienkasse", "kindergeld",
         "§ 62 EStG (Steuer-ID needed; non-EU with a permit allowing work; § 24 since "
         "1 June 2022)", residence_statuses=KINDERGELD),
    rule("language-course-provider", "language_course", "course_provider",
         "integration_course", "§§ 44, 44a AufenthG (entitlement or obligation); § 44(4) "
         "admissions suspended in 2026", priority=5),
    rule("kita-portal", "kita_place", "jugendamt", "kita_portal",
         "§ 24 SGB VIII; NRW: tell the Jugendamt 6 months ahead (KiBiz)"),
    rule("school-dlzb", "school_place", "dlzb", "school_placement",
         "compulsory schooling whatever the status; Dortmund DLZB places pupils aged 6-25",
         min_age=6, max_age=26),
    rule("health-asylblg", "health_insurance", "sozialamt", "health_voucher",
         "§§ 4, 6 AsylbLG (treatment voucher or eGK)", residence_statuses=ASYLBLG),
    rule("health-gkv", "health_insurance", "health_insurer", "gkv",
         "§ 5 SGB V (statutory health insurance)", priority=20),
    rule("housing-wbs", "housing", "wohnungsamt", "wbs",
         "§ 18 WFNG NRW: WBS from 18, stay not merely temporary", min_age=18,
         residence_statuses=NOT_TEMPORARY),
    rule("local-integration", "local_integration", "lokal_willkommen", "district_office",
         "municipal programme 'lokal willkommen' (refugees in their own flat)"),
    rule("complex-case-kim", "complex_case", "kim", "case_management",
         "NRW Teilhabe- und Integrationsgesetz, KIM component 2"),
]


def upgrade() -> None:
    partners = sa.table("partners", sa.column("code"), sa.column("name"),
                        sa.column("legal_basis"))
    op.bulk_insert(partners, PARTNERS)
    rules = sa.table("routing_rules", sa.column("id"), sa.column("need"), sa.column("partner"),
                     sa.column("service"), sa.column("priority"), sa.column("min_age"),
                     sa.column("max_age"), sa.column("residence_statuses", sa.JSON()),
                     sa.column("valid_from", sa.Date()), sa.column("valid_to", sa.Date()),
                     sa.column("citation"), sa.column("requires_need"))
    op.bulk_insert(rules, RULES)


def downgrade() -> None:
    ids = ", ".join(f"'{r['id']}'" for r in RULES)
    op.execute(sa.text(f"DELETE FROM routing_rules WHERE id IN ({ids})"))
    codes = ", ".join(f"'{p['code']}'" for p in PARTNERS)
    op.execute(sa.text(f"DELETE FROM partners WHERE code IN ({codes})"))
