"""The routing table's citations in German (issue 20, item 1: words in one language).

Staff, partners and operators of a German city read the routing table; its citations were
written in English prose around the paragraphs ("§ 45 Satz 1 AufenthG (migration counselling
for adults, MBE: from 27)"). The paragraphs stay as they were; the words around them are now
German. Routing reasons name the citation of the rule that decided, so referrals routed from
now on read German reasons too. The routing table is kept as a new version.

Revision ID: 0021
Revises: 0020
"""
import json
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

from shared.migration_env import json_rows

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

NOTE = "Rechtsgrundlagen der Regeln auf Deutsch"
MBE = "§ 45 Satz 1 AufenthG (Migrationsberatung für erwachsene Zugewanderte, MBE: ab 27)"
JMD = ("§ 45 Satz 1 AufenthG i. V. m. § 83 Abs. 1 SGB VIII (Kinder- und Jugendplan des "
       "Bundes, JUGEND STÄRKEN): JMD vom 12. bis zum 27. Geburtstag, jeder rechtmäßige "
       "Aufenthalt oder Duldung")
FIRST_MONTHS = ("§ 7 Abs. 1 Satz 2 Nr. 1 SGB II, § 23 Abs. 3 Satz 1 Nr. 1 SGB XII: keine "
                "Leistungen in den ersten drei Monaten des Aufenthalts für Personen, die weder "
                "Arbeitnehmer noch Selbständige sind (noch diesen Status behalten, § 2 Abs. 3 "
                "FreizügG/EU); die Migrationsberatung (§ 45 Satz 1 AufenthG) berät zu "
                "Überbrückungsleistungen")
JOB_SEEKING = ("§ 7 Abs. 1 Satz 2 Nr. 2 Buchst. b SGB II, § 23 Abs. 3 Satz 1 Nr. 2 SGB XII: "
               "ein Aufenthaltsrecht allein zur Arbeitsuche schließt SGB II und Sozialhilfe "
               "aus (Überbrückungsleistungen: § 23 Abs. 3 Satz 3 SGB XII), in den ersten fünf "
               "Jahren des Aufenthalts (§ 7 Abs. 1 Satz 4 SGB II; das Einreisedatum steht für "
               "den Beginn des gewöhnlichen Aufenthalts); die Migrationsberatung (§ 45 Satz 1 "
               "AufenthG) berät zu Überbrückungsleistungen")
CITATIONS = {
    "child-benefit": "§ 62 Abs. 1 EStG; Nicht-EU-Bürger § 62 Abs. 2 EStG (ein Titel, der "
                     "Erwerbstätigkeit erlaubt; Inhaber nach § 24 AufenthG)",
    "complex-case-kim": "Art. 28 Abs. 2 GG i. V. m. der NRW-Förderrichtlinie Kommunales "
                        "Integrationsmanagement (Baustein 2: Case Management)",
    "health-asylblg": "§§ 4, 6 AsylbLG (Behandlungsschein oder eGK)",
    "health-gkv": "§ 5 Abs. 1 SGB V (gesetzliche Krankenversicherung)",
    "housing-wbs": "§ 18 WFNG NRW (WBS ab 18, Aufenthalt nicht nur vorübergehend)",
    "kita-portal": "§ 24 Abs. 2, 3 SGB VIII; § 3c KiBiz NRW (dem Jugendamt 6 Monate vorher "
                   "melden)",
    "language-course-admission": "§ 44 Abs. 4 Satz 1, 2 AufenthG (Zulassung auf Antrag, im "
                                 "Rahmen verfügbarer Kursplätze)",
    "language-course-jmd": JMD,
    "language-course-mbe": MBE + "; hilft beim Antrag auf den Kurs, bei selbst bezahlten oder "
                                 "anderen Kursen",
    "language-course-provider": "§ 44 Abs. 1 Satz 1 AufenthG (Anspruch); § 9 Abs. 1 BVFG "
                                "(Spätaussiedler)",
    "living-costs-asylblg": "§ 1 Abs. 1 Nr. 1, 1a, 4, 5 AsylbLG (Aufenthaltsgestattung, "
                            "Asylsuchende vor ihrem Antrag, Duldung, bis ein Titel erteilt "
                            "wird)",
    "living-costs-asylblg-temp-protection-2025": "§ 1 Abs. 1 AsylbLG in der Fassung des "
        "Leistungsrechtsanpassungsgesetzes: Titel nach § 24 AufenthG, erstmals erteilt nach dem "
        "31. März 2025",
    "living-costs-first-months-jmd": FIRST_MONTHS,
    "living-costs-first-months-mbe": FIRST_MONTHS,
    "living-costs-job-seeking-jmd": JOB_SEEKING,
    "living-costs-job-seeking-mbe": JOB_SEEKING,
    "living-costs-sgb12": "§ 41 Abs. 2 SGB XII: Grundsicherung ab dem Monat nach Erreichen der "
                          "Regelaltersgrenze nach Geburtsjahr, mit einem berechtigenden Status",
    "living-costs-sgb2": "§ 7 Abs. 1 Satz 1 Nr. 1 SGB II i. V. m. § 7a SGB II: ab 15 bis zum "
                         "Ende des Monats, in dem die Regelaltersgrenze nach Geburtsjahr "
                         "erreicht wird; erwerbsfähig, hilfebedürftig",
    "living-costs-sgb2-temp-protection": "§ 7 Abs. 1 Satz 1 Nr. 1, § 7a und § 74 SGB II: "
                                         "Inhaber nach § 24 AufenthG seit dem 1. Juni 2022, ab "
                                         "15 bis zur Regelaltersgrenze nach Geburtsjahr",
    "local-integration": "Art. 28 Abs. 2 GG: Dortmunder Programm „lokal willkommen“ "
                         "(Geflüchtete in eigener Wohnung)",
    "orientation-jmd": JMD,
    "orientation-jmd-2": JMD + " (zweiter Träger)",
    "orientation-mbe": MBE,
    "orientation-mbe-2": MBE + " (zweiter Träger, wenn der erste die Person nicht aufnehmen "
                               "kann)",
    "recognition-jmd": JMD,
    "recognition-mbe": MBE,
    "registration-eu": "§ 17 Abs. 1 BMG (Anmeldung binnen zwei Wochen nach dem Einzug); "
                       "EU-Bürger: Bürgerdienste",
    "registration-non-eu": "§ 17 Abs. 1 BMG; Nicht-EU-Bürger: Bürgerdienste International "
                           "(Dortmund)",
    "residence-permit-abh": "§ 71 Abs. 1, § 81 AufenthG (die Ausländerbehörde); nur "
                            "Nicht-EU-Bürger",
    "school-dlzb": "§ 34 Abs. 1, 6 SchulG NRW (Schulpflicht unabhängig vom Status); das "
                   "Dortmunder DLZB vermittelt Schülerinnen und Schüler von 6 bis 25 Jahren",
    "youth-jmd": JMD,
    "youth-jmd-2": JMD + " (zweiter Träger)",
}


def upgrade() -> None:
    """Each seeded citation still as seeded becomes German; one an admin edited stays."""
    bind = op.get_bind()
    rules = sa.Table("routing_rules", sa.MetaData(), autoload_with=bind)
    versions = sa.Table("routing_rule_versions", sa.MetaData(), autoload_with=bind)
    seeded = _citations(bind.execute(
        sa.select(versions.c.rules).where(versions.c.changed_by == "seed")
        .order_by(versions.c.version.desc()).limit(1)).scalar())
    for rule_id, citation in CITATIONS.items():
        now = bind.execute(sa.select(rules.c.citation).where(rules.c.id == rule_id)).scalar()
        if now is not None and now == seeded.get(rule_id):
            bind.execute(rules.update().where(rules.c.id == rule_id).values(citation=citation))
    snapshot = json_rows(bind, "routing_rules")
    bind.execute(versions.insert().values(changed_by="seed",
                                          changed_at=datetime.now(timezone.utc),
                                          rules=snapshot, note=NOTE))


def _citations(snapshot) -> dict[str, str]:
    if isinstance(snapshot, str):  # SQLite hands the JSON back as text
        snapshot = json.loads(snapshot)
    return {row["id"]: row["citation"] for row in snapshot or []}


def downgrade() -> None:
    """The citations as the table's version before this one had them, where still German as
    seeded here (an admin's later citation stays)."""
    bind = op.get_bind()
    rules = sa.Table("routing_rules", sa.MetaData(), autoload_with=bind)
    versions = sa.Table("routing_rule_versions", sa.MetaData(), autoload_with=bind)
    this = bind.execute(sa.select(versions.c.version).where(versions.c.changed_by == "seed")
                        .where(versions.c.note == NOTE)).scalar()
    if this is None:
        return
    before = _citations(bind.execute(
        sa.select(versions.c.rules).where(versions.c.version < this)
        .order_by(versions.c.version.desc()).limit(1)).scalar())
    for rule_id, citation in before.items():
        if rule_id in CITATIONS and rules_unchanged(bind, rules, rule_id):
            bind.execute(rules.update().where(rules.c.id == rule_id).values(citation=citation))
    bind.execute(versions.delete().where(versions.c.version == this))


def rules_unchanged(bind, rules: sa.Table, rule_id: str) -> bool:
    """An admin's later citation of the rule stays; the seeded German one goes back."""
    now = bind.execute(sa.select(rules.c.citation).where(rules.c.id == rule_id)).scalar()
    return now == CITATIONS[rule_id]
