"""Reference code lists every service agrees on (domain.md §3, §4, §8), as data with stable codes.

These are vocabularies, not rules: which partner serves a need is decided by the referral
service's routing rules, which status gives which benefits by those rules' conditions.
"""
from __future__ import annotations

from dataclasses import dataclass

import pycountry


@dataclass(frozen=True)
class Code:
    code: str
    de: str
    en: str

    def label(self, lang: str = "de") -> str:
        return self.de if lang == "de" else self.en


NEEDS = (
    Code("address_registration", "Anmeldung der Wohnadresse", "Address registration"),
    Code("residence_permit", "Aufenthaltstitel / Verlängerung / Fiktionsbescheinigung",
         "Residence permit / extension / provisional certificate"),
    Code("orientation_counselling", "Allgemeine Orientierung / Migrationsberatung",
         "General orientation / migration counselling"),
    Code("youth_counselling", "Jugendberatung / Übergang Schule-Beruf",
         "Youth orientation / school-to-work transition"),
    Code("living_costs", "Geld für den Lebensunterhalt", "Money for living costs"),
    Code("child_benefit", "Kindergeld", "Child benefit"),
    Code("language_course", "Deutsch- / Integrationskurs", "German / integration course"),
    Code("kita_place", "Kita-Platz", "Kita place"),
    Code("school_place", "Schulplatz (neu zugewandert)", "School place (newly arrived)"),
    Code("recognition_of_qualifications", "Anerkennung von Abschlüssen",
         "Recognition of qualifications"),
    Code("health_insurance", "Krankenversicherung / Zugang zur Versorgung",
         "Health insurance / access to care"),
    Code("housing", "Sozialwohnung / Wohnungssuche", "Social housing / housing search"),
    Code("local_integration", "Integration im Stadtteil", "Local integration / neighbourhood"),
    Code("complex_case", "Komplexer Fall über mehrere Stellen", "Complex multi-agency case"),
)

RESIDENCE_STATUSES = (
    Code("DE_CITIZEN", "Deutsche/r", "German citizen"),
    Code("DE_SPAETAUSSIEDLER", "Spätaussiedler/in", "Ethnic German resettler"),
    Code("EU_FREE_MOVEMENT", "Unionsbürger/in (EU/EWR/CH)", "EU/EEA/Swiss citizen"),
    Code("EU_FAMILY_3RD", "Drittstaatsangehörige Familie von Unionsbürgern",
         "Non-EU family member of an EU citizen"),
    Code("TEMP_PROTECTION_24", "Vorübergehender Schutz (§ 24 AufenthG)",
         "Temporary protection (§ 24 AufenthG)"),
    Code("FIKTION", "Fiktionsbescheinigung", "Provisional certificate (Fiktionsbescheinigung)"),
    Code("ASYLUM_ARRIVAL", "Ankunftsnachweis", "Asylum seeker before application"),
    Code("ASYLUM_PENDING", "Aufenthaltsgestattung", "Asylum seeker (pending)"),
    Code("REFUGEE_RECOGNISED", "Anerkannte/r Flüchtling / Asylberechtigte/r",
         "Recognised refugee"),
    Code("SUBSIDIARY_PROTECTION", "Subsidiär Schutzberechtigte/r", "Subsidiary protection"),
    Code("DEPORTATION_BAN", "Nationales Abschiebungsverbot (§ 25 Abs. 3)",
         "National deportation ban (§ 25(3))"),
    Code("HUMANITARIAN_OTHER", "Sonstige humanitäre Aufenthaltserlaubnis",
         "Other humanitarian permit"),
    Code("DULDUNG", "Duldung", "Duldung (suspension of deportation)"),
    Code("WORK", "Erwerbsmigration", "Work permit"),
    Code("STUDY_TRAINING", "Studium / Ausbildung", "Study / training"),
    Code("FAMILY_REUNION", "Familiennachzug", "Family reunion"),
    Code("SETTLED", "Niederlassungserlaubnis / Daueraufenthalt-EU", "Settled"),
    Code("VISA_FREE_SHORT", "Visafreier Kurzaufenthalt", "Visa-free short stay"),
    Code("UNKNOWN_UNDOCUMENTED", "Ungeklärt / ohne Papiere", "Unclear / undocumented"),
)

# Why the person is in Germany, as far as benefits law asks (§ 7 Abs. 1 Satz 2 SGB II and
# § 23 Abs. 3 SGB XII exclude those whose right of residence comes from job-seeking alone,
# and those not working in their first three months).
RESIDENCE_PURPOSES = (
    Code("work", "Arbeit (Arbeitnehmer/in)", "Work (employed)"),
    Code("self_employment", "Selbständige Tätigkeit", "Self-employment"),
    Code("job_seeking", "Arbeitsuche", "Looking for work"),
    Code("family", "Familie (Nachzug, Angehörige)", "Family (joining or accompanying)"),
    Code("study", "Studium / Ausbildung", "Study / training"),
    Code("protection", "Schutz (Flucht, humanitär)", "Protection (refuge, humanitarian)"),
    Code("other", "Sonstiges / ohne Erwerbstätigkeit", "Other / not working"),
)

# Household relations that count as the person's children: a parent asks for their needs
# (a school or Kita place), so routing may find such a need theirs.
CHILD_RELATIONS = ("child", "grandchild")

SITES = (
    Code("infopoint", "Infopoint", "Info point"),
    Code("centre", "Servicezentrum", "Service centre"),
    Code("outreach", "Aufsuchende Beratung", "Outreach"),
)

CONSENT_METHODS = (
    Code("signed_form", "Unterschriebenes Formular", "Signed form"),
    Code("verbal_with_witness", "Mündlich mit Zeugin/Zeuge", "Verbal with witness"),
    Code("digital", "Digital", "Digital"),
)

EU_EEA_CH = frozenset("AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK "
                      "SI ES SE IS LI NO CH".split())


def codes(items: tuple[Code, ...]) -> tuple[str, ...]:
    return tuple(item.code for item in items)


def is_country(code: str) -> bool:
    """ISO 3166-1 alpha-2 (upper case), plus XX (unknown) and XS (stateless) as in ICAO 9303."""
    return code in ("XX", "XS") or (code.isupper() and pycountry.countries.get(alpha_2=code)
                                    is not None)


def is_language(code: str) -> bool:
    """ISO 639-1 two-letter or ISO 639-3 three-letter code (e.g. uk, ar, prs, ckb, kmr)."""
    if not code.islower():
        return False
    if len(code) == 2:
        return pycountry.languages.get(alpha_2=code) is not None
    return len(code) == 3 and pycountry.languages.get(alpha_3=code) is not None


# The city the centre serves: the intake form's address starts in it (its postcodes and
# districts follow).
HOME_CITY = "Dortmund"

# The city's twelve districts (Stadtbezirke). District offices ("lokal willkommen") and
# services placed "near home" (school places) are organised by them.
DISTRICTS = (
    Code("innenstadt_west", "Innenstadt-West", "Innenstadt-West (city centre west)"),
    Code("innenstadt_nord", "Innenstadt-Nord", "Innenstadt-Nord (Nordstadt)"),
    Code("innenstadt_ost", "Innenstadt-Ost", "Innenstadt-Ost (city centre east)"),
    Code("eving", "Eving", "Eving"),
    Code("scharnhorst", "Scharnhorst", "Scharnhorst"),
    Code("brackel", "Brackel", "Brackel"),
    Code("aplerbeck", "Aplerbeck", "Aplerbeck"),
    Code("hoerde", "Hörde", "Hörde"),
    Code("hombruch", "Hombruch", "Hombruch"),
    Code("luetgendortmund", "Lütgendortmund", "Lütgendortmund"),
    Code("huckarde", "Huckarde", "Huckarde"),
    Code("mengede", "Mengede", "Mengede"),
)

# Postcode -> the districts it reaches. Postcode areas and district borders do not coincide:
# where a postcode spans several districts, staff choose the district at the intake (the
# postcode alone leaves it unknown). Maintained by the city's statistics office; a postcode
# outside this table is not in the city.
POSTCODE_DISTRICTS: dict[str, tuple[str, ...]] = {
    "44135": ("innenstadt_west", "innenstadt_ost"),
    "44137": ("innenstadt_west",),
    "44139": ("innenstadt_west", "innenstadt_ost"),
    "44141": ("innenstadt_ost",),
    "44143": ("innenstadt_ost", "brackel"),
    "44145": ("innenstadt_nord",),
    "44147": ("innenstadt_nord",),
    "44149": ("innenstadt_west", "luetgendortmund"),
    "44225": ("hombruch",),
    "44227": ("hombruch",),
    "44229": ("hombruch",),
    "44263": ("hoerde",),
    "44265": ("hoerde",),
    "44267": ("hoerde",),
    "44269": ("aplerbeck",),
    "44287": ("aplerbeck",),
    "44289": ("aplerbeck",),
    "44309": ("brackel",),
    "44319": ("brackel",),
    "44328": ("scharnhorst",),
    "44329": ("scharnhorst",),
    "44339": ("eving",),
    "44357": ("mengede", "huckarde"),
    "44359": ("mengede",),
    "44369": ("huckarde",),
    "44379": ("luetgendortmund", "huckarde"),
    "44388": ("luetgendortmund",),
}


def districts_for_postcode(postcode: str) -> tuple[str, ...]:
    """The city districts a postcode reaches; () when it is not a postcode of the city."""
    return POSTCODE_DISTRICTS.get(postcode, ())
