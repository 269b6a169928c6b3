"""The demo's outcome: the election record's results and tally report, compared with what the
simulated voters did in every contest of every district ("vote no" included), and printed per
district, with the national contests' totals over all districts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from formats.record import (
    Counts,
    ElectionRecord,
    TallyReport,
    read_record_document,
)
from i18n import _, ngettext
from ivote.demo.scenario import KIND_ANSWERS, KIND_CANDIDATES, KIND_PARTIES, Plan, SimContest
from tallier.cli import invalid_lines, report_table

if TYPE_CHECKING:
    from ivote.demo.runner import Layout


EXPECTED_FILE = "expected-results.json"

ResultKey = tuple[str, str]  # (district id, contest id)


@dataclass(frozen=True)
class Expected:
    """What the record must say, from the simulated voters' own choices: per district and
    contest, votes per option (the manifest's order, "vote no" last), and per district the
    tally report's counts."""

    results: dict[str, dict[str, list[int]]]
    counts: dict[str, Counts]

    def to_dict(self) -> dict[str, Any]:
        return {
            "results": self.results,
            "report": {district: c.to_dict() for district, c in self.counts.items()},
        }

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> Expected:
        return cls(
            {
                district: {contest: list(counts) for contest, counts in contests.items()}
                for district, contests in obj["results"].items()
            },
            {d: Counts.from_dict(c, f"report.{d}") for d, c in obj["report"].items()},
        )

    def result_keys(self) -> list[ResultKey]:
        return [(d, c) for d, contests in self.results.items() for c in contests]


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
    results: dict[ResultKey, tuple[int, ...]]  # (district, contest) -> decrypted counts
    report: TallyReport
    compared: list[ResultKey] = field(default_factory=list)  # every one the voters chose in
    problems: list[str] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return not self.problems


def _labels(plan: Plan | None) -> tuple[dict[str, str], dict[ResultKey, str]]:
    """People's names of the districts and of each (district, contest), from the plan."""
    if plan is None:
        return {}, {}
    districts = {district.id: str(district.name) for district in plan.districts}
    contests = {
        (district.id, contest.id): f"{district.name} — {contest.name}"
        for district, contest in plan.contests()
    }
    return districts, contests


def compare(expected: Expected, record_dir: Path, plan: Plan | None = None) -> Comparison:
    """The record's results and report against the expected ones, for every contest of every
    district; every difference named (by the plan's names, else by id)."""
    record = ElectionRecord.from_dict(read_record_document(record_dir))
    report = TallyReport.from_dict(record.tally.report)
    results = {(r.district, r.contest): r.counts for r in record.decryption.results}
    comparison = Comparison(results, report)
    district_names, contest_names = _labels(plan)
    for key in expected.result_keys():
        district, contest = key
        name = contest_names.get(key, f"{district}/{contest}")
        found = results.get(key)
        wanted = expected.results[district][contest]
        comparison.compared.append(key)
        if found is None:
            comparison.problems.append(_("{name}: no result in the record").format(name=name))
        elif list(found) != wanted:
            comparison.problems.append(
                _("{name}: the record says {found}, the voters chose {wanted}").format(
                    name=name, found=list(found), wanted=wanted
                )
            )
    for key in sorted(set(results) - set(comparison.compared)):
        comparison.problems.append(
            _(
                "the record has a result for {contest} in {district}, which is not on its ballot"
            ).format(contest=repr(key[1]), district=repr(key[0]))
        )
    for district in expected.results:
        name = district_names.get(district, district)
        reported = report.districts.get(district, Counts())
        should = expected.counts.get(district, Counts())
        if reported != should:
            comparison.problems.append(
                _("{name}: the tally report says {reported}, expected {expected}").format(
                    name=name, reported=reported.to_dict(), expected=should.to_dict()
                )
            )
    for other in sorted(set(report.districts) - set(expected.results)):
        if report.districts[other] != Counts():
            comparison.problems.append(
                _("the tally report has ballots under {district}").format(district=repr(other))
            )
    return comparison


def _summed(rows: Iterable[tuple[int, ...] | list[int] | None]) -> list[int] | None:
    """Element-wise sum of per-district counts; None when a district has none (or a count
    of another length: the comparison names that)."""
    total: list[int] | None = None
    for counts in rows:
        if counts is None or (total is not None and len(counts) != len(total)):
            return None
        if total is None:
            total = list(counts)
        else:
            total = [a + b for a, b in zip(total, counts, strict=True)]
    return total


def contest_table(title: str, contest: SimContest, found: Any, wanted: list[int]) -> Table:
    """One contest's decrypted votes beside the voters' last choices, a row per option; a
    party list leaves out the parties nobody chose (a caption says how many)."""
    referendum = contest.kind == KIND_ANSWERS
    caption = str(contest.contest.question) if referendum else None
    table = Table(
        title=escape(title), title_justify="left", caption=caption, caption_justify="left"
    )
    table.add_column(_("no."), justify="right")
    table.add_column(
        {KIND_CANDIDATES: _("candidate"), KIND_PARTIES: _("party"), KIND_ANSWERS: _("answer")}[
            contest.kind
        ]
    )
    if contest.kind == KIND_CANDIDATES:
        table.add_column(_("party"))
    several = contest.contest.choose_several
    if several:  # the rule under the title; each count is the ballots marking the candidate
        table.title = escape(f"{title}\n{contest.contest.rule}")
    table.add_column(_("ballots marking") if several else _("votes"), justify="right", style="bold")
    table.add_column(_("voters' last choices"), justify="right")
    hidden = 0
    for position, option in enumerate(contest.contest.options):
        votes = found[position] if found is not None and position < len(found) else None
        chosen = wanted[position]
        if contest.kind == KIND_PARTIES and not option.is_vote_no and votes == chosen == 0:
            hidden += 1
            continue
        row = ["" if option.is_vote_no else str(option.number), str(option.name)]
        if contest.kind == KIND_CANDIDATES:
            row.append("" if option.is_vote_no else str(option.party) or _("independent"))
        row += ["-" if votes is None else str(votes), str(chosen)]
        style = "bold red" if votes != chosen else ("italic" if option.is_vote_no else "")
        table.add_row(*map(escape, row), style=style)
    if contest.contest.blank_allowed:  # the last count: the ballots marking nobody
        position = len(contest.contest.options)
        votes = found[position] if found is not None and position < len(found) else None
        chosen = wanted[position]
        row = ["", _("Blank ballots (no candidate marked)"), ""]
        row += ["-" if votes is None else str(votes), str(chosen)]
        table.add_section()
        table.add_row(*map(escape, row), style="bold red" if votes != chosen else "italic")
    if hidden:
        table.caption = ngettext(
            "{count} party nobody chose is not shown",
            "{count} parties nobody chose are not shown",
            hidden,
        ).format(count=hidden)
    return table


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
        for contest in district.contests:
            console.print(
                contest_table(
                    f"{district.name} — {contest.name}",
                    contest,
                    comparison.results.get((district.id, contest.id)),
                    expected.results[district.id][contest.id],
                )
            )
    # a national contest once, its votes added up over every district's ballots
    for contest in plan.national:
        wanted = _summed(expected.results[d.id][contest.id] for d in plan.districts)
        assert wanted is not None
        console.print(
            contest_table(
                ngettext(
                    "{contest}, the {count} district together",
                    "{contest}, the {count} districts together",
                    len(plan.districts),
                ).format(contest=contest.name, count=len(plan.districts)),
                contest,
                _summed(comparison.results.get((d.id, contest.id)) for d in plan.districts),
                wanted,
            )
        )

    console.print(
        report_table(
            comparison.report,
            {d.id: str(d.name) for d in plan.districts},
            _("Tally report (what happened to every ballot received)"),
        )
    )
    for line in invalid_lines(comparison.report):
        console.print(line)
    total = comparison.report.total

    paper = len([c for c in plan.paper_voters if plan.casts.get(c)])
    revotes = plan.cast_count() - len(plan.casts)
    compared = len(comparison.compared)
    if any(contest.contest.vote_no for _district, contest in plan.contests()):
        console.print(
            ngettext(
                "{count} result compared: every contest of every district, "
                "\"vote no\" included",
                "{count} results compared: every contest of every district, "
                "\"vote no\" included",
                compared,
            ).format(count=compared)
        )
    else:
        console.print(
            ngettext(
                "{count} result compared: every contest of every district",
                "{count} results compared: every contest of every district",
                compared,
            ).format(count=compared)
        )
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
            console.print(f"  [red]{escape(problem)}[/]")
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
