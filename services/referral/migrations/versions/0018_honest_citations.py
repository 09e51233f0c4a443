"""Every rule cites the paragraph it applies; whether it is in force comes from its dates.

Issue 19, class 5. Citations named no paragraph ("compulsory schooling whatever the status"),
or said in words whether a rule applied ("planned from 1 July 2026", still there after that
day; "§ 44(4) admissions suspended in 2026" on a rule sending everyone to an integration
course, without a condition). Now:

* the integration course provider takes those entitled under § 44 (1) AufenthG (and
  Spätaussiedler, § 9 (1) BVFG) whatever the day, and those who may only be admitted on
  request (§ 44 (4)) until 8 February 2026: the BAMF stopped such admissions from 9 February
  2026 (provider circular 02/26). After it, their need goes to migration counselling (MBE,
  JMD: self-paid or other courses), as the existing lower-priority rules say;
* each citation names law, paragraph and, where it decides, Abs./Satz/Nr.; a rule's
  standing (in force, not yet, ended) is computed from valid_from / valid_to.

The routing table is kept as a new version.

Revision ID: 0018
Revises: 0017
"""
import json
from datetime import date, datetime, timezone

import sqlalchemy as sa
from alembic import op

from shared.migration_env import json_rows

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

MBE = "§ 45 Satz 1 AufenthG (migration counselling for adults, MBE: from 27)"
JMD = ("§ 45 Satz 1 AufenthG with § 83 Abs. 1 SGB VIII (Kinder- und Jugendplan des Bundes, "
       "JUGEND STÄRKEN): JMD from the 12th to the 27th birthday, any lawful status or Duldung")
CITATIONS = {
    "registration-eu": "§ 17 Abs. 1 BMG (register within two weeks of moving in); EU "
                       "citizens: Bürgerdienste",
    "registration-non-eu": "§ 17 Abs. 1 BMG; non-EU citizens: Bürgerdienste International "
                           "(Dortmund)",
    "residence-permit-abh": "§ 71 Abs. 1, § 81 AufenthG (the foreigners authority); "
                            "non-EU citizens only",
    "child-benefit": "§ 62 Abs. 1 EStG; non-EU citizens § 62 Abs. 2 EStG (a title allowing "
                     "work; § 24 AufenthG holders)",
    "complex-case-kim": "Art. 28 Abs. 2 GG with the NRW funding guideline Kommunales "
                        "Integrationsmanagement (component 2: case management)",
    "health-asylblg": "§§ 4, 6 AsylbLG (treatment voucher or eGK)",
    "health-gkv": "§ 5 Abs. 1 SGB V (statutory health insurance)",
    "housing-wbs": "§ 18 WFNG NRW (WBS from 18, stay not merely temporary)",
    "kita-portal": "§ 24 Abs. 2, 3 SGB VIII; § 3c KiBiz NRW (tell the Jugendamt 6 months "
                   "ahead)",
    "language-course-provider": "§ 44 Abs. 1 Satz 1 AufenthG (entitlement); § 9 Abs. 1 BVFG "
                                "(Spätaussiedler)",
    "language-course-mbe": MBE + "; helps with the course application, self-paid or other "
                                 "courses",
    "language-course-jmd": JMD,
    "living-costs-asylblg": "§ 1 Abs. 1 Nr. 1, 1a, 4, 5 AsylbLG (Aufenthaltsgestattung, "
                            "asylum seekers before their application, Duldung, until a title "
                            "is granted)",
    "living-costs-asylblg-temp-protection-2025": "§ 1 Abs. 1 AsylbLG as amended by the "
        "Leistungsrechtsanpassungsgesetz: § 24 AufenthG titles first issued after 31 March 2025",
    "local-integration": "Art. 28 Abs. 2 GG: Dortmund's programme 'lokal willkommen' "
                         "(refugees in their own flat)",
    "orientation-mbe": MBE,
    "orientation-jmd": JMD,
    "orientation-mbe-2": MBE + " (second association, when the first cannot take the person)",
    "orientation-jmd-2": JMD + " (second association)",
    "recognition-mbe": MBE,
    "recognition-jmd": JMD,
    "school-dlzb": "§ 34 Abs. 1, 6 SchulG NRW (compulsory schooling whatever the status); "
                   "Dortmund's DLZB places pupils aged 6 to 25",
    "youth-jmd": JMD,
    "youth-jmd-2": JMD + " (second association)",
}
ENTITLED = ["DE_SPAETAUSSIEDLER", "REFUGEE_RECOGNISED", "SUBSIDIARY_PROTECTION",
            "FAMILY_REUNION", "WORK", "SETTLED"]
ADMISSION_ON_REQUEST = dict(
    id="language-course-admission", need="language_course", partner="course_provider",
    service="integration_course", priority=5, valid_to=date(2026, 2, 8),
    residence_statuses=["DE_CITIZEN", "EU_FREE_MOVEMENT", "EU_FAMILY_3RD", "TEMP_PROTECTION_24",
                        "ASYLUM_PENDING", "DULDUNG", "HUMANITARIAN_OTHER", "DEPORTATION_BAN",
                        "FIKTION"],
    citation="§ 44 Abs. 4 Satz 1, 2 AufenthG (admission on request, within available places)")


def upgrade() -> None:
    bind = op.get_bind()
    rules = sa.Table("routing_rules", sa.MetaData(), autoload_with=bind)
    for rule_id, citation in CITATIONS.items():
        bind.execute(rules.update().where(rules.c.id == rule_id).values(citation=citation))
    bind.execute(rules.update().where(rules.c.id == "language-course-provider")
                 .values(residence_statuses=ENTITLED))
    bind.execute(rules.insert().values(**ADMISSION_ON_REQUEST))
    snapshot = json_rows(bind, "routing_rules")
    versions = sa.Table("routing_rule_versions", sa.MetaData(), autoload_with=bind)
    bind.execute(versions.insert().values(
        changed_by="seed", changed_at=datetime.now(timezone.utc), rules=snapshot,
        note="citations name their paragraphs; integration course by entitlement (§ 44 (1)) "
             "and admission on request (§ 44 (4)) until the BAMF's stop of 9 Feb 2026"))


def downgrade() -> None:
    """The citations as migration 0017 left them (kept in its version of the table)."""
    bind = op.get_bind()
    rules = sa.Table("routing_rules", sa.MetaData(), autoload_with=bind)
    versions = sa.Table("routing_rule_versions", sa.MetaData(), autoload_with=bind)
    before = bind.execute(sa.select(versions.c.rules).where(versions.c.changed_by == "seed")
                          .order_by(versions.c.version.desc()).offset(1).limit(1)).scalar()
    if isinstance(before, str):  # SQLite hands the JSON back as text
        before = json.loads(before)
    for row in before or []:
        if row["id"] in CITATIONS:
            bind.execute(rules.update().where(rules.c.id == row["id"])
                         .values(citation=row["citation"]))
    bind.execute(rules.delete().where(rules.c.id == ADMISSION_ON_REQUEST["id"]))
    bind.execute(rules.update().where(rules.c.id == "language-course-provider")
                 .values(residence_statuses=None))
    bind.execute(versions.delete().where(versions.c.changed_by == "seed")
                 .where(versions.c.note.like("citations name their paragraphs%")))
