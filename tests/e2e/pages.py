"""Reading pages as their users do: the words a page shows, and the links it offers.

A page's words are its visible text and the text of its labelling attributes (aria-label,
title, placeholder, alt); content marked as not to be translated (`translate="no"`: names,
case references, event types) and code (`<code>`, `<pre>`) is left out, as are scripts and
styles. The crawl logs in through the login form, in the UI language asked for, and follows
every same-site link a page offers.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import requests

from shared import reference, words
from shared.events.vocabulary import ReferralStatus
from shared.partners import DIRECTORY

# Every kind of user: staff, operator, management, admin, a partner with a system of its own
# (the welfare association), one answering in Lotse's portal (the school office) and the
# course provider keeping its courses there, and the registration office, whose demo
# referrals to the centre fill its page of them
CRAWL_ROLES = ("staff", "operator", "management", "admin", "welfare", "dlzb",
               "course_provider", "registration")
SKIPPED_TAGS = {"script", "style", "code", "pre", "template", "noscript"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
LABELLING = ("aria-label", "title", "placeholder", "alt")


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[bool] = []  # per open element: is its content left out?
        self.texts: list[str] = []
        self.links: list[str] = []

    def _hidden(self) -> bool:
        return bool(self.stack) and self.stack[-1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        skip = self._hidden() or tag in SKIPPED_TAGS or a.get("translate") == "no"
        if not skip:
            self.texts += [v for k, v in attrs if k in LABELLING and v]
            if tag == "input" and a.get("type") in ("submit", "button") and a.get("value"):
                self.texts.append(a["value"] or "")
        if tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")
        if tag not in VOID:
            self.stack.append(skip)

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not self._hidden() and data.strip():
            self.texts.append(data.strip())


@dataclass
class Page:
    url: str
    status: int
    texts: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)


def read(url: str, answer: requests.Response) -> Page:
    reader = _Reader()
    if "html" in answer.headers.get("Content-Type", ""):
        reader.feed(answer.text)
    return Page(url, answer.status_code, reader.texts,
                [urljoin(url, link) for link in reader.links])


def logged_in(base: str, username: str, lang: str = "de") -> requests.Session:
    http = requests.Session()
    http.headers["Accept-Language"] = lang
    form = http.get(f"{base}/login", timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    answer = http.post(f"{base}/login", data={"csrf_token": token, "username": username,
                                              "password": "demo"}, timeout=10)
    assert answer.ok and "/login" not in answer.url, (
        f"{username} could not log in: {answer.status_code} {answer.url} {answer.text[-600:]}")
    return http


# Links a crawl does not follow: the API and its docs, machine endpoints, switching the
# language or logging out.
NOT_PAGES = re.compile(r"/(api|internal)/|/docs\b|/metrics$|/healthz$|/readyz$|/ui-language/"
                       r"|/logout$|/static/|\.(csv|json|pdf|png)$")
SHAPE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\b\d+\b"
                   r"|LT-[0-9A-Z-]+")


def crawl(base: str, http: requests.Session, start: str = "/", per_shape: int = 2,
          limit: int = 120) -> list[Page]:
    """Every page reachable from `start` by links within the site (at most `per_shape`
    pages of one URL shape, ids aside)."""
    host = urlsplit(base).netloc
    queue, seen, shapes, pages = [urljoin(base, start)], set(), {}, []
    while queue and len(pages) < limit:
        url = queue.pop(0).split("#")[0]
        parts = urlsplit(url)
        if url in seen or parts.netloc != host or NOT_PAGES.search(parts.path):
            continue
        seen.add(url)
        # one rule's editor stands for all: ids aside, /routing-rules/<id>/edit is one shape
        shape = re.sub(r"/[^/]+/edit$", "/#/edit", SHAPE.sub("#", parts.path)) + (
            "?" if parts.query else "")
        if shapes.get(shape, 0) >= per_shape:
            continue
        shapes[shape] = shapes.get(shape, 0) + 1
        page = read(url, http.get(url, timeout=20))
        pages.append(page)
        queue += [link for link in page.links if link not in seen]
    return pages


def _codes() -> set[str]:
    """Codes a page must not show: every vocabulary's, statuses, partners and services,
    except where a code is also the word (German 'normal', 'digital')."""
    found: set[str] = set(ReferralStatus)
    for vocabulary in (*words.VOCABULARIES, *words.REFERENCE_LISTS):
        for code, word in words.choices(vocabulary, "de"):
            if code.lower() != word.lower():
                found.add(code)
    for partner in DIRECTORY.values():
        found.add(partner.code)
        found.update(service.code for service in partner.services)
    return found - {code for code in found if not code.strip()}


CODES = frozenset(_codes() | set(reference.codes(reference.NEEDS)))
# English a German page must not show: words and phrases seen in pages before (issue 20),
# English weekdays and months, marshmallow's and Flask's messages.
ENGLISH = ("born", "from the coarse consent", "attempt", "Merge", "record", "the", "and", "of",
           "with", "by", "from", "for", "to", "is", "are", "not", "none", "yes", "no", "Mon",
           "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Monday", "Tuesday", "Wednesday",
           "Thursday", "Friday", "Saturday", "Sunday", "January", "February", "March", "April",
           "May", "June", "July", "August", "September", "October", "November", "December",
           "Missing data", "Not a valid", "Must be one of", "Unknown field", "Field may not",
           "select", "Household member", "given name", "family name", "date of birth",
           "received", "accepted", "pending", "opened", "parked", "UTC",
           "Save", "Cancel", "Search", "Back", "Next", "Previous", "Reason", "Outcome")
ISO_TIME = re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2})?\b")


def problems(page: Page, english: tuple[str, ...] = ENGLISH) -> list[str]:
    """What a German page shows that is a code, English, or an ISO date."""
    found = []
    for text in page.texts:
        tokens = set(re.findall(r"[\w./-]+", text))
        for code in CODES & tokens:
            found.append(f"code {code!r} in {text[:80]!r}")
        for word in english:
            if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text):
                found.append(f"English {word!r} in {text[:80]!r}")
        for stamp in ISO_TIME.findall(text):
            found.append(f"ISO date {stamp!r} in {text[:80]!r}")
    return found
