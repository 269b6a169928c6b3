"""The demo's outcome: the election record's results and tally report, compared with what the
simulated voters did, and printed per district."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from formats.record import (
    COUNT_FIELDS,
    Counts,
    ElectionRecord,
    TallyReport,
    read_record_document,
)
from ivote.demo.scenario import CONTEST_ID, CONTEST_NAME, Plan

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
            comparison.problems.append(f"{name}: no result in the record")
        elif list(found) != wanted:
            comparison.problems.append(
                f"{name}: the record says {list(found)}, the voters chose {wanted}"
            )
        reported = report.districts.get(district, Counts())
        should = expected.counts.get(district, Counts())
        if reported != should:
            comparison.problems.append(
                f"{name}: the tally report says {reported.to_dict()}, expected {should.to_dict()}"
            )
    for other in sorted(set(report.districts) - set(district_names)):
        if report.districts[other] != Counts():
            comparison.problems.append(f"the tally report has ballots under {other!r}")
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
    console.rule("[bold]Results")
    for district in plan.districts:
        found = comparison.results.get(district.id, ())
        wanted = expected.results[district.id]
        table = Table(title=f"{district.name} — {CONTEST_NAME}", title_justify="left")
        table.add_column("no.", justify="right")
        table.add_column("candidate")
        table.add_column("party")
        table.add_column("votes", justify="right", style="bold")
        table.add_column("voters' last choices", justify="right")
        for position, candidate in enumerate(district.candidates):
            votes = found[position] if position < len(found) else None
            chosen = wanted[position]
            style = "" if votes == chosen else "bold red"
            table.add_row(
                str(candidate.number),
                candidate.name,
                candidate.party or "independent",
                "-" if votes is None else str(votes),
                str(chosen),
                style=style,
            )
        console.print(table)

    report = Table(title="Tally report (what happened to every ballot received)")
    report.add_column("district")
    for name in COUNT_FIELDS:
        report.add_column(name.replace("_", " "), justify="right")
    for district in plan.districts:
        counts = comparison.report.districts.get(district.id, Counts())
        report.add_row(district.name, *(str(getattr(counts, n)) for n in COUNT_FIELDS))
    total = comparison.report.total
    report.add_row("total", *(str(getattr(total, n)) for n in COUNT_FIELDS), style="bold")
    console.print(report)
    reasons: dict[str, int] = {}
    for ballot in comparison.report.invalid_ballots:
        reasons[ballot.reason] = reasons.get(ballot.reason, 0) + 1
    for reason, count in sorted(reasons.items()):
        console.print(f"invalid: {count} x {reason}")

    paper = len([c for c in plan.paper_voters if plan.casts.get(c)])
    revotes = plan.cast_count() - len(plan.casts)
    if comparison.matches:
        console.print(
            f"[bold green]OK[/] the results match: the decrypted counts equal the simulated "
            f"voters' last choices ({total.counted} counted; {_count(revotes, 'earlier ballot')} "
            f"superseded by revotes; {_count(paper, 'i-vote')} cancelled by paper votes)."
        )
    else:
        console.print("[bold red]MISMATCH[/] the results do not match the voters' choices:")
        for problem in comparison.problems:
            console.print(f"  [red]{problem}[/]")
    if verified:
        console.print(
            "[bold green]OK[/] `ivote verify` passes on the election record, the auditors' "
            "checks against the signed ballot box included."
        )
    else:
        console.print("[bold red]FAILED[/] `ivote verify` does not pass on the election record.")
    total_seconds = sum(seconds for _, seconds in timings)
    console.print(
        f"Election record: {layout.record / 'record.json'} (observers' bundle beside it)\n"
        f"Everything else (ceremony files, e-IDs, ballot box, tally, trustees' shares, logs): "
        f"{layout.root}\n"
        "Re-check it as an observer who knows the published fingerprint:"
    )
    # soft_wrap: a command line to copy stays on one line
    console.print(
        f"  ivote verify {layout.record} --fingerprint {fingerprint}{test_flag}", soft_wrap=True
    )
    console.print("and as an auditor holding the ballot box and the signed paper-voter list:")
    console.print(
        f"  ivote verify {layout.record} --fingerprint {fingerprint} --ballot-box "
        f"{layout.ballot_box} --paper-voters {layout.signed_paper_voters}{test_flag}",
        soft_wrap=True,
    )
    console.print(
        f"Time: {total_seconds:.0f} s in {len(timings)} steps; slowest: "
        + ", ".join(f"{title.split(':')[0]} {s:.0f} s" for title, s in _slowest(timings))
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _slowest(timings: list[tuple[str, float]]) -> list[tuple[str, float]]:
    return sorted(timings, key=lambda item: -item[1])[:3]
