"""Likely matches of returning visitors: names across scripts and spellings, and birth dates."""
from __future__ import annotations

from datetime import date

import pytest

from services.intake.matching import (
    Candidate,
    Match,
    likely_matches,
    name_similarity,
    normalise,
    search_keys,
    skeleton,
)

BORN = date(1987, 3, 14)

# (given, family) of one person as written in two places: script, transliteration, form.
SAME_PERSON = [
    pytest.param(("Олена", "Коваленко"), ("Olena", "Kovalenko"), id="ukrainian-cyrillic-latin"),
    pytest.param(("Oleksandr", "Kovalenko"), ("Aleksandr", "Kovalenko"), id="oleksandr-aleksandr"),
    pytest.param(("Oleksandr", "Kovalenko"), ("Alexander", "Kovalenko"), id="oleksandr-alexander"),
    pytest.param(("Олександр", "Коваленко"), ("Alexander", "Kovalenko"), id="cyrillic-alexander"),
    pytest.param(("Олександр", "Коваленко"), ("Александр", "Коваленко"), id="ukrainian-russian"),
    pytest.param(("Mohammed", "Ahmadi"), ("Muhammad", "Ahmadi"), id="mohammed-muhammad"),
    pytest.param(("Mohamed", "Ahmadi"), ("Mohammed", "Ahmadi"), id="mohamed-mohammed"),
    pytest.param(("Mohammed", "Ahmadi"), ("محمد", "احمدی"), id="mohammed-arabic-script"),
    pytest.param(("Ahmad", "Karimi"), ("Ahmed", "Karimi"), id="ahmad-ahmed"),
    pytest.param(("Ahmed", "Karimi"), ("أحمد", "کریمی"), id="ahmed-arabic-persian-script"),
    pytest.param(("Abdulrahman", "Hassan"), ("Abd al-Rahman", "Hassan"), id="abd-al-rahman"),
    pytest.param(("Abdulrahman", "Hassan"), ("Abdel Rahman", "Hassan"), id="abdel-rahman"),
    pytest.param(("Abdulrahman", "Hassan"), ("عبد الرحمن", "حسن"), id="abdulrahman-arabic"),
    pytest.param(("Omar", "Al-Hassan"), ("Omar", "Hassan"), id="article-left-out"),
    pytest.param(("Yusuf", "Ali"), ("Youssef", "Ali"), id="yusuf-youssef"),
    pytest.param(("Yousef", "Ali"), ("Yusuf", "Ali"), id="yousef-yusuf"),
    pytest.param(("Yusuf", "Ali"), ("يوسف", "علي"), id="yusuf-arabic"),
    pytest.param(("Zahra", "Hosseini"), ("زهرا", "حسینی"), id="persian-zahra"),
    pytest.param(("Fatemeh", "Rahimi"), ("Fatima", "Rahimi"), id="persian-fatemeh-fatima"),
    pytest.param(("Mohammad Reza", "Ahmadi"), ("Mohammadreza", "Ahmadi"), id="dari-compound"),
    pytest.param(("Şükrü", "Yılmaz"), ("Sukru", "Yilmaz"), id="turkish-diacritics"),
    pytest.param(("Łukasz", "Nowak"), ("Lukasz", "Nowak"), id="polish-l-stroke"),
    pytest.param(("Ștefan", "Popescu"), ("Stefan", "Popescu"), id="romanian-comma-below"),
    pytest.param(("Ştefan", "Popescu"), ("Stefan", "Popescu"), id="romanian-cedilla"),
    pytest.param(("Hans", "Müller"), ("Hans", "Mueller"), id="umlaut-expanded"),
    pytest.param(("Hans", "Müller"), ("Hans", "Muller"), id="umlaut-dropped"),
    pytest.param(("Rojîn", "Xelîl"), ("Rojin", "Khalil"), id="kurdish-kurmanji"),
    pytest.param(("Azad", "Rasul"), ("ئازاد", "ڕەسوڵ"), id="kurdish-sorani-script"),
    pytest.param(("Yohannes", "Tesfay"), ("ዮሃንስ", "ተስፋይ"), id="tigrinya-geez"),
    pytest.param(("Semere", "Gebremedhin"), ("ሰመረ", "ገብረመድህን"), id="tigrinya-compound"),
    pytest.param(("Ihor", "Shevchenko"), ("Igor", "Schewtschenko"), id="ukrainian-german-form"),
    pytest.param(("Olena", "Kovalenko"), ("Kovalenko", "Olena"), id="swapped"),
    pytest.param(("Olena Petrivna", "Kovalenko"), ("Olena", "Kovalenko"), id="patronymic-missing"),
]

DIFFERENT_PEOPLE = [
    pytest.param(("Olena", "Kovalenko"), ("Oksana", "Melnyk"), id="ukrainian"),
    pytest.param(("Olena", "Kovalenko"), ("Olga", "Kozlova"), id="ukrainian-similar-start"),
    pytest.param(("Olena", "Kovalenko"), ("Oleh", "Kovalchuk"), id="ukrainian-shared-prefixes"),
    pytest.param(("Olena", "Kovalenko"), ("Olena", "Melnyk"), id="same-given-name"),
    pytest.param(("Olena", "Kovalenko"), ("Oksana", "Kovalenko"), id="same-family-name"),
    pytest.param(("Mohammed", "Ali"), ("Mohammed", "Hassan"), id="same-given-arabic"),
    pytest.param(("Yusuf", "Ali"), ("Yasmin", "Ali"), id="same-family-arabic"),
    pytest.param(("Ahmad", "Sultani"), ("Ahmad", "Rahimi"), id="same-given-dari"),
    pytest.param(("Natalia", "Shevchenko"), ("Nadia", "Savchenko"), id="sh-is-not-s"),
    pytest.param(("Ali", "Karimi"), ("Ola", "Karimi"), id="final-i-counts"),
    pytest.param(("Mehmet", "Yilmaz"), ("Emine", "Sahin"), id="turkish"),
    pytest.param(("Yohannes", "Tesfay"), ("Selam", "Haile"), id="tigrinya"),
]


def candidate(person_id: str, given: str, family: str, born: date | None = BORN,
              other_names: tuple[str, ...] = ()) -> Candidate:
    return Candidate(person_id, given, family, born, other_names)


def find(given: str, family: str, born: date | None, *candidates: Candidate,
         **kw) -> list[Match]:
    return likely_matches(given, family, born, candidates, **kw)


# --- normalise and skeleton ------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("Олена  Коваленко", "olena kovalenko"),
    ("Müller", "mueller"),
    ("MUELLER", "mueller"),
    ("Łukasz", "lukasz"),
    ("Ștefan", "stefan"),
    ("Şükrü", "suekrue"),  # ü is "ue" by the German convention, in Turkish names too
    ("Anna-Lena", "anna lena"),
    ("O'Brien", "obrien"),
    ("Наталья", "natalia"),  # soft sign gone
    ("ｆｕｌｌｗｉｄｔｈ", "fullwidth"),  # NFKC
])
def test_normalise_gives_lowercase_ascii_words(text, expected):
    assert normalise(text) == expected


def test_normalise_transliterates_abjad_scripts_without_their_article():
    assert normalise("الحسن") == "hsn"
    assert normalise("مُحَمَّد") == normalise("محمد") == "mhmd"  # vowel signs and shadda dropped


def test_normalise_reads_geez_sixth_order_as_bare_consonants():
    # unidecode alone gives "yohaanese" and "tasefaaye"
    assert normalise("ዮሃንስ") == "yohaans"
    assert normalise("ተስፋይ") == "tasfaay"


@pytest.mark.parametrize("spellings, key", [
    (("Ahmad", "Ahmed", "أحمد", "احمد"), "hmd"),
    (("Mohammed", "Muhammad", "Mohamed", "محمد"), "mhmd"),
    (("Oleksandr", "Aleksandr", "Alexander", "Олександр", "Александр"), "lksndr"),
    (("Yusuf", "Youssef", "Yousef", "يوسف", "Jusuf"), "ysf"),
    (("Abdulrahman", "Abd al-Rahman", "Abdel Rahman", "Abdurrahman", "عبد الرحمن",
      "عبدالرحمن"), "bdrhmn"),
    (("Müller", "Mueller", "Muller"), "mlr"),
    (("Şükrü", "Sukru"), "skr"),
    (("Łukasz", "Lukasz"), "lks"),
    (("Khalid", "Xalid", "خالد"), "hld"),
    (("Ihor", "Igor", "Ігор"), "hr"),
    (("Andrii", "Andriy", "Andrej", "Andrey", "Андрій"), "ndry"),
    (("Kowalski", "Kovalskyi", "Ковальський"), "kvlsky"),
    (("Shevchenko", "Schewtschenko", "Szewczenko", "Шевченко"), "svchnk"),
    (("Karimi", "کریمی"), "krmy"),
    (("Fatemeh", "Fatima", "فاطمه", "فاطمة"), "ftm"),
    (("Yulia", "Julia", "Юлія"), "yl"),
    (("Hosseini", "Husseini", "حسینی"), "hsny"),
])
def test_skeleton_is_one_key_for_transliteration_variants(spellings, key):
    assert {skeleton(spelling) for spelling in spellings} == {key}


def test_skeleton_keeps_apart_what_differs_in_every_script():
    assert skeleton("Ali") != skeleton("Ola")  # the final -i is written in Arabic too
    assert skeleton("Karimi") != skeleton("Karim")
    assert skeleton("Olena") != skeleton("Oksana")


def test_skeleton_of_nothing_is_empty():
    assert skeleton("") == skeleton(" - ") == ""


# --- name similarity -------------------------------------------------------------------------


@pytest.mark.parametrize("ours, theirs", SAME_PERSON)
def test_the_same_name_in_two_spellings_is_similar(ours, theirs):
    assert name_similarity(*ours, *theirs) >= 0.9


@pytest.mark.parametrize("ours, theirs", DIFFERENT_PEOPLE)
def test_different_names_are_not_similar(ours, theirs):
    assert name_similarity(*ours, *theirs) < 0.6


def test_name_similarity_is_symmetric_and_bounded():
    pairs = [p.values for p in SAME_PERSON + DIFFERENT_PEOPLE]
    for ours, theirs in pairs:
        forward, backward = name_similarity(*ours, *theirs), name_similarity(*theirs, *ours)
        assert 0.0 <= forward <= 1.0
        assert forward == pytest.approx(backward)


def test_identical_names_score_highest():
    assert name_similarity("Olena", "Kovalenko", "Olena", "Kovalenko") == 1.0
    assert name_similarity("Olena", "Kovalenko", "Olena", "Kowalenko") < 1.0


def test_a_swapped_name_scores_just_below_the_name_in_order():
    in_order = name_similarity("Olena", "Kovalenko", "Olena", "Kovalenko")
    swapped = name_similarity("Olena", "Kovalenko", "Kovalenko", "Olena")
    assert 0.95 <= swapped < in_order


def test_a_missing_middle_name_costs_little_and_a_lone_given_name_more():
    full = name_similarity("Olena Petrivna", "Kovalenko", "Olena", "Kovalenko")
    lone = name_similarity("Olena", "", "Olena", "Kovalenko")
    assert 0.9 <= full < 1.0
    assert lone < full


def test_same_consonants_with_vowels_elsewhere_is_a_weaker_match():
    # Mahmoud and Mohammed both give "mhmd"; written with vowels they are clearly different
    assert name_similarity("Mahmoud", "Ahmadi", "Mohammed", "Ahmadi") < 0.9
    assert name_similarity("Ahmad", "Karimi", "Hamid", "Karimi") < 0.9
    assert name_similarity("Mohammed", "Ahmadi", "Muhammad", "Ahmadi") > 0.95


def test_empty_names_are_not_similar():
    assert name_similarity("", "", "Olena", "Kovalenko") == 0.0


# --- likely matches --------------------------------------------------------------------------


@pytest.mark.parametrize("ours, theirs", SAME_PERSON)
def test_the_same_person_with_the_same_birth_date_is_a_likely_match(ours, theirs):
    matches = find(*ours, BORN, candidate("p1", *theirs))
    assert [m.person_id for m in matches] == ["p1"]
    assert "same date of birth" in matches[0].reasons


@pytest.mark.parametrize("ours, theirs", DIFFERENT_PEOPLE)
def test_a_different_person_is_not_a_likely_match_even_with_the_same_birth_date(ours, theirs):
    assert find(*ours, BORN, candidate("p1", *theirs)) == []


def test_the_exact_same_person_ranks_first():
    matches = find("Olena", "Kovalenko", BORN,
                   candidate("swapped", "Kovalenko", "Olena"),
                   candidate("variant", "Olena", "Kowalenko"),
                   candidate("no-date", "Olena", "Kovalenko", None),
                   candidate("exact", "Olena", "Kovalenko"),
                   candidate("other", "Oksana", "Melnyk"))
    assert [m.person_id for m in matches] == ["exact", "variant", "swapped", "no-date"]
    assert matches[0].score == 1.0
    assert [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)


def test_a_very_different_birth_date_makes_the_same_name_unlikely():
    assert find("Olena", "Kovalenko", BORN,
                candidate("p1", "Olena", "Kovalenko", date(1990, 7, 2))) == []
    (match,) = find("Olena", "Kovalenko", BORN,
                    candidate("p1", "Olena", "Kovalenko", date(1990, 7, 2)), threshold=0)
    assert match.score < 0.75
    assert "different date of birth (1987-03-14 vs 1990-07-02)" in match.reasons


@pytest.mark.parametrize("theirs, reason", [
    (date(1987, 3, 14), "same date of birth"),
    (date(1987, 3, 15), "birth date one day apart"),
    (date(1987, 3, 13), "birth date one day apart"),
    (date(1987, 2, 3), "birth date differs by day/month swap"),
    (None, "date of birth unknown on one side"),
    (date(1978, 3, 14), "same birthday, birth year differs (1987 vs 1978)"),
    (date(1987, 1, 1), "same birth year; 1 January is often a placeholder date"),
])
def test_birth_date_evidence_is_named(theirs, reason):
    ours = date(1987, 3, 2) if "swap" in reason else BORN
    (match,) = find("Olena", "Kovalenko", ours, candidate("p1", "Olena", "Kovalenko", theirs))
    assert reason in match.reasons


def test_birth_date_evidence_orders_the_same_name():
    born = {"exact": BORN, "next-day": date(1987, 3, 15), "unknown": None,
            "other": date(1990, 7, 2)}
    matches = find("Olena", "Kovalenko", BORN,
                   *(candidate(pid, "Olena", "Kovalenko", d) for pid, d in born.items()),
                   threshold=0)
    assert [m.person_id for m in matches] == ["exact", "next-day", "unknown", "other"]


def test_an_unknown_birth_date_needs_a_closer_name():
    assert find("Olena", "Kovalenko", None, candidate("p1", "Olena", "Kovalenko"))
    # Mahmoud/Mohammed is enough with the same birth date, not without one
    assert find("Mahmoud", "Ahmadi", BORN, candidate("p1", "Mohammed", "Ahmadi"))
    assert not find("Mahmoud", "Ahmadi", None, candidate("p1", "Mohammed", "Ahmadi"))


def test_other_spellings_of_the_candidate_are_compared():
    stored = candidate("p1", "Gholam", "Sakhi", other_names=("غلام سخی",))
    (match,) = find("غلام", "سخی", BORN, stored)
    assert match.score == 1.0
    assert "same name (غلام سخی)" in match.reasons


def test_other_spellings_of_the_query_are_compared():
    stored = candidate("p1", "Олена", "Коваленко")  # before marriage
    assert not find("Olena", "Schmidt", BORN, stored)
    (match,) = find("Olena", "Schmidt", BORN, stored, other_names=("Olena Kovalenko",))
    assert match.person_id == "p1"
    assert match.reasons[0] == "name matches across scripts (Olena Kovalenko ≈ Олена Коваленко)"


def test_reasons_say_why_a_name_matched():
    (across,) = find("Олена", "Коваленко", BORN, candidate("p1", "Olena", "Kovalenko"))
    assert across.reasons == ("name matches across scripts (Олена Коваленко ≈ Olena Kovalenko)",
                              "same date of birth")
    (swapped,) = find("Olena", "Kovalenko", BORN, candidate("p1", "Kovalenko", "Olena"))
    assert "given and family name swapped" in swapped.reasons
    (partial,) = find("Olena Petrivna", "Kovalenko", BORN, candidate("p1", "Olena", "Kovalenko"))
    assert "name part only on one side: petrivna" in partial.reasons
    (variant,) = find("Mohammed", "Ahmadi", BORN, candidate("p1", "Muhammad", "Ahmadi"))
    assert variant.reasons[0] == "name spelt differently (Mohammed Ahmadi ≈ Muhammad Ahmadi)"


def test_limit_and_threshold_are_honoured():
    many = [candidate(f"p{i}", "Olena", "Kovalenko") for i in range(8)]
    assert len(find("Olena", "Kovalenko", BORN, *many)) == 5
    assert len(find("Olena", "Kovalenko", BORN, *many, limit=2)) == 2
    assert find("Olena", "Kovalenko", None, *many, threshold=0.99) == []


def test_ties_are_ordered_by_person_id_so_results_are_stable():
    matches = find("Olena", "Kovalenko", BORN, candidate("b", "Olena", "Kovalenko"),
                   candidate("a", "Olena", "Kovalenko"))
    assert [m.person_id for m in matches] == ["a", "b"]


def test_no_candidates_no_matches():
    assert find("Olena", "Kovalenko", BORN) == []


# --- search keys -----------------------------------------------------------------------------


@pytest.mark.parametrize("ours, theirs", SAME_PERSON)
def test_search_keys_of_one_person_overlap(ours, theirs):
    assert set(search_keys(*ours)) & set(search_keys(*theirs))


@pytest.mark.parametrize("ours, theirs", [
    (("Olena", "Kovalenko"), ("Oksana", "Melnyk")),
    (("Olena", "Kovalenko"), ("Olga", "Kozlova")),
    (("Olena", "Kovalenko"), ("Oleh", "Kovalchuk")),
    (("Mohammed", "Ahmadi"), ("Hassan", "Sultani")),
    (("Ali", "Karimi"), ("Ola", "Nowak")),
    (("Mehmet", "Yilmaz"), ("Emine", "Sahin")),
    (("Yohannes", "Tesfay"), ("Selam", "Haile")),
])
def test_search_keys_of_clearly_different_names_do_not_overlap(ours, theirs):
    assert not set(search_keys(*ours)) & set(search_keys(*theirs))


def test_search_keys_overlap_where_a_name_part_sounds_alike():
    # Preselection is coarse on purpose: a shared given or family name shares its key, and
    # Shevchenko/Savchenko share theirs (only the full comparison tells them apart).
    assert set(search_keys("Olena", "Kovalenko")) & set(search_keys("Olena", "Melnyk"))
    assert set(search_keys("Natalia", "Shevchenko")) & set(search_keys("Nadia", "Savchenko"))


def test_search_keys_are_short_sorted_and_deterministic():
    keys = search_keys("Mohammad Reza", "Al-Ahmadi")
    assert keys == sorted(set(keys))
    assert keys == search_keys("Mohammad Reza", "Al-Ahmadi")
    assert keys == ["hmdy", "mhmd", "mhmdrz", "rz"]
    assert set(search_keys("Mohammadreza", "Ahmadi")) & set(keys) == {"hmdy", "mhmdrz"}


def test_search_keys_of_an_empty_name_are_empty():
    assert search_keys("", "") == []
