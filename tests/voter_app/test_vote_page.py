"""The voting page end to end: `ivote vote app` as a real process, headless Chromium driven by
Playwright, a real collector. Skips locally without Chromium; fails in CI (CI=true)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.collector_process import IVOTE
from voter_helpers import PIN, CollectorProcess, VoterElection, voter_env

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


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    problem = None
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        problem = f"{CHROMIUM} is not installed (Debian package chromium; `make system-deps`)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = "the playwright package is not installed (test extra)"
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
def voting_page(
    collector: CollectorProcess, election: VoterElection, tmp_path: Path
) -> Iterator[tuple[str, Path]]:
    """`ivote vote app --port 0` in a process; yields the page URL and its data directory."""
    data = tmp_path / "data"
    process = subprocess.Popen(
        [
            IVOTE,
            "vote",
            "app",
            "--collector",
            collector.url,
            "--port",
            "0",
            "--fingerprint",
            election.fingerprint,
            "--data-dir",
            str(data),
            "--allow-test-key",
        ],
        env=voter_env(data),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
        assert match, line + process.stdout.read()
        yield match.group(1), data
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(15)


def test_cast_through_the_page(
    browser: object,
    voting_page: tuple[str, Path],
    collector: CollectorProcess,
    election: VoterElection,
) -> None:
    url, data = voting_page
    before = collector.log_size()
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(url)
    page.get_by_label("e-ID file (PKCS#12, .p12)").set_input_files(
        str(election.eid_files["48001010005"])
    )
    page.get_by_label("PIN", exact=True).fill(PIN)
    page.get_by_label("Your district").select_option("south")
    page.get_by_role("button", name="Open e-ID").click()
    group = page.get_by_role("group", name="City council")
    group.get_by_role("radio", name="202 Peeter Puu").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="3. Cast or audit").wait_for(timeout=30_000)
    payload_hash = page.locator("#payload-hash").inner_text()
    assert re.fullmatch(r"[0-9a-f]{64}", payload_hash)

    # audit first: revealed, never cast
    page.get_by_role("button", name=re.compile("Audit this ballot")).click()
    page.get_by_role("heading", name="Audited ballot (not cast)").wait_for(timeout=30_000)
    assert "202 Peeter Puu" in page.locator("#audit-choices").inner_text()
    assert page.locator("#audit-hash").inner_text() == payload_hash
    assert collector.log_size() == before

    # then a fresh ballot, cast
    page.get_by_role("button", name="Prepare a new ballot").click()
    page.get_by_role("group", name="City council").get_by_role(
        "radio", name="201 Kati Karu (Green)"
    ).check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Cast this ballot").click()
    page.get_by_role("heading", name="Your ballot was received").wait_for(timeout=30_000)
    assert "Only your latest ballot counts" in page.get_by_role("status").inner_text()
    ballot_hash = page.locator("#ballot-hash").inner_text()
    index = int(page.locator("#log-index").inner_text().split()[0])
    assert page.locator("#qr svg").get_attribute("aria-label")
    page.close()

    # the ballot is in the collector's log at the receipt's index
    assert collector.log_size() == before + 1
    proof = httpx.get(
        f"{collector.url}/v1/log/inclusion", params={"index": index, "size": before + 1}
    ).json()
    assert proof["index"] == index
    assert len(list((data / "ballots").glob("*.sealed"))) == 1
    assert (data / "ballots" / f"{ballot_hash}.sealed").exists()


def test_page_refuses_a_wrong_pin_and_other_origins(
    browser: object, voting_page: tuple[str, Path], election: VoterElection
) -> None:
    url, _ = voting_page
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(url)
    page.get_by_label("e-ID file (PKCS#12, .p12)").set_input_files(
        str(election.eid_files["38001010001"])
    )
    page.get_by_label("PIN", exact=True).fill("00000")
    page.get_by_role("button", name="Open e-ID").click()
    status = page.get_by_role("status")
    status.filter(has_text="Wrong PIN").wait_for(timeout=30_000)
    page.close()
    # the API answers only the page itself (token) and only as 127.0.0.1/localhost
    assert httpx.post(f"{url}api/election", json={}).status_code == 403
    assert httpx.get(url, headers={"host": "evil.example"}).status_code == 403


def _published_record(
    collector: CollectorProcess, election: VoterElection, drop: int | None = None
) -> dict[str, object]:
    """A tally as the tallier would publish it, around the collector's real log: its leaf
    hashes, under a final head signed with the collector's key (less the entry `drop`, as
    a collector that dropped a receipted ballot would sign)."""
    import datetime as dt

    from canonical.encoding import DOMAINS, b64url, parse_b64url, parse_canonical
    from crypto import merkle
    from formats.receipt import LogHead
    from formats.signed import sign_object

    size = collector.log_size()
    answer = httpx.get(f"{collector.url}/v1/log/leaves", params={"start": 0, "end": size})
    leaves = [parse_b64url(leaf, "leaf") for leaf in answer.json()["leaf_hashes"]]
    if drop is not None:
        del leaves[drop]
    now = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    head = LogHead(election.manifest.election_id, len(leaves), merkle.root_hash(leaves), now)
    zeros = dict.fromkeys(["received", "superseded", "cancelled_by_paper", "invalid", "counted"], 0)
    digest = b64url(bytes(32))
    return {
        "version": 1,
        "kind": "ivote/tally",
        "manifest": parse_canonical((election.directory / "manifest.signed.json").read_bytes()),
        "inputs": {
            "ballot_box": digest,
            "voter_list": {"list_version": 1, "hash": digest},
            "paper_voters": {"hash": digest, "voters": 0},
            "crls": [],
        },
        "log": {
            "head": sign_object(election.collector, DOMAINS["log_head"], head.to_dict()),
            "leaves": [b64url(leaf) for leaf in leaves],
        },
        "report": {"total": zeros, "districts": {}, "invalid_ballots": []},
        "totals": [],
        "observers_bundle": {"hash": digest, "ballots": 0},
    }


def test_the_page_checks_stored_receipts_against_the_published_record(
    browser: object,
    voting_page: tuple[str, Path],
    collector: CollectorProcess,
    election: VoterElection,
    tmp_path: Path,
) -> None:
    from canonical.files import write_canonical_json

    url, _ = voting_page
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(url)
    page.get_by_label("e-ID file (PKCS#12, .p12)").set_input_files(
        str(election.eid_files["38001010002"])
    )
    page.get_by_label("PIN", exact=True).fill(PIN)
    page.get_by_label("Your district").select_option("north")
    page.get_by_role("button", name="Open e-ID").click()
    for group in page.get_by_role("group").all():
        group.get_by_role("radio").first.check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Cast this ballot").click()
    page.get_by_role("heading", name="Your ballot was received").wait_for(timeout=30_000)
    index = int(page.locator("#log-index").inner_text().split()[0])
    code = page.locator("#verification-code").inner_text()

    genuine, dropped = tmp_path / "record.json", tmp_path / "dropped.json"
    write_canonical_json(genuine, _published_record(collector, election))
    write_canonical_json(dropped, _published_record(collector, election, drop=index))
    results = page.locator("#receipt-results")
    page.get_by_label("Published election record (record.json)").set_input_files(str(genuine))
    page.get_by_label("PIN (opens your stored receipts)").fill(PIN)
    page.get_by_role("button", name="Check my receipts").click()
    page.get_by_role("status").filter(has_text="All your receipts are in").wait_for(
        timeout=30_000
    )
    assert f"Ballot {code} is in the final log at index {index}." in results.inner_text()

    page.get_by_label("Published election record (record.json)").set_input_files(str(dropped))
    page.get_by_label("PIN (opens your stored receipts)").fill(PIN)
    page.get_by_role("button", name="Check my receipts").click()
    page.get_by_role("status").filter(has_text="do not match the final record").wait_for(
        timeout=30_000
    )
    text = results.inner_text()
    assert f"PROBLEM with ballot {code}" in text and "signed evidence" in text
    page.close()
