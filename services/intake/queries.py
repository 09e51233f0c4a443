"""Read side of the intake service: intakes, persons with their timeline, likely matches."""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from datetime import date, datetime, timedelta, timezone

from flask_babel import get_locale, gettext

from services.intake import matching, repository
from services.intake.domain import Intake, ReferralView
from services.intake.repository import PersonRecord
from shared import words


def _referral(view: ReferralView) -> dict:
    return {k: v for k, v in asdict(view).items() if k not in ("intake_id", "version")}


def _intake(intake: Intake, referrals: list[ReferralView]) -> dict:
    data = asdict(intake)
    data.pop("events", None)
    data["referrals"] = [_referral(r) for r in referrals]
    return data


def recorded_body(intake: Intake) -> dict:
    """A just recorded intake as the API shows it, without reading back what was written:
    its referrals follow by event, so it has none yet."""
    return {**vars(intake), "referrals": []}  # dumped by IntakeOutSchema: no deep copy needed


def intake_detail(session_factory, intake_id: str) -> dict | None:
    with session_factory() as session:
        intake = repository.get_intake(session, intake_id)
        if intake is None:
            return None
        referrals = repository.referrals_for(session, [intake_id])[intake_id]
    return _intake(intake, referrals)


def intake_page(session_factory, page: int, per_page: int) -> dict:
    with session_factory() as session:
        intakes, total = repository.list_intakes(session, page, per_page)
        referrals = repository.referrals_for(session, [str(i.id) for i in intakes])
    return {"items": [_intake(i, referrals[str(i.id)]) for i in intakes], "page": page,
            "per_page": per_page, "total": total}


def _summary(record: PersonRecord) -> dict:
    return {"id": record.id, "person": record.person, "merged_into": record.merged_into,
            "created_at": record.created_at, "updated_at": record.updated_at}


def person_detail(session_factory, person_id: str) -> dict | None:
    """The person with consultations, referrals, consents, merges and one timeline of all."""
    with session_factory() as session:
        record = repository.get_person(session, person_id)
        if record is None:
            return None
        intakes = repository.intakes_of(session, person_id)
        referrals = repository.referrals_for(session, [str(i.id) for i in intakes])
        consents = repository.consents_of(session, person_id)
        merges = repository.merges_of(session, person_id)
    consultations = [_intake(i, referrals[str(i.id)]) for i in intakes]
    consent_rows = [{**asdict(c), "valid": c.valid} for _, c in consents]
    data = _summary(record)
    data.update(consultations=consultations, consents=consent_rows,
                merges=[dict(m._mapping) for m in merges],
                timeline=_timeline(consultations, consent_rows, merges))
    return data


# A referral in these states is still on its way to an answer the person page waits for
UNSETTLED = ("draft", "requested", "received")


# A need is routed within seconds; one without a referral after this is not on its way but
# held up (its event waits among the dead letters, for operators), and the page says nothing
ON_THE_WAY_FOR = timedelta(minutes=10)


def on_the_way(consultations: list[dict], now: datetime) -> dict[str, list[str]]:
    """Per consultation (intake id) recorded in the last minutes, the needs recorded whose
    referral has not arrived yet (each need becomes one referral, per person it is for)."""
    found = {}
    for c in consultations:
        recorded = c["recorded_at"]
        if recorded.tzinfo is None:
            recorded = recorded.replace(tzinfo=timezone.utc)
        if now - recorded > ON_THE_WAY_FOR:
            continue
        waiting = Counter(n["code"] for n in c["need_details"]) if c.get("need_details") \
            else Counter(c["needs"])
        waiting.subtract(r["need"] for r in c["referrals"])
        missing = [need for need, count in waiting.items() for _ in range(max(count, 0))]
        if missing:
            found[str(c["id"])] = missing
    return found


def settling(consultations: list[dict], waiting: dict[str, list[str]]) -> bool:
    """Whether the referrals may still change soon: a need on its way, or a referral the
    partner has not answered yet."""
    return bool(waiting) or any(r["status"] in UNSETTLED for c in consultations
                                for r in c["referrals"])


def _timeline(consultations: list[dict], consents: list[dict], merges) -> list[dict]:
    """The API's entries (an English `summary`); `facts` keeps the codes and names a summary
    is made of, which the person page shows as words in the UI's language."""
    entries = []
    for c in consultations:
        entries.append({"at": c["recorded_at"], "kind": "consultation", "ref": c["reference"],
                        "summary": f"{c['site']} · {c['recorded_by']} · "
                                   f"needs: {', '.join(c['needs']) or 'none'}",
                        "facts": {"site": c["site"], "by": c["recorded_by"],
                                  "needs": list(c["needs"])}})
        for r in c["referrals"]:
            entries.append({"at": r["updated_at"], "kind": "referral",
                            "ref": r["partner_case_ref"],
                            "summary": f"{r['need']} → {r['partner'] or '—'}: {r['status']}",
                            "facts": {"need": r["need"], "partner": r["partner"],
                                      "status": r["status"]}})
    for c in consents:
        scope = c["partner"] or "partners the needs go to"
        facts = {"partner": c["partner"], "method": c["method"], "language": c["language"],
                 "by": c["withdrawn_by"]}
        entries.append({"at": c["given_at"], "kind": "consent", "ref": str(c["id"]),
                        "summary": f"consent for {scope} ({c['method']}, {c['language']})",
                        "facts": facts})
        if c["withdrawn_at"]:
            entries.append({"at": c["withdrawn_at"], "kind": "consent_withdrawn",
                            "ref": str(c["id"]),
                            "summary": f"consent for {scope} withdrawn by {c['withdrawn_by']}",
                            "facts": facts})
    for m in merges:
        entries.append({"at": m.merged_at, "kind": "merge", "ref": m.id,
                        "summary": f"record {m.merged_id[:8]} merged into {m.survivor_id[:8]}"
                                   f" by {m.merged_by}" + (" (undone)" if m.undone_at else ""),
                        "facts": {"merged": m.merged_id[:8], "survivor": m.survivor_id[:8],
                                  "by": m.merged_by, "undone": bool(m.undone_at)}})
    return sorted(entries, key=lambda e: e["at"], reverse=True)


def find_matches(session_factory, given_name: str, family_name: str,
                 birth_date: date | None, limit: int = 5) -> list[dict]:
    """Likely earlier records of the person at the counter, best first."""
    keys = matching.search_keys(given_name, family_name)
    with session_factory() as session:
        records = repository.candidates_by_keys(session, keys, birth_date)
    by_id = {str(r.id): r for r in records}
    candidates = [matching.Candidate(
        str(r.id), r.person.given_name, r.person.family_name, r.person.birth_date,
        tuple(f"{n.given_name} {n.family_name}" for n in r.person.other_names))
        for r in records]
    found = matching.likely_matches(given_name, family_name, birth_date, candidates,
                                    limit=limit)
    return [{"person": _summary(by_id[m.person_id]), "score": round(m.score, 3),
             "reasons": [reason_words(r) for r in m.reasons]} for m in found]


def reason_words(reason: str) -> str:
    """A match reason in the request's UI language (the page's, or the API caller's
    Accept-Language), its dates written as that language writes them."""
    from shared import words

    if not isinstance(reason, matching.Reason):
        return str(reason)
    lang = str(get_locale() or "de")
    params = {k: words.city_date(v, lang) if isinstance(v, date) else v
              for k, v in reason.params.items()}
    return gettext(reason.message, **params)


# A date of birth as German staff type it (14.03.1987, 4.3.1987) or in ISO form (1987-03-14).
def typed_date(text: str) -> date | None:
    """The date in a search box: TT.MM.JJJJ or YYYY-MM-DD; None when it is none."""
    return words.typed_date(text)


def search(session_factory, query: str) -> list[dict]:
    birth_date = typed_date(query)
    parts = query.split()
    keys = matching.search_keys(parts[0], " ".join(parts[1:])) if parts and not birth_date \
        else []
    with session_factory() as session:
        return [_summary(r) for r in repository.search_persons(session, query, keys,
                                                               birth_date)]
