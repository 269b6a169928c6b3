"""The demo's outcome: the election record's results and tally report, compared with what the
simulated voters did, and printed per district."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from formats.record import (
    Counts,
    ElectionRecord,
    TallyReport,
    read_record_document,
)
from i18n import _, ngettext
from ivote.demo.scenario import CONTEST_ID, CONTEST_NAME, Plan
from tallier.cli import invalid_lines, report_table

if TYPE_CHECKING:
    from ivote.demo.runner import Layout


EXPECTED_FILE = "expected-results.json"


@dataclass(frozen=True)
class Expected:
    """What the record must say, from the simulated voters' own choices: per district, votes
    per candidate (in the definition's order) and the tally report's counts."""

    results: dict[str, list[int]]
    counts: dict[str, Counts]

    def to_dict(self) -> dict[str, Any]:
        return {
            "results": self.results,
            "report": {district: c.to_dict() for district, c in self.counts.items()},
        }

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> Expected:
        return cls(
            {district: list(counts) for district, counts in obj["results"].items()},
            {d: Counts.from_dict(c, f"report.{d}") for d, c in obj["report"].items()},
        )


def expected_from(plan: Plan) -> Expected:
    """Votes from each voter's last cast, leaving out the paper voters; in the report every
    cast received, all but each voter's last superseded, the last cancelled for paper voters
    and counted for the others."""
    counts: dict[str, Counts] = {}
    for voter in plan.voters:
        casts = plan.casts.get(voter.personal_code, [])
        if not casts:
            continue
        paper = voter.personal_code in plan.paper_voters
        mine = Counts(
            received=len(casts),
            superseded=len(casts) - 1,
            cancelled_by_paper=int(paper),
            counted=int(not paper),
        )
        counts[voter.district] = counts.get(voter.district, Counts()).plus(mine)
    return Expected(plan.expected_results(), counts)


@dataclass
class Comparison:
    results: dict[str, tuple[int, ...]]  # district -> counts decrypted from the record
    report: TallyReport
    problems: list[str] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return not self.problems


def compare(expected: Expected, district_names: dict[str, str], record_dir: Path) -> Comparison:
    """The record's results and report against the expected ones; every difference named."""
    record = ElectionRecord.from_dict(read_record_document(record_dir))
    report = TallyReport.from_dict(record.tally.report)
    results = {r.district: r.counts for r in record.decryption.results if r.contest == CONTEST_ID}
    comparison = Comparison(results, report)
    for district, name in district_names.items():
        found = results.get(district)
        wanted = expected.results[district]
        if found is None:
            comparison.problems.append(_("{name}: no result in the record").format(name=name))
        elif list(found) != wanted:
            comparison.problems.append(
                _("{name}: the record says {found}, the voters chose {wanted}").format(
                    name=name, found=list(found), wanted=wanted
                )
            )
        reported = report.districts.get(district, Counts())
        should = expected.counts.get(district, Counts())
        if reported != should:
            comparison.problems.append(
                _("{name}: the tally report says {reported}, expected {expected}").format(
                    name=name, reported=reported.to_dict(), expected=should.to_dict()
                )
            )
    for other in sorted(set(report.districts) - set(district_names)):
        if report.districts[other] != Counts():
            comparison.problems.append(
                _("the tally report has ballots under {district}").format(district=repr(other))
            )
    return comparison


def print_outcome(
    console: Console,
    plan: Plan,
    expected: Expected,
    comparison: Comparison,
    verified: bool,
    layout: Layout,
    timings: list[tuple[str, float]],
    fingerprint: str,
    test_flag: str = "",
) -> None:
    """`test_flag` is " --allow-test-key" for a test election: the commands it prints need it."""
    console.rule("[bold]" + _("Results"))
    for district in plan.districts:
        found = comparison.results.get(district.id, ())
        wanted = expected.results[district.id]
        table = Table(title=f"{district.name} — {CONTEST_NAME}", title_justify="left")
        table.add_column(_("no."), justify="right")
        table.add_column(_("candidate"))
        table.add_column(_("party"))
        table.add_column(_("votes"), justify="right", style="bold")
        table.add_column(_("voters' last choices"), justify="right")
        for position, candidate in enumerate(district.candidates):
            votes = found[position] if position < len(found) else None
            chosen = wanted[position]
            style = "" if votes == chosen else "bold red"
            table.add_row(
                str(candidate.number),
                candidate.name,
                candidate.party or _("independent"),
                "-" if votes is None else str(votes),
                str(chosen),
                style=style,
            )
        console.print(table)

    console.print(
        report_table(
            comparison.report,
            {d.id: d.name for d in plan.districts},
            _("Tally report (what happened to every ballot received)"),
        )
    )
    for line in invalid_lines(comparison.report):
        console.print(line)
    total = comparison.report.total

    paper = len([c for c in plan.paper_voters if plan.casts.get(c)])
    revotes = plan.cast_count() - len(plan.casts)
    if comparison.matches:
        console.print(
            "[bold green]OK[/] "
            + _(
                "the results match: the decrypted counts equal the simulated voters' last "
                "choices ({counted} counted; {superseded} superseded by revotes; {cancelled} "
                "cancelled by paper votes)."
            ).format(
                counted=total.counted,
                superseded=ngettext(
                    "{count} earlier ballot", "{count} earlier ballots", revotes
                ).format(count=revotes),
                cancelled=ngettext("{count} i-vote", "{count} i-votes", paper).format(
                    count=paper
                ),
            )
        )
    else:
        console.print(
            "[bold red]MISMATCH[/] " + _("the results do not match the voters' choices:")
        )
        for problem in comparison.problems:
            console.print(f"  [red]{problem}[/]")
    if verified:
        console.print(
            "[bold green]OK[/] "
            + _(
                "`ivote verify` passes on the election record, the auditors' checks against "
                "the signed ballot box included."
            )
        )
    else:
        console.print(
            "[bold red]FAILED[/] " + _("`ivote verify` does not pass on the election record.")
        )
    total_seconds = sum(seconds for _title, seconds in timings)
    console.print(
        _("Election record: {record} (observers' bundle beside it)").format(
            record=layout.record / "record.json"
        )
        + "\n"
        + _(
            "Everything else (ceremony files, e-IDs, ballot box, tally, trustees' shares, "
            "logs): {root}"
        ).format(root=layout.root)
        + "\n"
        + _("Re-check it as an observer who knows the published fingerprint:")
    )
    # soft_wrap: a command line to copy stays on one line
    console.print(
        f"  ivote verify {layout.record} --fingerprint {fingerprint}{test_flag}", soft_wrap=True
    )
    console.print(_("and as an auditor holding the ballot box and the signed paper-voter list:"))
    console.print(
        f"  ivote verify {layout.record} --fingerprint {fingerprint} --ballot-box "
        f"{layout.ballot_box} --paper-voters {layout.signed_paper_voters}{test_flag}",
        soft_wrap=True,
    )
    console.print(
        _("Time: {seconds} s in {steps} steps; slowest: {slowest}").format(
            seconds=f"{total_seconds:.0f}",
            steps=len(timings),
            slowest=", ".join(
                f"{title.split(':')[0]} {seconds:.0f} s" for title, seconds in _slowest(timings)
            ),
        )
    )


def _slowest(timings: list[tuple[str, float]]) -> list[tuple[str, float]]:
    return sorted(timings, key=lambda item: -item[1])[:3]
