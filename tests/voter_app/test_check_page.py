"""The check page of `ivote vote app` (/check) end to end: ballots cast with `ivote vote cast`
against a real collector, the page in headless Chromium at 360 px, axe-core on every state
(zero violations), English and Thai. Writes docs/screenshots/check-en.png and check-th.png.
Skips locally without Chromium; fails in CI (CI=true)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.collector_process import IVOTE
from test_vote_cli import cast_args, check_code_of
from voter_helpers import CollectorProcess, VoterElection, run_vote, voter_env

from voter_app.code import CheckCode

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
VOTER = "38001010004"  # Anu Saar, north
WIDTH = 360


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    problem = None
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        problem = f"{CHROMIUM} is not installed (Debian package chromium; `make system-deps`)"
    try:
        from axe_playwright_python.sync_playwright import Axe  # noqa: F401
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = "playwright or axe-playwright-python is not installed (test extra)"
    if problem:
        if IN_CI:
            pytest.fail(f"{problem}: the browser test must run in CI")
        pytest.skip(problem)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def app_url(collector: CollectorProcess, election: VoterElection, tmp_path: Path) -> Iterator[str]:
    """`ivote vote app` on a second device: it trusts the election by its fingerprint."""
    data = tmp_path / "phone"
    process = subprocess.Popen(
        [IVOTE, "vote", "app", "--allow-test-key", "--collector", collector.url, "--port", "0",
         "--fingerprint", election.fingerprint, "--data-dir", str(data)],
        env=voter_env(data), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
        assert match, line + process.stdout.read()
        yield match.group(1)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(15)


def no_violations(page: Any, state: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    assert results.violations_count == 0, f"{state}:\n{results.generate_report()}"


def cast(collector: CollectorProcess, election: VoterElection, pin_file: Path, data: Path,
         choice: str) -> str:  # fmt: skip
    result = run_vote(*cast_args(collector, election, VOTER, pin_file, data), "--choice", choice,
                      data_dir=data)  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    return check_code_of(result.stdout)


def check(page: Any, code: str) -> None:
    page.get_by_label("Check code", exact=True).fill(code)
    page.get_by_role("button", name="Check my vote").click()


def test_check_page(
    browser: Any,
    app_url: str,
    collector: CollectorProcess,
    election: VoterElection,
    pin_file: Path,
    tmp_path: Path,
) -> None:
    data = tmp_path / "computer"
    first = cast(collector, election, pin_file, data, "Jaan Tamm")
    page = browser.new_page(viewport={"width": WIDTH, "height": 800})
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(app_url + "check")
    assert page.title() == "Check your vote"
    no_violations(page, "empty form")

    # a typing mistake is refused by the page itself: no request at all
    typo = first[:7] + ("B" if first[7] == "A" else "A") + first[8:]
    before = len(requests)
    check(page, typo)
    error = page.locator("#code-error")
    assert "typing mistake" in error.inner_text()
    assert page.get_by_label("Check code", exact=True).get_attribute("aria-invalid") == "true"
    assert len(requests) == before
    no_violations(page, "typing mistake")
    check(page, first[:-2])
    assert "too short" in error.inner_text() and len(requests) == before

    # the code as the receipt shows it (groups of six, lower case): the voter's candidate
    check(page, CheckCode.parse(first).grouped.lower())
    page.get_by_role("heading", name="Your stored ballot", exact=True).wait_for(timeout=30_000)
    assert error.is_hidden()
    assert page.locator("#choices").inner_text() == "City council: 102 Jaan Tamm (Blue)"
    assert "This is your latest ballot" in page.locator("#latest").inner_text()
    assert "Anu Saar (38001010004)" in page.locator("#voter").inner_text()
    assert re.fullmatch(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){3}", page.locator("#verification-code")
                        .inner_text().replace("\n", ""))  # fmt: skip
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH  # no sideways scroll
    no_violations(page, "latest ballot")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "check-en.png"), full_page=True)

    # the voter votes again: the first ballot is still stored, but no longer counts
    second = cast(collector, election, pin_file, data, "Kai Kask")
    check(page, first)
    page.locator("#latest.bad").wait_for(timeout=30_000)
    assert "This is NOT your latest ballot" in page.locator("#latest").inner_text()
    assert page.locator("#choices").inner_text() == "City council: 102 Jaan Tamm (Blue)"
    no_violations(page, "not the latest")

    # the collector allows two checks per ballot (the test election's policy)
    check(page, first)
    page.get_by_role("heading", name="Your vote could not be checked").wait_for(timeout=30_000)
    assert "checked as many times as the collector allows" in page.locator(
        "#refusal-message"
    ).inner_text()
    no_violations(page, "refused")
    page.close()

    # in Thai: the newer ballot, the latest
    page = browser.new_page(viewport={"width": WIDTH, "height": 800})
    page.goto(app_url + "check?lang=th")
    assert page.locator("html").get_attribute("lang") == "th"
    no_violations(page, "Thai form")
    page.locator("#code").fill(CheckCode.parse(second).grouped)
    page.locator("#check").click()
    page.locator("#latest.good").wait_for(timeout=30_000)
    assert page.locator("#choices").inner_text().endswith("103 Kai Kask")
    text = page.locator("main").inner_text()
    assert "Check your vote" not in text and "This is your latest ballot" not in text
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    no_violations(page, "Thai latest ballot")
    page.screenshot(path=str(SCREENSHOTS / "check-th.png"), full_page=True)
    page.close()


def test_check_api_needs_the_token_and_refuses_a_bad_code(app_url: str) -> None:
    import httpx

    assert httpx.post(app_url + "api/check", json={"code": "x"}).status_code == 403
    page = httpx.get(app_url + "check").text
    token = re.search(r'name="ivote-token" content="([^"]+)"', page).group(1)
    answer = httpx.post(
        app_url + "api/check", json={"code": "AAAA"}, headers={"x-ivote-token": token}
    )
    assert answer.status_code == 400
    assert answer.json()["reason"] == "length" and "too short" in answer.json()["message"]
    thai = httpx.post(
        app_url + "api/check?lang=th", json={"code": ""}, headers={"x-ivote-token": token}
    )
    assert thai.json()["reason"] == "empty" and "check code" not in thai.json()["message"]
