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
from shared.bus.delivery import deliver
from tests.conftest import SMOKE_INTAKE
from tests.e2e import test_browser
from tests.e2e.client import LotseClient
from tests.e2e.test_browser import log_in, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
browser = test_browser.browser  # the headless Chromium fixture (English UI)

LIVE_WITHIN = 2.0  # seconds from the API's answer to the row in the live flow
QUEUE = "lotse.referral.open_referrals"


def waiting_in(browser, queue: str) -> int:
    boxes = browser.find_elements(By.CSS_SELECTOR, f'.q[data-queue="{queue}"]')
    return int(boxes[0].get_attribute("data-waiting")) if boxes else -1


def test_an_intake_appears_in_the_live_flow_and_queue_depth_rises_and_falls(
        network, browser, monkeypatch):
    client = LotseClient(network)
    log_in(browser, network, "operator")
    wait_for(browser, lambda b: b.current_url.endswith("/ops"), "the operator console")
    wait_for(browser, lambda b: waiting_in(b, QUEUE) == 0, "the topology picture drawn")
    wait_for(browser, lambda b: "live" in b.find_element(By.ID, "stream-state").text,
             "the live stream connected")

    # 1. live flow: the intake's event shows within two seconds of the API's answer
    intake = client.post_intake(copy.deepcopy(SMOKE_INTAKE))
    posted = time.monotonic()
    wait_for(browser, lambda b: [r for r in b.find_elements(By.CSS_SELECTOR, "#events tr")
                                 if r.get_attribute("data-type") == "intake.recorded"
                                 and intake["id"] in r.text],
             "the intake in the live flow", timeout=LIVE_WITHIN)
    assert time.monotonic() - posted <= LIVE_WITHIN + 0.5

    # 2. topology: hold the referral service's routing consumer before it starts its work
    # (so no transaction is held open), the queue fills; let go, it drains
    release = threading.Event()

    def held(body, subscription, uow_factory):
        if subscription.key == "referral.open_referrals":
            release.wait(30)
        return deliver(body, subscription, uow_factory)
    monkeypatch.setattr(embedded_bus, "deliver", held)
    try:
        for _ in range(3):
            client.post_intake(copy.deepcopy(SMOKE_INTAKE))
        wait_for(browser, lambda b: waiting_in(b, QUEUE) >= 3,
                 "the referral queue's depth rising on the picture")
    finally:
        release.set()
    wait_for(browser, lambda b: waiting_in(b, QUEUE) == 0,
             "the referral queue drained on the picture")
