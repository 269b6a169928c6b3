"""The check page of `ivote vote app` (/check) end to end: ballots cast with `ivote vote cast`
against a real collector, the page in headless Chromium at 360 px, axe-core on every state
(zero violations), English and Thai; check-en.png and check-th.png with IVOTE_SCREENSHOTS.
Skips locally without Chromium; fails in CI (CI=true)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.browser import assert_accessible, screenshot
from support.collector_process import IVOTE
from test_vote_cli import cast_args, check_code_of
from voter_helpers import CollectorProcess, VoterElection, run_vote, voter_env

from voter_app.code import CheckCode

VOTER = "38001010004"  # Anu Saar, north
WIDTH = 360


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
    assert_accessible(page, "empty form")

    # a typing mistake is refused by the page itself: no request at all
    typo = first[:7] + ("B" if first[7] == "A" else "A") + first[8:]
    before = len(requests)
    check(page, typo)
    error = page.locator("#code-error")
    assert "typing mistake" in error.inner_text()
    assert page.get_by_label("Check code", exact=True).get_attribute("aria-invalid") == "true"
    assert len(requests) == before
    assert_accessible(page, "typing mistake")
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
    assert_accessible(page, "latest ballot")
    screenshot(page, "check-en.png")

    # the voter votes again: the first ballot is still stored, but no longer counts
    second = cast(collector, election, pin_file, data, "Kai Kask")
    check(page, first)
    page.locator("#latest.bad").wait_for(timeout=30_000)
    assert "This is NOT your latest ballot" in page.locator("#latest").inner_text()
    assert page.locator("#choices").inner_text() == "City council: 102 Jaan Tamm (Blue)"
    assert_accessible(page, "not the latest")

    # the collector allows two checks per ballot (the test election's policy)
    check(page, first)
    page.get_by_role("heading", name="Your vote could not be checked").wait_for(timeout=30_000)
    assert "checked as many times as the collector allows" in page.locator(
        "#refusal-message"
    ).inner_text()
    assert_accessible(page, "refused")
    page.close()

    # in Thai: the newer ballot, the latest
    page = browser.new_page(viewport={"width": WIDTH, "height": 800})
    page.goto(app_url + "check?lang=th")
    assert page.locator("html").get_attribute("lang") == "th"
    assert_accessible(page, "Thai form")
    page.locator("#code").fill(CheckCode.parse(second).grouped)
    page.locator("#check").click()
    page.locator("#latest.good").wait_for(timeout=30_000)
    assert page.locator("#choices").inner_text().endswith("103 Kai Kask")
    text = page.locator("main").inner_text()
    assert "Check your vote" not in text and "This is your latest ballot" not in text
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    assert_accessible(page, "Thai latest ballot")
    screenshot(page, "check-th.png")
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
