"""The voting page end to end: `ivote vote app` as a real process, headless Chromium driven by
Playwright, a real collector. Every step is checked with axe-core (WCAG 2.1 A and AA rules,
zero violations), for focus on its heading, and for horizontal scrolling at 360 px, in English
and in Thai. Skips locally without Chromium; fails in CI (CI=true).

Screenshots of the steps at 360 px and desktop width are written when IVOTE_SCREENSHOTS names
a directory (`make screenshots` writes docs/screenshots)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.browser import WCAG_21_AA, assert_accessible, screenshot
from support.collector_process import IVOTE, run_ivote
from support.election import PKCS12_ROUNDS, THAI_VOTERS, build_election
from voter_helpers import (
    EXPIRED,
    PIN,
    REVOKED,
    SPEC,
    CollectorProcess,
    VoterElection,
    voter_env,
)

from crypto.eid import pkcs12_bytes
from formats.voters import Voter
from i18n import _, language
from voter_app.code import CheckCode

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 780}
WAIT = 30_000  # ms: encrypting and casting on a busy 2-core machine
NOT_LISTED = "38001010077"  # an e-ID the election's CA issued to someone not on the voter list


@dataclass
class VotingApp:
    url: str
    data: Path
    token: str = ""

    def forget_eid(self) -> None:
        """A new visitor: the app's session closes the e-ID an earlier test left open."""
        if not self.token:
            page = httpx.get(self.url).text
            found = re.search(r'name="ivote-token" content="([^"]+)"', page)
            assert found, page
            self.token = found.group(1)
        answer = httpx.post(
            f"{self.url}api/forget-eid", json={}, headers={"x-ivote-token": self.token}
        )
        assert answer.status_code == 200, answer.text


@pytest.fixture(scope="module")
def start_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., VotingApp]]:
    """Starts `ivote vote app --port 0` processes; all are stopped after the module."""
    processes: list[subprocess.Popen[str]] = []

    def start(collector_url: str, fingerprint: str | None = None) -> VotingApp:
        data = tmp_path_factory.mktemp("voter-data")
        pinned = ["--fingerprint", fingerprint] if fingerprint else []
        process = subprocess.Popen(
            [IVOTE, "vote", "app", "--collector", collector_url, "--port", "0",
             "--data-dir", str(data), "--allow-test-key", *pinned],
            env=voter_env(data), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )  # fmt: skip
        processes.append(process)
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
        assert match, line + process.stdout.read()
        return VotingApp(match.group(1), data)

    try:
        yield start
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(15)


@pytest.fixture(scope="module")
def app(start_app: Callable[..., VotingApp], collector: CollectorProcess) -> VotingApp:
    """The app of most tests: no fingerprint given, so the first visit confirms it."""
    return start_app(collector.url)


@pytest.fixture(scope="module")
def not_listed_eid(election: VoterElection, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid e-ID of the election's CA for a person the voter list does not name."""
    signer = election.pki.issue_eid(Voter(NOT_LISTED, "Mati", "Muu", "north"))
    path = tmp_path_factory.mktemp("not-listed") / f"{NOT_LISTED}.p12"
    path.write_bytes(pkcs12_bytes(signer, PIN, PKCS12_ROUNDS, "e-ID"))
    return path


class Visit:
    """One visitor's tab: checks each step (axe, focus, 360 px) and takes its screenshots."""

    def __init__(self, browser: Any, app: VotingApp, lang: str = "en") -> None:
        app.forget_eid()
        self.lang = lang
        locale = {"en": "en-GB", "th": "th-TH"}[lang]
        self.context = browser.new_context(locale=locale, viewport=DESKTOP, accept_downloads=True)
        self.page = self.context.new_page()
        self.page.goto(app.url if lang == "en" else f"{app.url}?lang={lang}")

    def close(self) -> None:
        self.context.close()

    def heading(self, name: str | re.Pattern[str]) -> None:
        """Wait for the step whose heading is `name`; its heading has the focus."""
        self.page.get_by_role("heading", name=name, level=2).wait_for(timeout=WAIT)
        focused, outline, underline = self.page.evaluate(
            """() => { const e = document.activeElement, style = getComputedStyle(e);
                       return [e.textContent, style.outlineStyle, style.textDecorationLine]; }"""
        )
        assert re.search(name, focused) if isinstance(name, re.Pattern) else focused == name
        # the focus shows as an underline, not a box around the heading
        assert (outline, underline) == ("none", "underline")

    def check(self, step: str, shoot: bool = True) -> None:
        """axe-core finds nothing against WCAG 2.1 AA; no horizontal scrolling at 360 px."""
        assert_accessible(self.page, f"{self.lang} {step}", WCAG_21_AA)
        for size in (PHONE, DESKTOP):
            self.page.set_viewport_size(size)
            overflow = self.page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{self.lang} {step} scrolls sideways at {size['width']} px"
            if shoot:
                screenshot(self.page, f"vote-{self.lang}-{step}-{size['width']}.png")

    def open_eid(self, eid_file: Path, pin: str = PIN) -> None:
        page = self.page
        label = {"en": "e-ID file (PKCS#12, .p12)", "th": re.compile("PKCS#12")}[self.lang]
        page.get_by_label(label).set_input_files(str(eid_file))
        page.get_by_label({"en": "PIN", "th": "รหัส PIN"}[self.lang], exact=True).fill(pin)
        page.locator("#open-eid").click()

    def radios(self) -> list[str]:
        return [
            r.evaluate("e => e.parentElement.textContent")
            for r in self.page.get_by_role("radio").all()
        ]


def test_first_visit_confirms_the_fingerprint(
    browser: Any, app: VotingApp, election: VoterElection
) -> None:
    visit = Visit(browser, app)
    page = visit.page
    visit.heading("Check the election")
    assert page.locator("#confirm-fingerprint").inner_text() == election.manifest.fingerprint_groups
    assert page.title() == "Check the election – Voter app test election (TEST election)"
    visit.check("confirm")
    page.get_by_role("button", name="It is the published fingerprint").click()
    visit.heading("Open your e-ID")
    # the header names the election and who signed its manifest
    assert page.get_by_role("heading", level=1).inner_text() == (
        "Voter app test election (TEST election)"
    )
    assert page.locator("#organiser").inner_text() == (
        "Organised by ivote organiser, ivote election officials"
    )
    assert page.locator("#steps [aria-current=step]").inner_text() == "Your e-ID"
    assert page.locator("h1").count() == 1
    # Back reaches the confirmed fingerprint again
    page.get_by_role("button", name="Back").click()
    visit.heading("Check the election")
    visit.close()


def test_cast_with_back_at_every_step_an_audit_and_vote_again(
    browser: Any, app: VotingApp, collector: CollectorProcess, election: VoterElection
) -> None:
    visit = Visit(browser, app)
    page = visit.page
    if page.get_by_role("button", name="It is the published fingerprint").is_visible():
        page.get_by_role("button", name="It is the published fingerprint").click()
    visit.heading("Open your e-ID")
    visit.check("eid")
    before = collector.log_size()

    # (2) the e-ID first: the collector says where Kati votes; only south's candidates
    visit.open_eid(election.eid_files["48001010005"])
    visit.heading("Your choice")
    assert page.locator("#district-line").inner_text() == "You vote in South."
    assert visit.radios() == ["201 Kati Karu (Green)", "202 Peeter Puu"]
    assert page.get_by_role("combobox").count() == 0  # no district to pick
    assert page.locator("#pin").input_value() == ""
    visit.check("choice")

    # Back to the e-ID: still open, no PIN asked
    page.get_by_role("button", name="Back").click()
    visit.heading("Open your e-ID")
    assert "Your e-ID is open: Kati Karu" in page.locator("#eid-open-text").inner_text()
    assert not page.get_by_label("PIN", exact=True).is_visible()
    visit.check("eid-open", shoot=False)
    page.get_by_role("button", name="Continue").click()
    visit.heading("Your choice")

    # (3) a contest left empty is named; (4) the summary, Back keeps the choice
    page.get_by_role("button", name="Continue").click()
    assert "Choose a candidate in City council." in page.get_by_role("status").inner_text()
    page.get_by_role("radio", name="202 Peeter Puu").check()
    page.get_by_role("button", name="Continue").click()
    visit.heading("Check your choice")
    assert page.locator("#review-choices").inner_text().split("\n") == [
        "City council",
        "202 Peeter Puu",
    ]
    visit.check("review")
    page.get_by_role("button", name="Back: change my choice").click()
    visit.heading("Your choice")
    assert page.get_by_role("radio", name="202 Peeter Puu").is_checked()
    page.get_by_role("button", name="Continue").click()
    visit.heading("Check your choice")

    # (5) encrypted: the hash, then Cast or Audit; Back drops it
    page.get_by_role("button", name="Encrypt my ballot").click()
    visit.heading("Cast or audit your ballot")
    groups = page.locator("#payload-hash span").all_inner_texts()
    assert len(groups) == 8 and all(re.fullmatch(r"[0-9a-f]{8}", g) for g in groups)
    visit.check("decide")
    page.get_by_role("button", name="Back").click()
    visit.heading("Check your choice")
    page.get_by_role("button", name="Encrypt my ballot").click()
    visit.heading("Cast or audit your ballot")
    payload_hash = "".join(page.locator("#payload-hash span").all_inner_texts())

    # the audit: what the ballot held, the audit file; never cast
    page.get_by_role("button", name="Audit this ballot (it will not be cast)").click()
    visit.heading("Audited ballot (not cast)")
    assert page.locator("#audit-choices").inner_text().split("\n") == [
        "City council",
        "202 Peeter Puu",
    ]
    assert "".join(page.locator("#audit-hash span").all_inner_texts()) == payload_hash
    visit.check("audit")
    with page.expect_download() as download:
        page.get_by_role("link", name="Save the audit file").click()
    audit = json.loads(Path(download.value.path()).read_text())
    assert audit["kind"] == "ivote-ballot-audit" and audit["choices"] == {"council": 202}
    assert base64.urlsafe_b64decode(audit["payload_hash"] + "=").hex() == payload_hash
    assert collector.log_size() == before

    # a new ballot, cast
    page.get_by_role("button", name="Make a new ballot").click()
    visit.heading("Your choice")
    page.get_by_role("radio", name="201 Kati Karu (Green)").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Encrypt my ballot").click()
    visit.heading("Cast or audit your ballot")
    assert "".join(page.locator("#payload-hash span").all_inner_texts()) != payload_hash
    page.get_by_role("button", name="Cast my ballot").click()

    # (6) the receipt
    visit.heading("Your vote was received")
    assert collector.log_size() == before + 1
    receipt = page.locator("#step-receipt")
    text = receipt.inner_text()
    assert "This ballot now counts. If you vote again, the later ballot replaces it." in text
    index = int(page.locator("#log-position").get_attribute("data-index"))
    assert page.locator("#log-position").inner_text() == (
        f"No. {index + 1} (the log then held {before + 1} "
        + ("ballot)" if before == 0 else "ballots)")
    )
    code = page.locator("#verification-code").inner_text()
    assert re.fullmatch(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){3}", code)
    assert text.count(code) == 1
    groups = page.locator("#check-code span").all_inner_texts()
    # the code's own groups (voter_app.code), and a code a second device can read
    assert tuple(groups) == CheckCode.parse("".join(groups)).groups
    # the code wraps between groups only: every group on one line
    heights = page.locator("#check-code span").evaluate_all(
        "spans => spans.map(s => s.getClientRects().length)"
    )
    assert set(heights) == {1}
    assert page.locator("#qr svg").get_attribute("aria-label") == "QR code of your check code"
    visit.check("receipt")
    with page.expect_download() as download:
        page.get_by_role("link", name="Save the receipt").click()
    saved = json.loads(Path(download.value.path()).read_text())
    assert saved["payload"]["log_index"] == index
    ballot_hash = receipt.get_attribute("data-ballot-hash")
    assert (app.data / "ballots" / f"{ballot_hash}.sealed").exists()
    proof = httpx.get(
        f"{collector.url}/v1/log/inclusion", params={"index": index, "size": before + 1}
    ).json()
    assert proof["index"] == index
    # printed: the receipt without the page's controls
    page.emulate_media(media="print")
    assert page.locator("#verification-code").is_visible()
    assert not page.get_by_role("button", name="Vote again").is_visible()
    assert not page.locator("#steps").is_visible()
    page.emulate_media(media="screen")

    # vote again: nothing selected; the voter is told a new ballot replaces this one
    page.get_by_role("button", name="Vote again").click()
    visit.heading("Your choice")
    assert not any(r.is_checked() for r in page.get_by_role("radio").all())
    assert page.locator("#has-ballot").is_visible()
    visit.close()


def test_a_voter_sees_only_their_own_districts_contests(
    browser: Any, app: VotingApp, election: VoterElection
) -> None:
    visit = Visit(browser, app)
    page = visit.page
    if page.get_by_role("button", name="It is the published fingerprint").is_visible():
        page.get_by_role("button", name="It is the published fingerprint").click()
    visit.heading("Open your e-ID")
    visit.open_eid(election.eid_files["38001010004"])
    visit.heading("Your choice")
    assert page.locator("#district-line").inner_text() == "You vote in North."
    assert visit.radios() == ["101 Mari Maasikas (Green)", "102 Jaan Tamm (Blue)", "103 Kai Kask"]
    assert "Kati Karu" not in page.locator("main").inner_text()
    assert page.get_by_role("combobox").count() == 0
    # nor can the page's API be made to encrypt another district's candidate
    answer = page.evaluate(
        """async () => {
          const token = document.querySelector('meta[name="ivote-token"]').content;
          const r = await fetch("/api/prepare", {method: "POST",
            body: '{"choices": {"council": 201}}',
            headers: {"content-type": "application/json", "x-ivote-token": token}});
          return [r.status, (await r.json()).message];
        }"""
    )
    assert answer == [400, "City council has no candidate 201."]
    visit.close()


@pytest.mark.parametrize(
    ("voter", "title"),
    [
        (NOT_LISTED, "You are not on the voter list of this election"),
        (REVOKED, "Your e-ID has been revoked"),
        (EXPIRED, "Your e-ID is not valid now"),  # found by the app itself, nothing sent
    ],
)
def test_a_voter_who_cannot_vote_is_told_at_once(
    browser: Any,
    app: VotingApp,
    election: VoterElection,
    not_listed_eid: Path,
    voter: str,
    title: str,
) -> None:
    visit = Visit(browser, app)
    page = visit.page
    if page.get_by_role("button", name="It is the published fingerprint").is_visible():
        page.get_by_role("button", name="It is the published fingerprint").click()
    visit.heading("Open your e-ID")
    visit.open_eid(not_listed_eid if voter == NOT_LISTED else election.eid_files[voter])
    visit.heading(title)
    assert page.get_by_role("radio").count() == 0  # no choice offered
    assert "collector" not in page.locator("#step-refusal").inner_text().lower()
    listed = voter != NOT_LISTED
    visit.check(f"refused-{voter}" if listed else "not-listed", shoot=not listed)
    page.get_by_role("button", name="Open another e-ID").click()
    visit.heading("Open your e-ID")
    visit.close()


@pytest.fixture(scope="module")
def closed_collector(
    election: VoterElection, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CollectorProcess]:
    """A second collector of the same election whose ballot box the officials closed."""
    db = tmp_path_factory.mktemp("closed-db") / "ballots.sqlite"
    running = CollectorProcess(election.directory, db)
    closed = run_ivote(
        "collector", "close", "--election", str(election.directory), "--db",
        f"sqlite:///{db}", "--allow-test-key", env=running.env,
    )  # fmt: skip
    assert closed.returncode == 0, closed.stderr
    running.start()
    try:
        yield running
    finally:
        running.stop()


def test_a_closed_election_is_told_at_once(
    browser: Any,
    start_app: Callable[..., VotingApp],
    closed_collector: CollectorProcess,
    election: VoterElection,
) -> None:
    app = start_app(closed_collector.url, election.fingerprint)
    visit = Visit(browser, app)
    page = visit.page
    visit.heading("Open your e-ID")
    visit.open_eid(election.eid_files["38001010003"])
    visit.heading("Voting is closed")
    assert "no more ballots are accepted" in page.locator("#refusal-message").inner_text()
    assert page.get_by_role("radio").count() == 0
    assert not page.get_by_role("button", name="Open another e-ID").is_visible()
    visit.check("closed", shoot=False)
    assert closed_collector.log_size() == 0
    visit.close()


@pytest.fixture(scope="module")
def future_election(
    election: VoterElection, safe_primes: dict, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[VoterElection, CollectorProcess]]:
    """The same voters and e-IDs in an election that opens in three days, and its collector."""
    from voter_helpers import COLLECTOR_PASSPHRASE

    start = dt.datetime(2026, 12, 3, 8, 0, tzinfo=dt.UTC)
    start = max(start, election.pki.issued + dt.timedelta(days=3))
    root = tmp_path_factory.mktemp("future-election")
    future = build_election(
        root, SPEC, election.pki, safe_primes[512], start, start + dt.timedelta(days=2)
    )
    future.write_collector_key(COLLECTOR_PASSPHRASE)
    running = CollectorProcess(future.directory, root / "ballots.sqlite").start()
    try:
        yield future, running
    finally:
        running.stop()


def test_an_election_not_open_yet_says_when_it_opens_in_the_buddhist_era(
    browser: Any,
    start_app: Callable[..., VotingApp],
    future_election: tuple[VoterElection, CollectorProcess],
) -> None:
    future, collector = future_election
    app = start_app(collector.url, future.fingerprint)
    visit = Visit(browser, app, "th")
    page = visit.page
    visit.heading("ยังไม่เปิดให้ลงคะแนน")
    opens = future.start
    message = page.locator("#refusal-message").inner_text()
    assert f"{opens.day} ธันวาคม {opens.year + 543}" in message, message
    assert f"{opens:%H:%M} UTC" in message
    assert not page.get_by_label("รหัส PIN", exact=True).is_visible()  # nothing to type
    visit.check("not-open")
    visit.close()


def test_the_thai_page(browser: Any, app: VotingApp, election: VoterElection) -> None:
    visit = Visit(browser, app, "th")
    page = visit.page
    assert page.locator("html").get_attribute("lang") == "th"
    if page.locator("#confirm-yes").is_visible():
        page.locator("#confirm-yes").click()
    visit.heading("เปิดบัตรประจำตัวอิเล็กทรอนิกส์ (e-ID) ของท่าน")
    assert page.locator("#steps [aria-current=step]").inner_text() == "บัตรประจำตัวอิเล็กทรอนิกส์"
    visit.check("eid", shoot=False)
    visit.open_eid(election.eid_files["38001010001"])
    visit.heading("การเลือกของท่าน")
    # the language switch: the page again in English, the e-ID still open (no PIN asked)
    page.get_by_role("link", name="English").click()
    visit.heading("Your choice")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("#district-line").inner_text() == "You vote in North."
    page.get_by_role("link", name="ไทย").click()
    visit.heading("การเลือกของท่าน")
    assert page.locator("#district-line").inner_text() == "ท่านลงคะแนนในเขต North"
    visit.check("choice")
    page.get_by_role("radio", name="103 Kai Kask").check()
    page.get_by_role("button", name="ดำเนินการต่อ").click()
    visit.heading("ตรวจทานการเลือกของท่าน")
    visit.check("review", shoot=False)
    page.get_by_role("button", name="เข้ารหัสบัตรเลือกตั้ง").click()
    visit.heading("ส่งหรือตรวจสอบบัตรเลือกตั้ง")
    visit.check("decide", shoot=False)
    page.get_by_role("button", name="ส่งบัตรเลือกตั้ง").click()
    visit.heading("ระบบได้รับคะแนนเสียงของท่านแล้ว")
    received = page.locator("#received").inner_text()
    today = dt.datetime.now(dt.UTC)
    assert str(today.year + 543) in received and str(today.year) not in received, received
    visit.check("receipt")
    visit.close()


def test_page_refuses_a_wrong_pin_and_other_origins(
    browser: Any, app: VotingApp, election: VoterElection
) -> None:
    visit = Visit(browser, app)
    page = visit.page
    if page.get_by_role("button", name="It is the published fingerprint").is_visible():
        page.get_by_role("button", name="It is the published fingerprint").click()
    visit.heading("Open your e-ID")
    visit.open_eid(election.eid_files["38001010001"], pin="00000")
    page.get_by_role("status").filter(has_text="Wrong PIN").wait_for(timeout=WAIT)
    visit.close()
    # the API answers only the page itself (token) and only as 127.0.0.1/localhost
    assert httpx.post(f"{app.url}api/election", json={}).status_code == 403
    assert httpx.get(app.url, headers={"host": "evil.example"}).status_code == 403


def _published_record(
    collector: CollectorProcess, election: VoterElection, drop: int | None = None
) -> dict[str, object]:
    """A tally as the tallier would publish it, around the collector's real log: its leaf
    hashes, under a final head signed with the collector's key (less the entry `drop`, as
    a collector that dropped a receipted ballot would sign)."""
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
    browser: Any,
    app: VotingApp,
    collector: CollectorProcess,
    election: VoterElection,
    tmp_path: Path,
) -> None:
    from canonical.files import write_canonical_json

    visit = Visit(browser, app)
    page = visit.page
    if page.get_by_role("button", name="It is the published fingerprint").is_visible():
        page.get_by_role("button", name="It is the published fingerprint").click()
    visit.heading("Open your e-ID")
    visit.open_eid(election.eid_files["38001010002"])
    visit.heading("Your choice")
    page.get_by_role("radio", name="101 Mari Maasikas (Green)").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Encrypt my ballot").click()
    page.get_by_role("button", name="Cast my ballot").click()
    visit.heading("Your vote was received")
    cast_code = page.locator("#verification-code").inner_text()

    page.get_by_text("After the count: are your ballots in the published record?").click()
    genuine, dropped = tmp_path / "record.json", tmp_path / "dropped.json"
    write_canonical_json(genuine, _published_record(collector, election))
    page.get_by_label("Published election record (record.json)").set_input_files(str(genuine))
    page.get_by_label("PIN (opens your stored receipts)").fill(PIN)
    page.get_by_role("button", name="Check my receipts").click()
    page.get_by_role("status").filter(has_text="All your receipts are in").wait_for(timeout=WAIT)
    results = page.locator("#receipt-results")
    found = re.findall(
        r"Ballot (\S+) is in the final ballot log as no\. (\d+)\.", results.inner_text()
    )
    assert cast_code in dict(found), results.inner_text()  # and the module's other casts
    visit.check("receipts-check", shoot=False)

    code, index = cast_code, dict(found)[cast_code]
    write_canonical_json(dropped, _published_record(collector, election, drop=int(index) - 1))
    page.get_by_label("Published election record (record.json)").set_input_files(str(dropped))
    page.get_by_label("PIN (opens your stored receipts)").fill(PIN)
    page.get_by_role("button", name="Check my receipts").click()
    page.get_by_role("status").filter(
        has_text="1 of your receipts does not match the final record."
    ).wait_for(timeout=WAIT)
    text = results.inner_text()
    assert f"PROBLEM with ballot {code}" in text and "signed evidence" in text
    visit.close()


# -- a Thai general election: the ballots as the paper ballots show them ----------------------


def _t(lang: str, text: str) -> str:
    """A page text in `lang`, from the catalogs the app itself uses."""
    with language(lang):
        return _(text)


@pytest.fixture(scope="module")
def thai_app(
    start_app: Callable[..., VotingApp],
    thai_collector: CollectorProcess,
    thai_election: VoterElection,
) -> VotingApp:
    return start_app(thai_collector.url, thai_election.fingerprint)


# Per language: the ballot's radios as the page names them, what the voter picks (by the
# radio's name) and the summary: a constituency candidate or "vote no", a party or "vote no",
# a referendum answer.
THAI_BALLOT = {
    "th": {
        "voter": 0,
        "legends": ["Constituency MP", "แบบบัญชีรายชื่อ", "การออกเสียงประชามติ"],
        "question": "ท่านเห็นชอบว่าสมควรมีการจัดทำรัฐธรรมนูญฉบับใหม่หรือไม่",
        "radios": [
            "1 Somchai Jaidee (Rice Farmers Party)", "2 Malee Srisuk",
            "3 Anan Boonmee (Mekong Party)", "ไม่ประสงค์ลงคะแนน",
            "1 พรรคชาวนาไทย", "2 พรรคอนาคตไทย", "3 พรรคแม่โขง", "4 พรรคพลเมือง",
            "ไม่ประสงค์ลงคะแนน",
            "1 เห็นชอบ", "2 ไม่เห็นชอบ", "3 ไม่แสดงความคิดเห็น",
        ],
        "picks": {"mp": "3 Anan Boonmee (Mekong Party)", "party-list": "ไม่ประสงค์ลงคะแนน",
                  "referendum": "1 เห็นชอบ"},
        "numbers": {"mp": 3, "party-list": 0, "referendum": 1},
        "summary": [
            "Constituency MP", "3 Anan Boonmee (Mekong Party)",
            "แบบบัญชีรายชื่อ", "ไม่ประสงค์ลงคะแนน",
            "การออกเสียงประชามติ", "1 เห็นชอบ",
        ],
    },
    "en": {
        "voter": 1,
        "legends": ["Constituency MP", "Party list", "Referendum"],
        "question": "Do you agree that a new constitution should be drafted?",
        "radios": [
            "1 Somchai Jaidee (Rice Farmers Party)", "2 Malee Srisuk",
            "3 Anan Boonmee (Mekong Party)", "Vote no",
            "1 Rice Farmers Party", "2 Future Thailand Party", "3 Mekong Party",
            "4 Citizens' Party", "Vote no",
            "1 Agree", "2 Disagree", "3 No opinion",
        ],
        "picks": {"mp": "Vote no", "party-list": "2 Future Thailand Party",
                  "referendum": "3 No opinion"},
        "numbers": {"mp": 0, "party-list": 2, "referendum": 3},
        "summary": [
            "Constituency MP", "Vote no",
            "Party list", "2 Future Thailand Party",
            "Referendum", "3 No opinion",
        ],
    },
}  # fmt: skip


@pytest.mark.parametrize("lang", ["th", "en"])
def test_a_thai_ballot_as_on_paper_cast_and_checked(
    browser: Any,
    thai_app: VotingApp,
    thai_collector: CollectorProcess,
    thai_election: VoterElection,
    lang: str,
) -> None:
    """Every contest of the voter's district in ballot order (the constituency, the national
    party list, the referendum with its question), names in the page's language, each "vote
    no" box after its candidates and set apart; the summary, the audit (Benaloh) and the
    check page name each choice, "vote no" as such; axe-core and 360 px at every step."""
    ballot = THAI_BALLOT[lang]
    voters = sorted(code for code, district in THAI_VOTERS.items() if district == "khet-1")
    visit = Visit(browser, thai_app, lang)
    page = visit.page
    visit.heading(_t(lang, "Open your e-ID"))
    visit.open_eid(thai_election.eid_files[voters[ballot["voter"]]])
    visit.heading(_t(lang, "Your choice"))
    district_line = _t(lang, "You vote in {district}.").format(district="Khet-1")
    assert page.locator("#district-line").inner_text() == district_line
    legends = page.locator("#contests fieldset > legend").all_inner_texts()
    assert legends == ballot["legends"]
    assert visit.radios() == ballot["radios"]
    # the referendum's question comes before its answers, and describes its group
    referendum = page.get_by_role("group", name=ballot["legends"][2])
    assert referendum.locator(".question").inner_text() == ballot["question"]
    assert referendum.get_attribute("aria-describedby") == "question-referendum"
    # each "vote no" box is the last choice of its contest, set apart by a rule and a gap
    for contest in ("mp", "party-list"):
        box = page.locator(f'input[name="contest-{contest}"][value="0"]')
        last = page.locator(f'input[name="contest-{contest}"]').last
        assert box.evaluate("(e, last) => e === last", last.element_handle())
        apart = box.evaluate(
            """e => { const div = e.closest(".vote-no"), label = e.closest("label");
                      const before = div.previousElementSibling.getBoundingClientRect();
                      return [getComputedStyle(div).borderTopStyle,
                              label.getBoundingClientRect().top - before.bottom]; }"""
        )
        assert apart[0] == "dashed" and apart[1] >= 16, apart
    assert page.locator('input[name="contest-referendum"][value="0"]').count() == 0
    visit.check("thai-choice")
    if lang == "th":  # the language switch: the same ballot, every name in English
        page.get_by_role("link", name="English").click()
        visit.heading("Your choice")
        assert page.locator("#contests fieldset > legend").all_inner_texts() == (
            THAI_BALLOT["en"]["legends"]
        )
        assert visit.radios() == THAI_BALLOT["en"]["radios"]
        page.get_by_role("link", name="ไทย").click()
        visit.heading(_t(lang, "Your choice"))
        assert visit.radios() == ballot["radios"]
    # nor does the app encrypt a "vote no" for the referendum, which has no such box
    answer = page.evaluate(
        """async (lang) => {
          const token = document.querySelector('meta[name="ivote-token"]').content;
          const r = await fetch("/api/prepare", {method: "POST",
            body: '{"choices": {"mp": 1, "party-list": 0, "referendum": 0}}',
            headers: {"content-type": "application/json", "x-ivote-token": token,
                      "x-ivote-lang": lang}});
          return [r.status, (await r.json()).message];
        }""",
        lang,
    )
    refusal = _t(lang, '{contest} has no "vote no" box.').format(contest=ballot["legends"][2])
    assert answer == [400, refusal]

    # choose; a contest left empty is named (the referendum: "an answer")
    for legend, contest in zip(ballot["legends"], ("mp", "party-list"), strict=False):
        group = page.get_by_role("group", name=legend)
        group.get_by_role("radio", name=ballot["picks"][contest], exact=True).check()
    page.get_by_role("button", name=_t(lang, "Continue")).click()
    assert _t(lang, "Choose an answer in {contest}.").format(
        contest=ballot["legends"][2]
    ) in page.get_by_role("status").inner_text()
    referendum.get_by_role("radio", name=ballot["picks"]["referendum"], exact=True).check()
    page.get_by_role("button", name=_t(lang, "Continue")).click()
    visit.heading(_t(lang, "Check your choice"))
    assert page.locator("#review-choices").inner_text().split("\n") == ballot["summary"]
    visit.check("thai-review")

    # the Benaloh step: the audit names the choices the encrypted ballot held
    page.get_by_role("button", name=_t(lang, "Encrypt my ballot")).click()
    visit.heading(_t(lang, "Cast or audit your ballot"))
    page.get_by_role("button", name=_t(lang, "Audit this ballot (it will not be cast)")).click()
    visit.heading(_t(lang, "Audited ballot (not cast)"))
    assert page.locator("#audit-choices").inner_text().split("\n") == ballot["summary"]
    visit.check("thai-audit")
    with page.expect_download() as download:
        page.get_by_role("link", name=_t(lang, "Save the audit file")).click()
    assert json.loads(Path(download.value.path()).read_text())["choices"] == ballot["numbers"]

    # a new ballot with the same choices, cast
    before = thai_collector.log_size()
    page.get_by_role("button", name=_t(lang, "Make a new ballot")).click()
    visit.heading(_t(lang, "Your choice"))
    page.get_by_role("button", name=_t(lang, "Continue")).click()
    visit.heading(_t(lang, "Check your choice"))
    assert page.locator("#review-choices").inner_text().split("\n") == ballot["summary"]
    page.get_by_role("button", name=_t(lang, "Encrypt my ballot")).click()
    visit.heading(_t(lang, "Cast or audit your ballot"))
    visit.check("thai-decide", shoot=False)
    page.get_by_role("button", name=_t(lang, "Cast my ballot")).click()
    visit.heading(_t(lang, "Your vote was received"))
    assert thai_collector.log_size() == before + 1
    code = page.locator("#verification-code").inner_text()
    assert re.fullmatch(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){3}", code)
    visit.check("thai-receipt")
    with page.expect_download() as download:
        page.get_by_role("link", name=_t(lang, "Save the receipt")).click()
    saved = json.loads(Path(download.value.path()).read_text())
    assert saved["payload"]["log_index"] == before
    check_code = "".join(page.locator("#check-code span").all_inner_texts())

    # the check page of the same app, in the same language, shows the choices back
    page.goto(f"{thai_app.url}check?lang={lang}")
    page.set_viewport_size(PHONE)
    page.get_by_label(_t(lang, "Check code"), exact=True).fill(check_code)
    page.get_by_role("button", name=_t(lang, "Check my vote")).click()
    page.locator("#choices li").first.wait_for(timeout=WAIT)
    shown = page.locator("#choices li").all_inner_texts()
    summary = ballot["summary"]
    assert shown == [f"{summary[i]}: {summary[i + 1]}" for i in range(0, len(summary), 2)]
    assert code in page.locator("main").inner_text()
    assert_accessible(page, f"{lang} thai check", WCAG_21_AA)
    assert page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    ) <= 0
    screenshot(page, f"check-thai-{lang}.png")
    visit.close()


def test_an_election_key_not_proven_well_formed_is_refused_before_any_ballot(
    browser: Any,
    start_app: Callable[..., VotingApp],
    collector: CollectorProcess,
    election: VoterElection,
) -> None:
    """The collector serves a tampered key-proofs document: the page names the failure, in
    English and in Thai, before the e-ID is asked; no challenge or ballot is asked for."""
    from voter_helpers import FakeCollector

    from canonical.encoding import canonical_bytes

    document = json.loads((election.directory / "key-proofs.json").read_bytes())
    document["modulus_proof"]["x"][0] = document["modulus_proof"]["x"][1]
    body = canonical_bytes(document)

    def tamper(method: str, path: str, status: int, _body: bytes) -> tuple[int, bytes] | None:
        return (200, body) if path == "/v1/key-proofs" else None

    with FakeCollector(collector.url, tamper) as fake:
        app = start_app(fake.url, election.fingerprint)
        visit = Visit(browser, app)
        page = visit.page
        visit.heading("This election's key is not proven well formed")
        message = page.locator("#refusal-message").inner_text()
        assert "the modulus proof does not verify for the election key: round 0" in message
        assert "Do not vote here" in page.locator("#refusal-advice").inner_text()
        assert not page.get_by_label("PIN", exact=True).is_visible()
        assert not page.get_by_role("button", name="Open another e-ID").is_visible()
        visit.check("key-not-proven", shoot=False)
        visit.close()
        visit = Visit(browser, app, "th")
        visit.heading("ไม่มีการพิสูจน์ว่ากุญแจของการเลือกตั้งนี้มีรูปแบบถูกต้อง")
        assert "โปรดอย่าลงคะแนนที่นี่" in visit.page.locator("#refusal-advice").inner_text()
        visit.check("key-not-proven", shoot=False)
        visit.close()
        asked = [path for _, path, _ in fake.requests]
    assert asked.count("/v1/key-proofs") == 2  # a failed check is not remembered
    assert not any(path.startswith(("/v1/challenges", "/v1/eligibility")) for path in asked)
    assert not (app.data / "verified-keys.json").exists()
