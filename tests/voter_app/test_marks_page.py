"""The voting page on a choose-several contest (the council election: a mayor, 1 of 3, and a
council where a voter marks up to 3 candidates or none), end to end: `ivote vote app` as a
real process, headless Chromium, a real collector, in English and in Thai. The council is a
group of checkboxes described by its rule and a live count of the marks left; a fourth mark is
refused by the app (the count only informs), naming the contest, and the choice stays on
screen; the summary, the audit, the receipt and the check page show the marks, and "blank"
for a ballot that marks none. axe-core finds nothing and nothing scrolls sideways at 360 px
at every step. Skips locally without Chromium; fails in CI (CI=true)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.browser import WCAG_21_AA, assert_accessible, screenshot
from test_vote_page import PHONE, WAIT, Visit, VotingApp, _t, start_app  # noqa: F401
from voter_helpers import CollectorProcess, VoterElection

from voter_app.voting import BLANK_TEXT

RULE = "Mark up to {count} candidate, or none"  # the msgid of the council's rule (plural)


@pytest.fixture(scope="module")
def council_app(
    start_app: Callable[..., VotingApp],  # noqa: F811
    council_collector: CollectorProcess,
    council_election: VoterElection,
) -> VotingApp:
    return start_app(council_collector.url, council_election.fingerprint)


def rule(lang: str) -> str:
    from i18n import language, ngettext

    with language(lang):
        return ngettext(RULE, "Mark up to {count} candidates, or none", 3).format(count=3)


@pytest.mark.parametrize(("lang", "voter"), [("en", "v2"), ("th", "v3")])
def test_a_council_ballot_with_marks_then_blank_cast_and_checked(
    browser: Any,
    council_app: VotingApp,
    council_collector: CollectorProcess,
    council_election: VoterElection,
    lang: str,
    voter: str,
) -> None:
    visit = Visit(browser, council_app, lang)
    page = visit.page
    visit.heading(_t(lang, "Open your e-ID"))
    visit.check("council-eid", shoot=False)
    visit.open_eid(council_election.eid_files[voter])
    visit.heading(_t(lang, "Your choice"))
    assert page.locator("#contests fieldset > legend").all_inner_texts() == [
        "Mayor", "Municipal council"
    ]  # fmt: skip
    council = page.get_by_role("group", name="Municipal council")
    boxes = council.get_by_role("checkbox")
    assert boxes.count() == 5 and page.get_by_role("radio").count() == 3
    # the rule and the live count describe the group
    assert council.get_attribute("aria-describedby") == "rule-council count-council"
    assert page.locator("#rule-council").inner_text() == rule(lang)
    count = page.locator("#count-council")
    assert count.get_attribute("aria-live") == "polite"

    def says(text: str, **values: int) -> None:
        assert count.inner_text() == _t(lang, text).format(**values)

    says("You may mark {count} more.", count=3)
    for number, left in ((11, 2), (12, 1)):
        council.locator(f'input[value="{number}"]').check()
        says("You may mark {count} more.", count=left)
    council.locator('input[value="14"]').check()
    says("You may mark no more.")
    council.locator('input[value="15"]').check()  # a fourth: the count says so, in red
    says("You have marked {count}: at most {max} may be marked. Remove a mark.", count=4, max=3)
    assert count.evaluate("e => getComputedStyle(e).color") == "rgb(165, 29, 45)"
    page.get_by_role("group", name="Mayor").get_by_role("radio", name="2 Candidate 2").check()
    visit.check("council-choice")

    # the app checks the marks, not the script: four are refused, naming the contest; the
    # choice stays on screen with the marks, the focus on the council's first box
    too_many = _t(lang, "{contest}: {count} marked, too many: mark at most {max}.").format(
        contest="Municipal council", count=4, max=3
    )
    page.get_by_role("button", name=_t(lang, "Continue")).click()
    page.locator("#status.error").wait_for(timeout=WAIT)
    assert page.get_by_role("status").inner_text() == too_many
    assert page.locator("#step-choice").is_visible() and boxes.nth(4).is_checked()
    assert page.evaluate("document.activeElement.value") == "11"
    visit.check("council-too-many", shoot=False)
    # the API the page posts to refuses the same, whatever sends it
    answer = page.evaluate(
        """async ([lang, marks]) => {
          const token = document.querySelector('meta[name="ivote-token"]').content;
          const r = await fetch("/api/prepare", {method: "POST",
            body: JSON.stringify({choices: {mayor: 2, council: marks}}),
            headers: {"content-type": "application/json", "x-ivote-token": token,
                      "x-ivote-lang": lang}});
          return [r.status, await r.json()];
        }""",
        [lang, [11, 12, 14, 15]],
    )
    assert answer == [400, {"message": too_many, "contest": "council"}]
    for marks, problem in (([11, 11], "{contest}: a candidate is marked twice."),
                           ([11, 21], "{contest} has no candidate {number}."),
                           (11, "Choose a candidate in {contest}.")):  # fmt: skip
        status, refused = page.evaluate(
            """async ([lang, marks]) => {
              const token = document.querySelector('meta[name="ivote-token"]').content;
              const r = await fetch("/api/review", {method: "POST",
                body: JSON.stringify({choices: {mayor: 2, council: marks}}),
                headers: {"content-type": "application/json", "x-ivote-token": token,
                          "x-ivote-lang": lang}});
              return [r.status, await r.json()];
            }""",
            [lang, marks],
        )
        expected = _t(lang, problem).format(contest="Municipal council", number=21)
        assert (status, refused["message"]) == (400, expected)

    # three marks: the summary lists them in ballot order
    council.locator('input[value="12"]').uncheck()
    says("You may mark no more.")
    # the marks one a line (a list in the council's entry)
    marks = ["11 Candidate 11", "14 Candidate 14", "15 Candidate 15"]
    summary = ["Mayor", "2 Candidate 2", "Municipal council", *marks]
    page.get_by_role("button", name=_t(lang, "Continue")).click()
    visit.heading(_t(lang, "Check your choice"))
    assert page.locator("#review-choices").inner_text().split("\n") == summary
    assert page.locator("#review-choices dd ul.marks li").all_inner_texts() == marks
    visit.check("council-review")

    # Benaloh: the audit shows the marks the encrypted ballot held
    page.get_by_role("button", name=_t(lang, "Encrypt my ballot")).click()
    visit.heading(_t(lang, "Cast or audit your ballot"))
    page.get_by_role("button", name=_t(lang, "Audit this ballot (it will not be cast)")).click()
    visit.heading(_t(lang, "Audited ballot (not cast)"))
    assert page.locator("#audit-choices").inner_text().split("\n") == summary
    visit.check("council-audit", shoot=False)
    with page.expect_download() as download:
        page.get_by_role("link", name=_t(lang, "Save the audit file")).click()
    audit = json.loads(Path(download.value.path()).read_text())
    assert audit["choices"] == {"mayor": 2, "council": [11, 14, 15]}

    # a new ballot: the marks are kept. In English it is cast so; in Thai, all marks removed,
    # the council is blank
    page.get_by_role("button", name=_t(lang, "Make a new ballot")).click()
    visit.heading(_t(lang, "Your choice"))
    assert [boxes.nth(i).is_checked() for i in range(5)] == [True, False, False, True, True]
    blank = _t(lang, BLANK_TEXT)
    if lang == "th":
        for number in (11, 14, 15):
            council.locator(f'input[value="{number}"]').uncheck()
        says("You may mark {count} more.", count=3)
        summary = ["Mayor", "2 Candidate 2", "Municipal council", blank]
    page.get_by_role("button", name=_t(lang, "Continue")).click()
    visit.heading(_t(lang, "Check your choice"))
    assert page.locator("#review-choices").inner_text().split("\n") == summary
    before = council_collector.log_size()
    page.get_by_role("button", name=_t(lang, "Encrypt my ballot")).click()
    visit.heading(_t(lang, "Cast or audit your ballot"))
    page.get_by_role("button", name=_t(lang, "Cast my ballot")).click()
    visit.heading(_t(lang, "Your vote was received"))
    assert council_collector.log_size() == before + 1
    visit.check("council-receipt", shoot=False)
    check_code = "".join(page.locator("#check-code span").all_inner_texts())

    # the check page shows the council's marks back, one a line, or blank
    page.goto(f"{council_app.url}check?lang={lang}")
    page.set_viewport_size(PHONE)
    page.get_by_label(_t(lang, "Check code"), exact=True).fill(check_code)
    page.get_by_role("button", name=_t(lang, "Check my vote")).click()
    page.locator("#choices li").first.wait_for(timeout=WAIT)
    shown = page.locator("#choices > li").all_inner_texts()
    if lang == "th":
        assert shown == ["Mayor: 2 Candidate 2", f"Municipal council: {blank}"]
    else:
        assert shown == ["Mayor: 2 Candidate 2", "\n".join(["Municipal council:", *marks])]
        assert page.locator("#choices > li ul > li").all_inner_texts() == marks
    assert_accessible(page, f"{lang} council check", WCAG_21_AA)
    assert page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    ) <= 0
    screenshot(page, f"check-council-{lang}.png")
    visit.close()
