"""Every page of every role, in German: words, not codes; no English; German dates; and no
link to a page the role may not open (issue 20, items 1 and 7)."""
from __future__ import annotations

from tests.e2e.pages import CRAWL_ROLES, crawl, logged_in, problems


def test_every_page_of_every_role_shows_german_words_and_links_only_pages_it_may_open(
        network_with_cases):
    network = network_with_cases
    found, refused, seen = [], [], 0
    for role in CRAWL_ROLES:
        pages = crawl(network, logged_in(network, role, "de"))
        seen += len(pages)
        for page in pages:
            if page.status != 200:
                refused.append(f"{role}: {page.url} answers {page.status}")
                continue
            found += [f"{role} {page.url}: {p}" for p in problems(page)]
    print(f"{seen} pages read")
    assert not refused and not found, (
        "links to pages the role may not open:\n" + "\n".join(refused)
        + f"\n{len(found)} codes or English words:\n" + "\n".join(found))
