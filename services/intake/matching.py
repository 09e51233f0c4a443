"""Likely matches of a returning visitor: fuzzy names across scripts plus date of birth.

Before staff create a person record they see the people already recorded who are probably the
same human being. Names reach us in many scripts and transliterations (Cyrillic, Arabic,
Persian, Ge'ez, Latin with or without diacritics), with given and family name swapped, and
with middle names or father's names sometimes left out. Plain domain code: no Flask, no SQL.

How it works:

1. `normalise` turns any script into lowercase Latin ASCII (NFKC, a few script fixes,
   `unidecode`) so the same name written in two scripts becomes comparable text.
2. `skeleton` reduces one normalised word to a consonant key. Vowels are the least reliable
   part of a transliterated name: Arabic and Persian script do not write short vowels at all
   (محمد gives "mhmd"), Cyrillic transliteration schemes disagree on them (Олександр
   "Oleksandr", Александр "Aleksandr") and so do German, English and French spellings
   (Youssef, Yusuf, Yousef). Dropping every vowel, the leading one too, is what lets أحمد
   ("hmd") meet Ahmad. Only a final -i survives (as "y"): every script writes it, and it
   tells Ali from Ola and Karimi from Karim.
3. `name_similarity` pairs the name parts of both sides in whatever order fits best (given
   and family name swapped) and lets extra parts stay unmatched (a missing father's name) at a
   small cost. Equal skeletons count for less the shorter they are, and, where both
   spellings write vowels, for less if the vowels sit in other places (Mahmoud "mVhmVd" is
   not Mohammed "mVhVmVd", though both give "mhmd"); that is what the date of birth is for.
4. `likely_matches` combines the best name similarity over all known spellings with the
   evidence of the birth dates and says why, in words staff can check.
5. `search_keys` gives the skeletons as short keys a database can index, so only candidates
   sharing a key need the full comparison.

Scores are heuristics meant to put the right record in front of staff, never to merge
records on their own.
"""
from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from rapidfuzz.distance import Indel, JaroWinkler
from unidecode import unidecode

# --- normalising -----------------------------------------------------------------------------

# German convention (also the passport's machine-readable zone): ü is "ue", so Müller and
# Mueller normalise alike; Muller only meets them in the skeleton, where vowels are gone.
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})

# Arabic-script letters unidecode renders unhelpfully: Persian keheh ک comes out as "kh"
# (it is a plain k, کریمی is Karimi); hamza on a yeh seat ئ comes out as "y'" although it
# carries a vowel (Kurdish ئازاد is Azad).
_ARABIC_SCRIPT_FIXES = str.maketrans({"\u06a9": "\u0643", "\u0626": "\u0621"})
# Vowel signs, shadda (unidecode writes it "W") and tatweel: written only sometimes, so never
# a difference between two spellings.
_ARABIC_MARKS = re.compile("[\u0640\u064b-\u065f\u0670\u06d6-\u06ed]")
# "Abd" + article glued to what follows, so عبد الرحمن and عبدالرحمن both give "bdrhmn",
# like the Latin Abdulrahman, Abd al-Rahman and Abdel Rahman (see _canonical_tokens).
_ARABIC_ABD = re.compile("\u0639\u0628\u062f\\s*(?:\u0627\u0644)?")
# The article ال at the start of a word (الحسن is al-Hassan, often written just Hassan).
_ARABIC_ARTICLE = re.compile("(?<![\u0600-\u06ff])\u0627\u0644(?=[\u0600-\u06ff]{2})")

_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015_/,;.]+")
_NOT_ALNUM = re.compile(r"[^a-z0-9 ]")


def normalise(text: str) -> str:
    """Any script to lowercase Latin ASCII words: no diacritics, apostrophes or hyphens."""
    text = unicodedata.normalize("NFKC", text or "")
    text = _prepare_ethiopic(_prepare_arabic_script(text)).translate(_UMLAUTS)
    text = unidecode(text).lower()
    # Hyphens separate name parts (Anna-Lena, al-Rahman); apostrophes and the signs unidecode
    # uses for hamza, ayn, soft sign and ta marbuta ('`@~) are not letters in any spelling.
    text = _SEPARATORS.sub(" ", text)
    return " ".join(_NOT_ALNUM.sub("", text).split())


def _prepare_arabic_script(text: str) -> str:
    if not re.search("[\u0600-\u06ff]", text):
        return text
    text = _ARABIC_MARKS.sub("", text.translate(_ARABIC_SCRIPT_FIXES))
    text = _ARABIC_ABD.sub("\u0639\u0628\u062f", text)
    # unidecode drops alef and writes alef maqsura "~"; as "a" they keep a final long a from
    # looking like a final -i (ماريا is Maria, not "mry"; يحيى is Yahya).
    return _ARABIC_ARTICLE.sub("", text).replace("\u0627", "a").replace("\u0649", "a")


def _prepare_ethiopic(text: str) -> str:
    """Ge'ez syllables in the Latin spelling Eritrean and Ethiopian names usually get.

    unidecode writes the sixth order (consonant + ə) with an "e" (ዮሃንስ "yohaanese"), but that
    vowel is mostly silent: Yohannes; ተስፋይ is Tesfay. ፀ comes out "tz" and ኸ "kx", while the
    names are written Tsegai and Tekle.
    """
    if not re.search("[\u1200-\u137f]", text):
        return text
    return "".join(_ethiopic_char(char) for char in text)


def _ethiopic_char(char: str) -> str:
    code = ord(char)
    if not 0x1200 <= code <= 0x137F:
        return char
    latin = unidecode(char)
    if (code - 0x1200) % 8 == 5 and len(latin) > 1 and latin.endswith("e"):
        latin = latin[:-1]
    return latin.replace("tz", "ts").replace("kx", "k")


# --- skeleton --------------------------------------------------------------------------------

_VOWELS = frozenset("aeiou")
_V = "V"  # a vowel's place in a shape
_Y = "y"  # a final -i/-y/-ij: Ali is not Ola, Karimi (کریمی) is not Karim (کریم)
_SH = "S"  # sh: only the shape tells Shevchenko from Savchenko
# Spelling variants of one sound, applied in this order, longest first: German, Polish,
# English and Cyrillic transliterations of one name must meet (Schewtschenko, Szewczenko,
# Shevchenko). In the skeleton "sh" is "s", because Turkish ş and Romanian ș lose their
# cedilla in unidecode (Şükrü is "sukru", Shukru in English); the shape keeps it apart.
_DIGRAPHS = (
    ("tsch", "ch"), ("sch", "sh"), ("sz", "sh"), ("cz", "ch"), ("sh", _SH),
    ("kh", "h"), ("gh", "g"), ("ph", "f"), ("th", "t"), ("dh", "d"), ("ck", "k"),
)


def skeleton(word: str) -> str:
    """A consonant key of one name word that transliteration variants agree on.

    Ahmad, Ahmed and أحمد give "hmd"; Oleksandr, Aleksandr, Alexander and Олександр give
    "lksndr"; Müller, Mueller and Muller give "mlr"; Şükrü and Sukru give "skr"; Ali and
    علي give "ly" (the final -i is kept, see _sounds). Arabic article variants are one:
    Abdulrahman, Abd al-Rahman, Abdel Rahman and عبد الرحمن give "bdrhmn", al-Hassan "hsn".
    """
    word = "".join(_canonical_tokens(word))
    if not word:
        return ""
    key = "".join(sound for sound in _sounds(word) if sound != _V).lower()
    return _collapse(key) or word[0]


def _shape(word: str) -> str:
    """Consonants with the places of vowels ("V"): Mahmoud "mVhmVd", Mohammed "mVhVmVd".

    Only for spellings that write vowels; two names with one skeleton but a different shape
    (Ahmad/Hamid, Mahmoud/Mohammed, Shevchenko/Savchenko) are probably different names. A
    final vowel and a vowel before a final r are left out: they vary between transliterations
    of one name (Fatima/Fatemeh, Aleksandr/Alexander).
    """
    shape = _collapse("".join(_sounds(word))).rstrip(_V)
    return re.sub(r"(?<=[^V])Vr$", "r", shape) or _V


def _sounds(word: str) -> list[str]:
    """The word as consonant classes, "V" for each vowel and "y" for a final -i sound."""
    word = _initial_sounds(word)
    for old, new in _DIGRAPHS:
        word = word.replace(old, new)
    # Ukrainian г is h (Ihor, Olha), Russian г is g (Igor, Olga); Arabic gh/kh/h letters are
    # written either way too, so g and h are one sound here.
    word = word.replace("q", "k").replace("x", "ks").replace("g", "h")
    sounds = [_sound(word, i) for i in range(len(word))]
    # A final -i is part of the name in every script (Ali/علي, Karimi/کریمی, Andrii/Andrej,
    # Kowalski/Ковальський), unlike other final vowels (Fatima/Fatemeh/فاطمه).
    if len(sounds) > 1 and sounds[-1] == _V and word[-1] in "iyj":
        sounds[-1] = _Y
    # A final h is mostly a silent ending (Fatemeh, Abdullah/Abdulla, Sarah/Sara).
    if len(sounds) > 1 and sounds[-1] == "h":
        sounds.pop()
    return sounds


def _collapse(sounds: str) -> str:
    return re.sub(r"(.)\1+", r"\1", sounds)


def _initial_sounds(word: str) -> str:
    """Unify how a word starts: Yulia/Julia/Iuliia, Yevhen/Ievgen, Xalid/Khalid."""
    if word[0] == "j":
        return "y" + word[1:]
    if word[0] == "i" and len(word) > 2 and word[1] in _VOWELS:
        return "y" + word[1:]
    if word[0] == "x":  # Kurdish (Kurmanji) x is kh: Xalid, Xoşnaw
        return "h" + word[1:]
    return word


def _sound(word: str, i: int) -> str:
    """One letter as a consonant, or "V" where y, w or a final j act as a vowel."""
    char = word[i]
    before = word[i - 1] if i else ""
    after = word[i + 1] if i + 1 < len(word) else ""
    if char in _VOWELS:
        return _V
    if char == "y" and i > 0:  # Maryam/مریم "mrym", Hussein/حسین "hsyn", Andriy/Andrii
        return _V
    if char == "j" and not after:  # Andrej, Sergej
        return _V
    if char == "w":
        # Arabic و is u or o between consonants (يوسف "ywsf") but v in Kowalski, Marwan.
        if i and before not in _VOWELS and after not in _VOWELS:
            return _V
        return "v"
    return char


# --- name tokens -----------------------------------------------------------------------------

_ARTICLES = frozenset({"al", "el", "ul", "il"})
_ABD_FORMS = frozenset({"abd", "abdu", "abdul", "abdel", "abdal", "abdol", "abdil", "bd",
                        "abdur", "abdar", "abdus", "abdas", "abdun", "abdan"})
# Latin Abd compounds: Abdulrahman, Abdelaziz (article "l"), Abdurrahman, Abdussalam (the
# article assimilated to a doubled consonant).
_ABD_GLUED = re.compile(r"^abd[aeiou](?:l(?=[a-z]{2})|(?=([rsntdz])\1))")
_ARTICLE_PREFIX = re.compile(r"^(?:al|el|ul)(?=[a-z]{3})")


@dataclass(frozen=True)
class _Token:
    text: str  # normalised
    key: str  # skeleton
    shape: str | None  # None where the script leaves vowels out
    field: str  # "given", "family" or "full" (a whole name of unknown order)


def _canonical_tokens(text: str) -> list[str]:
    """Normalised words of a name, with Arabic article and Abd-compounds spelled one way."""
    words = normalise(text).split()
    out: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        nxt = words[i + 1] if i + 1 < len(words) else None
        if word in _ABD_FORMS and nxt is not None:
            # Abd al-Rahman, Abdel Rahman, Abdul Karim: one name, "abd" + what follows.
            if nxt in _ARTICLES and i + 2 < len(words):
                i, nxt = i + 1, words[i + 2]
            elif word == "abd":  # Abd Allah, Abd Alrahman: the article is on the next word
                nxt = _ARTICLE_PREFIX.sub("", nxt)
            out.append("abd" + nxt)
            i += 2
            continue
        if word in _ARTICLES and nxt is not None:
            i += 1  # al-Hassan is Hassan; Arabic script drops the article the same way
            continue
        out.append(_ABD_GLUED.sub("abd", word))
        i += 1
    return out


# Scripts whose transliteration says little about vowels: Arabic script (Arabic, Persian,
# Dari, Pashto, Sorani Kurdish) writes no short vowels; a Ge'ez syllable always names a vowel,
# but not the one Latin spellings write (ሰመረ gives "samara", the name is Semere).
_VOWELLESS_SCRIPTS = re.compile("[\u0590-\u08ff\u1200-\u139f\u2d80-\u2ddf\uab00-\uab2f]")


def _tokens(text: str, field: str) -> list[_Token]:
    vowelled = not _VOWELLESS_SCRIPTS.search(unicodedata.normalize("NFKC", text or ""))
    return [_token(word, field, vowelled) for word in _canonical_tokens(text)]


@functools.lru_cache(maxsize=8192)  # the same names come up for every candidate
def _token(word: str, field: str, vowelled: bool) -> _Token:
    return _Token(word, skeleton(word), _shape(word) if vowelled else None, field)


def _name_tokens(given: str, family: str) -> list[_Token]:
    return _tokens(given, "given") + _tokens(family, "family")


# --- comparing names -------------------------------------------------------------------------

_MAX_EXHAUSTIVE = 6  # name parts; beyond this a greedy pairing is good enough


@dataclass(frozen=True)
class _Comparison:
    score: float
    swapped: bool
    missing: tuple[str, ...]
    pairs: tuple[tuple[_Token, _Token], ...]


def _token_similarity(a: _Token, b: _Token) -> float:
    """1.0 for one name in two spellings; different names end up near 0."""
    if a.text == b.text:
        return 1.0
    # Jaro-Winkler forgives typos but flatters a shared prefix (Kovalenko/Kovalchuk 0.87),
    # hence the higher floor; Indel on the short keys is stricter by itself.
    spelled = _stretch(JaroWinkler.normalized_similarity(a.text, b.text), 0.75)
    if a.key != b.key:
        return max(spelled, _stretch(Indel.normalized_similarity(a.key, b.key), 0.6))
    # A one-consonant key ("l" for Ola and Eli) is weak evidence on its own; and an identical
    # spelling should still rank above a variant one.
    sounded = _KEY_LENGTH_TRUST[min(len(a.key), len(_KEY_LENGTH_TRUST)) - 1]
    if a.shape and b.shape and a.shape != b.shape:
        sounded *= 0.65  # vowels in other places: Mahmoud is not Mohammed
    return max(spelled, sounded)


_KEY_LENGTH_TRUST = (0.75, 0.9, 0.97)


def _stretch(similarity: float, floor: float) -> float:
    """Spread a string similarity so that near misses between different names fall to ~0."""
    return max(0.0, (similarity - floor) / (1.0 - floor))


def _pairings(a: list[_Token], b: list[_Token]) -> Iterable[tuple[tuple[int, int], ...]]:
    """Ways to pair every part of the shorter name with a distinct part of the longer one."""
    if len(a) <= len(b):
        if len(b) <= _MAX_EXHAUSTIVE:
            for perm in itertools.permutations(range(len(b)), len(a)):
                yield tuple(enumerate(perm))
            return
        yield _greedy_pairing(a, b)
        return
    for pairing in _pairings(b, a):
        yield tuple((j, i) for i, j in pairing)


def _greedy_pairing(a: list[_Token], b: list[_Token]) -> tuple[tuple[int, int], ...]:
    scored = sorted(((_token_similarity(x, y), i, j) for i, x in enumerate(a)
                     for j, y in enumerate(b)), reverse=True)
    used_a: set[int] = set()
    used_b: set[int] = set()
    pairs = []
    for _, i, j in scored:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            pairs.append((i, j))
    return tuple(pairs)


def _compare(a: list[_Token], b: list[_Token]) -> _Comparison:
    if not a or not b:
        return _Comparison(0.0, False, (), ())
    sims = [[_token_similarity(x, y) for y in b] for x in a]
    best = max(_pairings(a, b), key=lambda pairing: sum(sims[i][j] for i, j in pairing))
    score = sum(sims[i][j] for i, j in best) / len(best)
    unmatched = len(a) + len(b) - 2 * len(best)
    # A left-out father's name or second given name costs a little; a name reduced to one
    # part costs more, because one matching word is weak evidence.
    score *= 0.96 ** unmatched
    if len(best) == 1 and unmatched:
        score *= 0.8
    pairs = tuple((a[i], b[j]) for i, j in best)
    swapped = _is_swapped(pairs)
    if swapped:
        score *= 0.98  # tolerated, but the name in the expected order ranks first
    used = {id(tok) for pair in pairs for tok in pair}
    missing = tuple(tok.text for tok in a + b if id(tok) not in used)
    return _Comparison(score, swapped, missing, pairs)


def _is_swapped(pairs: tuple[tuple[_Token, _Token], ...]) -> bool:
    crossed = [x.field != y.field for x, y in pairs if "full" not in (x.field, y.field)]
    return bool(crossed) and all(crossed)


def _glued_variants(tokens: list[_Token]) -> list[list[_Token]]:
    """The name with two neighbouring parts as one (Mohammad Reza for Mohammadreza)."""
    variants = []
    for i in range(len(tokens) - 1):
        left, right = tokens[i], tokens[i + 1]
        field = left.field if left.field == right.field else "full"
        glued = _token(left.text + right.text, field, bool(left.shape and right.shape))
        variants.append(tokens[:i] + [glued] + tokens[i + 2:])
    return variants


def _best_comparison(a: list[_Token], b: list[_Token]) -> _Comparison:
    comparisons = [_compare(a, b)]
    # Gluing only the side with more parts: it may have split what the other wrote as one.
    if len(a) > len(b):
        comparisons += [_compare(glued, b) for glued in _glued_variants(a)]
    elif len(b) > len(a):
        comparisons += [_compare(a, glued) for glued in _glued_variants(b)]
    return max(comparisons, key=lambda c: c.score)


def name_similarity(given_a: str, family_a: str, given_b: str, family_b: str) -> float:
    """How alike two names are in [0, 1], across scripts, order of parts and missing parts."""
    a, b = _name_tokens(given_a, family_a), _name_tokens(given_b, family_b)
    return round(_best_comparison(a, b).score, 4)


# --- likely matches --------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A person already recorded; other_names are further spellings, e.g. native script."""

    person_id: str
    given_name: str
    family_name: str
    birth_date: date | None
    other_names: tuple[str, ...] = ()


def _(message: str) -> str:
    """Marks a reason's words for the catalogue (shared/translations): the domain keeps them in
    English, pages say them in the UI's language (Reason.message and .params)."""
    return message


class Reason(str):
    """Why a candidate may be the person, in English; `message` with `params` (names, dates,
    years) lets a page say it in its own language."""

    message: str
    params: dict

    def __new__(cls, message: str, **params: object) -> Reason:
        reason = super().__new__(cls, message % params if params else message)
        reason.message, reason.params = message, params
        return reason


@dataclass(frozen=True)
class Match:
    person_id: str
    score: float
    reasons: tuple[Reason, ...]


# How much the name counts against the date of birth. With the default threshold of 0.75 an
# exact birth date needs a name similarity of about 0.67, an unknown one about 0.87, and a
# known different birth date never reaches it.
_NAME_WEIGHT = 0.75
_SAME_DATE, _NEAR_DATE, _WEAK_DATE, _NO_DATE, _OTHER_DATE = 0.25, 0.15, 0.1, 0.1, -0.1


@dataclass(frozen=True)
class _Spelling:
    label: str
    tokens: list[_Token]


def _spellings(given: str, family: str, other_names: Sequence[str]) -> list[_Spelling]:
    main = _Spelling(f"{given} {family}".strip(), _name_tokens(given, family))
    return [main] + [_Spelling(name, _tokens(name, "full")) for name in other_names]


def likely_matches(given_name: str, family_name: str, birth_date: date | None,
                   candidates: Iterable[Candidate], *, other_names: Sequence[str] = (),
                   limit: int = 5, threshold: float = 0.75) -> list[Match]:
    """The candidates most likely to be this person, best first, each with its reasons."""
    query = _spellings(given_name, family_name, other_names)
    matches = [_score(query, birth_date, candidate) for candidate in candidates]
    likely = [m for m in matches if m.score >= threshold]
    return sorted(likely, key=lambda m: (-m.score, m.person_id))[:limit]


def _score(query: list[_Spelling], birth_date: date | None, candidate: Candidate) -> Match:
    theirs = _spellings(candidate.given_name, candidate.family_name, candidate.other_names)
    found = [(_best_comparison(q.tokens, c.tokens), q.label, c.label)
             for q in query for c in theirs]
    # On a tie the spelling with more identical words, then in the same script, explains the
    # match best (Олена Коваленко meets its own native-script spelling, not the Latin one).
    comparison, ours, their = max(found, key=lambda f: (
        round(f[0].score, 6), _identical(f[0]), _scripts(f[1]) == _scripts(f[2])))
    bonus, date_reason = _birth_date_evidence(birth_date, candidate.birth_date)
    score = min(1.0, max(0.0, _NAME_WEIGHT * comparison.score + bonus))
    reasons = _name_reasons(comparison, ours, their) + (date_reason,)
    return Match(candidate.person_id, round(score, 3), reasons)


def _identical(comparison: _Comparison) -> int:
    return sum(x.text == y.text for x, y in comparison.pairs)


def _name_reasons(comparison: _Comparison, ours: str, theirs: str) -> tuple[Reason, ...]:
    pair = {"ours": ours, "theirs": theirs}
    if comparison.score < 0.6:
        return (Reason(_("names differ (%(ours)s / %(theirs)s)"), **pair),)
    if comparison.score < 0.8:
        reasons = [Reason(_("names partly alike (%(ours)s ≈ %(theirs)s)"), **pair)]
    elif _scripts(ours) != _scripts(theirs):
        reasons = [Reason(_("name matches across scripts (%(ours)s ≈ %(theirs)s)"), **pair)]
    elif ours == theirs:
        reasons = [Reason(_("same name (%(name)s)"), name=ours)]
    elif _identical(comparison) == len(comparison.pairs):
        reasons = [Reason(_("same name parts (%(ours)s ≈ %(theirs)s)"), **pair)]
    else:
        reasons = [Reason(_("name spelt differently (%(ours)s ≈ %(theirs)s)"), **pair)]
    if comparison.swapped:
        reasons.append(Reason(_("given and family name swapped")))
    if comparison.missing:
        reasons.append(Reason(_("name part only on one side: %(parts)s"),
                              parts=", ".join(comparison.missing)))
    return tuple(reasons)


def _scripts(text: str) -> frozenset[str]:
    """Writing systems of the letters, e.g. {"LATIN", "CYRILLIC"}; diacritics do not count."""
    return frozenset(unicodedata.name(char, "?").split()[0]
                     for char in text if char.isalpha())


def _birth_date_evidence(ours: date | None, theirs: date | None) -> tuple[float, Reason]:
    if ours is None or theirs is None:
        return _NO_DATE, Reason(_("date of birth unknown on one side"))
    if ours == theirs:
        return _SAME_DATE, Reason(_("same date of birth"))
    if (ours.year, ours.month, ours.day) == (theirs.year, theirs.day, theirs.month):
        return _NEAR_DATE, Reason(_("birth date differs by day/month swap"))
    if abs((ours - theirs).days) == 1:
        return _NEAR_DATE, Reason(_("birth date one day apart"))
    if (ours.month, ours.day) == (theirs.month, theirs.day) and _year_typo(ours.year,
                                                                           theirs.year):
        return _WEAK_DATE, Reason(_("same birthday, birth year differs (%(ours)s vs %(theirs)s)"),
                                  ours=ours.year, theirs=theirs.year)
    if ours.year == theirs.year and (1, 1) in ((ours.month, ours.day), (theirs.month, theirs.day)):
        # Many documents record 1 January when only the year of birth is known.
        return _WEAK_DATE, Reason(_("same birth year; 1 January is often a placeholder date"))
    # dates as objects: a page writes them as its language does (str() gives ISO)
    return _OTHER_DATE, Reason(_("different date of birth (%(ours)s vs %(theirs)s)"),
                               ours=ours, theirs=theirs)


def _year_typo(a: int, b: int) -> bool:
    """Off by one, one digit wrong, or two neighbouring digits swapped (1987/1978)."""
    x, y = f"{a:04d}", f"{b:04d}"
    if abs(a - b) == 1 or sum(p != q for p, q in zip(x, y, strict=True)) == 1:
        return True
    return any(x[:i] + x[i + 1] + x[i] + x[i + 2:] == y for i in range(3))


# --- search keys -----------------------------------------------------------------------------


def search_keys(given_name: str, family_name: str) -> list[str]:
    """Keys to index per person; people sharing a key are worth a full comparison.

    One key per name part (its skeleton) plus each field's parts glued together, so that
    "Mohammad Reza" and "Mohammadreza" still meet. Sorted and without duplicates.
    """
    keys: set[str] = set()
    for text in (given_name, family_name):
        words = _canonical_tokens(text)
        keys.update(skeleton(word) for word in words)
        if len(words) > 1:
            keys.add(skeleton("".join(words)))
    keys.discard("")
    return sorted(keys)
