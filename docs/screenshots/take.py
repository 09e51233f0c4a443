"""Screenshots of Lotse's main pages for the documentation.

Logs in through the login form as each demo role and saves full-page PNGs of the main pages
at several window widths, named ``<page>-<width>.png`` (``person-1366.png``):

    staff       intake-form, person, referrals, work-queue, next-steps, queue
    welfare     partner-cases
    operator    ops-console
    management  reports (the year 2022: after ``lotse seed-demo --year 2022``)

Needs a running network with the demo accounts and some intakes (``make run``, then the
intakes of the README's "Try it"), headless Chromium with its driver, and selenium::

    python docs/screenshots/take.py --base-url http://127.0.0.1:8000 --out docs/screenshots

The person shown is the one whose intake has the most referrals (found through the API as
``staff``), unless ``--person-id`` names one. The browser asks for German (``--lang``). A
full-page shot larger than ``--max-bytes`` is cut to ``--max-height`` pixels, or
shorter still to fit.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

WIDTHS = (1366, 800, 390)
# (account, page name, path); {person} is filled in with the person's id
PAGES = (
    ("staff", "intake-form", "/intakes/new"),
    ("staff", "person", "/persons/{person}"),
    ("staff", "referrals", "/referrals"),
    ("staff", "work-queue", "/work-queue"),
    ("staff", "next-steps", "/persons/{person}/next-steps"),
    ("welfare", "partner-cases", "/partner/cases"),
    ("operator", "ops-console", "/ops"),
    ("staff", "queue", "/queue"),
    ("management", "reports", "/reports?from=2022-01-01&to=2022-12-31"),
)
# pages that fill themselves in by script after loading: give them time
SETTLE_SECONDS = {"ops-console": 3.0}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base-url", default="http://127.0.0.1:8000",
                   help="where the network answers (default: %(default)s)")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                   help="output directory (default: this script's directory)")
    p.add_argument("--widths", default=",".join(map(str, WIDTHS)),
                   help="comma-separated window widths in CSS pixels (default: %(default)s)")
    p.add_argument("--password", default="demo", help="the demo accounts' password")
    p.add_argument("--person-id", help="the person to show (default: most referrals)")
    p.add_argument("--lang", default="de-DE", help="the browser's language (default: %(default)s)")
    p.add_argument("--only", help="comma-separated page names to take (default: all)")
    p.add_argument("--max-bytes", type=int, default=400_000,
                   help="a larger full-page shot is cut (default: %(default)s)")
    p.add_argument("--max-height", type=int, default=2200,
                   help="the most a cut shot keeps, in pixels (default: %(default)s)")
    p.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    p.add_argument("--chromium", default=None, help="the browser binary (default: Selenium's)")
    return p.parse_args(argv)


def busiest_person(base_url: str, password: str) -> str:
    """The person whose intake has the most referrals, as staff sees it through the API."""
    def call(path, body=None, token=None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(base_url + path, headers=headers,
                                     data=json.dumps(body).encode() if body else None)
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.load(resp)

    token = call("/api/v1/auth/token", {"username": "staff", "password": password})["access_token"]
    intakes = call("/api/v1/intakes?per_page=100", token=token)["items"]
    if not intakes:
        sys.exit("No intakes yet: record a few first (README, 'Try it').")
    return max(intakes, key=lambda i: len(i.get("referrals") or ()))["person_id"]


def browser(args) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    if args.chromium:
        options.binary_location = args.chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--hide-scrollbars", f"--lang={args.lang}", "--window-size=1366,900"):
        options.add_argument(flag)
    language = args.lang.split("-")[0]
    options.add_experimental_option("prefs", {"intl.accept_languages": f"{args.lang},{language}"})
    service = webdriver.ChromeService(executable_path=args.chromedriver)
    driver = webdriver.Chrome(options=options, service=service)
    # dates and numbers formatted by script follow the page's language too (a date input's
    # mm/dd/yyyy follows the browser's own locale files: German only where Chromium has them)
    driver.execute_cdp_cmd("Emulation.setLocaleOverride", {"locale": args.lang})
    return driver


def log_in(driver: webdriver.Chrome, base_url: str, username: str, password: str) -> None:
    driver.delete_all_cookies()  # the previous account's session
    driver.get(base_url + "/login")
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "[type=submit]").click()
    WebDriverWait(driver, 15).until(lambda d: "/login" not in d.current_url)


def set_width(driver: webdriver.Chrome, width: int, height: int = 900) -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})


def page_height(driver: webdriver.Chrome) -> int:
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    content = metrics.get("cssContentSize") or metrics["contentSize"]
    return int(content["height"] + 0.5)


def capture(driver: webdriver.Chrome, width: int, height: int) -> bytes:
    """The top height pixels of the page at the emulated width (beyond the window)."""
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True, "fromSurface": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}})
    return base64.b64decode(shot["data"])


def take(driver, url: str, name: str, width: int, args) -> Path:
    set_width(driver, width)
    driver.get(url)
    WebDriverWait(driver, 20).until(
        lambda d: d.execute_script("return document.readyState") == "complete")
    WebDriverWait(driver, 10).until(ec.presence_of_element_located((By.TAG_NAME, "main")))
    time.sleep(SETTLE_SECONDS.get(name, 0.5))
    if "/login" in driver.current_url:
        raise RuntimeError(f"{url}: sent to the login page")
    height = page_height(driver)
    png = capture(driver, width, height)
    for _ in range(3):  # too large: cut to max_height, shorter still until it fits
        if len(png) <= args.max_bytes:
            break
        height = min(args.max_height, int(height * args.max_bytes / len(png)))
        png = capture(driver, width, height)
    path = args.out / f"{name}-{width}.png"
    path.write_bytes(png)
    return path


def main(argv=None) -> int:
    args = parse_args(argv)
    base_url = args.base_url.rstrip("/")
    widths = [int(w) for w in args.widths.split(",")]
    only = set(args.only.split(",")) if args.only else None
    pages = [p for p in PAGES if only is None or p[1] in only]
    args.out.mkdir(parents=True, exist_ok=True)
    person = args.person_id
    if person is None and any("{person}" in path for _, _, path in pages):
        person = busiest_person(base_url, args.password)
    driver = browser(args)
    try:
        account = None
        for user, name, path in pages:
            if user != account:
                log_in(driver, base_url, user, args.password)
                account = user
            url = base_url + path.format(person=person)
            for width in widths:
                shot = take(driver, url, name, width, args)
                print(f"{shot}  {shot.stat().st_size // 1024} KB  ({user}: {path})")
    finally:
        driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
