"""The HTML results report (`ivote results --format html`) in headless Chromium: one file that
fetches nothing, whose tables hold the record's numbers, with an accessible SVG chart per
contest and no axe-core violation, in English and in Thai. Skips locally without Chromium;
fails in CI (CI=true).

IVOTE_SCREENSHOTS=docs/screenshots makes this test also write results-en.png and
results-th.png there (the screenshots README.md shows; Thai needs a Thai font, Debian's
fonts-thai-tlwg, which `make system-deps` installs)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from tally_helpers import Finished
from test_results import expected_rows

from ivote.cli import main

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
SCREENSHOTS = os.environ.get("IVOTE_SCREENSHOTS")


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


def write_report(finished: Finished, path: Path, lang: str) -> str:
    result = CliRunner().invoke(
        main,
        ["--lang", lang, "results", "--allow-test-key", str(finished.record), "--format",
         "html", "--out", str(path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("lang", ["en", "th"])
def test_the_html_report(browser: object, finished: Finished, tmp_path: Path, lang: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    html = write_report(finished, tmp_path / f"results-{lang}.html", lang)
    # self-contained: nothing that could load anything
    assert not re.search(r"\b(src|href|xlink:href)\s*=", html)
    assert "@import" not in html and "url(" not in html and "<script" not in html
    record = finished.record_doc()
    payload = record["manifest"]["payload"]

    page = browser.new_page(viewport={"width": 1000, "height": 1300})  # type: ignore[attr-defined]
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    url = (tmp_path / f"results-{lang}.html").as_uri()
    page.goto(url)
    page.wait_for_load_state("load")
    assert requests == [url]  # the file itself, nothing else
    assert page.locator("html").get_attribute("lang") == lang
    assert page.get_by_role("heading", level=1).inner_text() == payload["name"]

    # the result tables hold the record's numbers, in the manifest's order
    rows = page.evaluate(
        """() => [...document.querySelectorAll('table')]
            .filter(t => t.querySelector('thead th:nth-child(5)') && t.tBodies[0]
                         && t.tFoot && t.tFoot.rows[0].cells.length === 3)
            .map(t => ({
                caption: t.caption.innerText,
                counted: t.tFoot.rows[0].cells[1].innerText,
                rows: [...t.tBodies[0].rows].map(r => [...r.cells].map(c => c.innerText))}))"""
    )
    expected = expected_rows(finished)
    found = [
        (table["caption"], int(table["counted"]), cells[0], cells[1], cells[2], cells[3], cells[4])
        for table in rows
        for cells in table["rows"]
    ]
    assert found == [
        (r["contest_name"], r["counted"], str(r["number"]), r["name"], r["party"], str(r["votes"]),
         f"{r['share']} %")
        for r in expected
    ]  # fmt: skip

    # one chart per contest, each an image with a name and a description of every bar
    contests = [(d["name"], c["name"]) for d in payload["districts"] for c in d["contests"]]
    charts = page.locator("svg[role=img]")
    assert charts.count() == len(contests)
    in_words = {"en": "Votes in {contest}, {district}", "th": "คะแนนเสียงใน{contest} {district}"}
    for district, contest in contests:
        title = in_words[lang].format(contest=contest, district=district)
        assert page.get_by_role("img", name=title).count() >= 1, title
    description = charts.first.locator("desc").text_content() or ""
    first = expected[0]
    assert f"{first['name']}: {first['votes']}" in description

    # the tally report's counts, the verification and the fingerprints, in full
    text = page.locator("main").inner_text()
    total = record["report"]["total"]
    assert str(total["received"]) in text and str(total["invalid"]) in text
    joined = "".join(text.split())
    for check in ("record", "results-report", "ballot-proofs"):
        assert f"({check})" in text
    import hashlib

    from canonical.encoding import canonical_bytes

    assert hashlib.sha256(canonical_bytes(payload)).hexdigest() in joined
    if lang == "th":
        year = int(payload["period"]["start"][:4]) + 543
        assert str(year) in page.locator("header").inner_text()
        assert "ตรวจสอบยืนยันแล้ว" in text
    else:
        assert "Verified: the results are the decryption" in text

    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()

    if SCREENSHOTS:
        out = Path(SCREENSHOTS)
        out.mkdir(parents=True, exist_ok=True)
        page.set_viewport_size({"width": 900, "height": 1200})
        page.screenshot(path=str(out / f"results-{lang}.png"))
    page.close()
