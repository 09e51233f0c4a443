"""The operator console in headless Chromium: the live flow and the topology picture.

An intake posted through the API while the console is open must appear in the live flow
(server-sent events) within two seconds. To see a queue's depth rise and fall on the
picture, the referral service's routing consumer is held for a moment, so the intakes'
events pile up in its queue, and is then let go.
"""
from __future__ import annotations

import copy
import threading
import time

import pytest
from selenium.webdriver.common.by import By

from shared.bus import embedded as embedded_bus
from shared.bus.delivery import deliver_batch
from tests.conftest import OLENA
from tests.e2e import test_browser
from tests.e2e.client import LotseClient
from tests.e2e.test_browser import log_in, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
browser = test_browser.browser  # the headless Chromium fixture (English UI)

LIVE_WITHIN = 2.0  # seconds from the API's answer to the row in the live flow
QUEUE = "lotse.referral.open_referrals"


def waiting_in(browser, queue: str) -> int:
    """Read in one script: the picture is redrawn every second, so a found element may be
    gone by the time it is asked for its attribute."""
    value = browser.execute_script(
        "const box = document.querySelector(`.q[data-queue=\"${arguments[0]}\"]`);"
        "return box ? box.dataset.waiting : null;", queue)
    return int(value) if value is not None else -1


def live_rows(browser, event_type: str, text: str) -> bool:
    return browser.execute_script(
        "return [...document.querySelectorAll('#events tr')].some(r =>"
        " r.dataset.type === arguments[0] && r.innerText.includes(arguments[1]));",
        event_type, text)


def test_an_intake_appears_in_the_live_flow_and_queue_depth_rises_and_falls(
        network, browser, monkeypatch):
    client = LotseClient(network)
    log_in(browser, network, "operator")
    wait_for(browser, lambda b: b.current_url.endswith("/ops"), "the operator console")
    wait_for(browser, lambda b: waiting_in(b, QUEUE) == 0, "the topology picture drawn")
    wait_for(browser, lambda b: "live" in b.find_element(By.ID, "stream-state").text,
             "the live stream connected")

    # 1. live flow: the intake's event shows within two seconds of the API's answer
    intake = client.post_intake(copy.deepcopy(OLENA))
    posted = time.monotonic()
    wait_for(browser, lambda b: live_rows(b, "intake.recorded", intake["id"]),
             "the intake in the live flow", timeout=LIVE_WITHIN)
    assert time.monotonic() - posted <= LIVE_WITHIN + 0.5

    # 2. topology: hold the referral service's routing consumer before it starts its work
    # (so no transaction is held open), the queue fills; let go, it drains
    release = threading.Event()

    def held(bodies, subscription, uow_factory):
        if subscription.key == "referral.open_referrals":
            release.wait(30)
        return deliver_batch(bodies, subscription, uow_factory)
    monkeypatch.setattr(embedded_bus, "deliver_batch", held)
    try:
        for _ in range(3):
            client.post_intake(copy.deepcopy(OLENA))
        wait_for(browser, lambda b: waiting_in(b, QUEUE) >= 3,
                 "the referral queue's depth rising on the picture")
    finally:
        release.set()
    wait_for(browser, lambda b: waiting_in(b, QUEUE) == 0,
             "the referral queue drained on the picture")
