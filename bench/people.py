"""A realistic mix of newcomers for the benchmark (domain.md §8.1: MigraDo's first year).

About three quarters of the first year's contacts came from Ukraine, most of the rest from
Syria, Afghanistan, Turkey and the EU's newer members; each consultation names about three
needs. The generator is seeded, so two runs offer the same people in the same order.
"""
from __future__ import annotations

import random
from datetime import date, timedelta

# (nationality, residence status, languages, weight)
ORIGINS = (
    ("UA", "TEMP_PROTECTION_24", ["uk", "ru"], 75),
    ("SY", "ASYLUM_PENDING", ["ar"], 6),
    ("SY", "REFUGEE_RECOGNISED", ["ar", "ku"], 3),
    ("AF", "ASYLUM_PENDING", ["fa", "ps"], 4),
    ("TR", "ASYLUM_PENDING", ["tr", "ku"], 3),
    ("RO", "EU_FREE_MOVEMENT", ["ro"], 3),
    ("BG", "EU_FREE_MOVEMENT", ["bg", "tr"], 2),
    ("PL", "EU_FREE_MOVEMENT", ["pl"], 2),
    ("IQ", "SUBSIDIARY_PROTECTION", ["ar", "ku"], 1),
    ("ER", "REFUGEE_RECOGNISED", ["ti"], 1),
)
# needs as staff record them in a first consultation, most common first
NEEDS = (
    ("address_registration", 70), ("living_costs", 60), ("orientation_counselling", 45),
    ("language_course", 40), ("health_insurance", 20), ("housing", 15),
    ("kita_place", 12), ("school_place", 12), ("child_benefit", 10),
    ("recognition_of_qualifications", 6), ("youth_counselling", 5),
)
GIVEN = ("Olena", "Andrii", "Iryna", "Mykola", "Oksana", "Dmytro", "Yusuf", "Amina", "Omar",
         "Fatima", "Ahmad", "Zahra", "Elif", "Mehmet", "Ioana", "Georgi", "Anna", "Tesfay")
FAMILY = ("Kovalenko", "Shevchenko", "Bondarenko", "Tkachenko", "Haddad", "Al-Masri",
          "Rahimi", "Yilmaz", "Popescu", "Dimitrov", "Nowak", "Kidane", "Hassan", "Melnyk")

EU_PURPOSES = [("work", 60), ("job_seeking", 25), ("family", 10), ("other", 5)]


class People:
    """An endless, seeded stream of intake requests in the public API's shape."""

    def __init__(self, seed: int = 2022):
        self.random = random.Random(seed)
        # the residence facts from a stream of their own: the people, their needs and their
        # order stay those of runs before these facts were added (issue 19)
        self.facts = random.Random(seed + 1)

    def _pick(self, weighted):
        items, weights = zip(*[(item[:-1], item[-1]) for item in weighted], strict=True)
        return self.random.choices(items, weights)[0]

    def intake(self) -> dict:
        nationality, status, languages = self._pick(ORIGINS)
        age_days = self.random.randint(18 * 365, 70 * 365)
        count = min(len(NEEDS), max(1, round(self.random.gauss(3, 1))))
        needs: list[str] = []
        while len(needs) < count:
            (need,) = self._pick(NEEDS)
            if need not in needs:
                needs.append(need)
        residence: dict = {}
        arrived = date(2026, 1, 1) - timedelta(days=self.facts.randint(30, 4 * 365))
        if status == "TEMP_PROTECTION_24":  # the first-issue date decides SGB II or AsylbLG
            residence["first_issue_date"] = (arrived + timedelta(days=20)).isoformat()
        if status == "EU_FREE_MOVEMENT":  # the purpose decides whether SGB II excludes
            items, weights = zip(*EU_PURPOSES, strict=True)
            residence["purpose"] = self.facts.choices(items, weights)[0]
        return {
            "residence": residence, "arrival_date": arrived.isoformat(),
            "person": {"given_name": self.random.choice(GIVEN),
                       "family_name": self.random.choice(FAMILY),
                       "birth_date": (date(2026, 1, 1) - timedelta(days=age_days)).isoformat(),
                       "nationality": nationality, "languages": list(languages)},
            "residence_status": status,
            "site": self.random.choice(("infopoint", "centre")),
            "needs": needs,
            "consent": {"share_with_partners": True, "method": "signed_form",
                        "language": languages[0]},
        }
