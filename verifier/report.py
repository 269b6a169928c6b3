"""`ivote results --format html`: the verified results as one self-contained HTML file.

No network at all: the CSS is inline, the bar charts are inline SVG, no font, script or image
is fetched. Texts go through i18n like the rest of the verifier (verifier/templates, with
`_()` as in Python, placeholders filled by `.format` after translation); dates are shown with
i18n.format_datetime (Thai: the Buddhist Era). Every number a chart shows is also in the table
beside it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from formats.record import COUNT_FIELDS, COUNT_LABELS, REASON_LABELS, UNASSIGNED
from formats.results import ContestResults
from i18n import _, current_language, format_datetime
from i18n.templates import environment
from verifier.record import TITLES
from verifier.results import STATUS_TEXT, Outcome, log_head_time

_ENVIRONMENT = environment("verifier")


# the bar chart's geometry, in SVG user units (the chart scales to the page's width)
CHART_WIDTH = 640
ROW_HEIGHT = 44
BAR_HEIGHT = 16
LABEL_HEIGHT = 18


@dataclass(frozen=True)
class Bar:
    label: str
    value: str
    y: int
    width: float


def chart(contest: ContestResults) -> dict[str, Any]:
    """The bars of a contest's chart: one per option, "vote no" (or a choose-several contest's
    blank ballots) last, as long as its share of the counted ballots (the longest possible
    bar is 100 %)."""
    bars = []
    room = CHART_WIDTH - 140  # the rest of the line holds the bar's number
    for position, option in enumerate(contest.rows):
        share = contest.share(option)
        fraction = 0.0 if share is None else float(share) / 100
        label = (
            option.name
            if option.is_vote_no
            else f"{option.number} {option.name}" + (f" ({option.party})" if option.party else "")
        )
        bars.append(
            Bar(
                label,
                _("{votes} ({share})").format(votes=option.votes, share=_share(share)),
                position * ROW_HEIGHT,
                round(room * fraction, 2),
            )
        )
    if contest.blank is not None:  # a choose-several contest's blank ballots: the last bar
        share = contest.blank_share
        bars.append(
            Bar(
                _("Blank ballots (no candidate marked)"),
                _("{votes} ({share})").format(votes=contest.blank, share=_share(share)),
                len(bars) * ROW_HEIGHT,
                round(room * (0.0 if share is None else float(share) / 100), 2),
            )
        )
    return {
        "bars": bars,
        "height": len(bars) * ROW_HEIGHT,
        "width": CHART_WIDTH,
        "label_height": LABEL_HEIGHT,
        "bar_height": BAR_HEIGHT,
    }


def _share(share: object) -> str:
    return "–" if share is None else f"{share} %"


def render_report(path: Path, found: Outcome) -> str:
    """The report of a verified record (found.results is set), in the current language."""
    results = found.results
    assert results is not None
    facts = found.verdict.facts
    report = facts.report
    names = {contest.district: contest.district_name for contest in results.contests}
    counts_rows = []
    reasons: Counter[str] = Counter()
    if report is not None:
        for district_id, counts in report.districts.items():
            name = _("no district of the manifest") if district_id == UNASSIGNED else None
            counts_rows.append((name or names.get(district_id, district_id), counts.to_dict()))
        reasons = Counter(ballot.reason for ballot in report.invalid_ballots)
    head_time = log_head_time(found.verdict)
    return _ENVIRONMENT.get_template("report.html").render(
        lang=current_language(),
        results=results,
        organiser=found.organiser(),
        districts=results.districts(),
        chart=chart,
        share=_share,
        count_fields=COUNT_FIELDS,
        count_text=COUNT_LABELS,
        counts_rows=counts_rows,
        total=report.total.to_dict() if report is not None else None,
        reasons=sorted(reasons.items()),
        reason_text=REASON_LABELS,
        head=facts.final_head,
        head_time=format_datetime(head_time) if head_time is not None else None,
        checks=found.verdict.checks,
        titles=TITLES,
        status_text=STATUS_TEXT,
        verdict_line=found.line(),
        anchored=found.anchored,
        fingerprints=found.fingerprints(),
        source=path.name,
    )
