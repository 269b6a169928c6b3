"""The terminal's view of a verification and its results (`ivote verify`, `ivote results
--format table`) and the results' CSV. Hashes are never shortened: they are printed outside
tables, in groups of four hex digits, so that a narrow terminal wraps them between groups."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from formats.results import CSV_COLUMNS, ContestResults, ElectionResults
from i18n import N_, _, format_datetime, ngettext
from verifier.record import TITLES
from verifier.results import STATUS_TEXT, Outcome

# said once under the results when a contest lets a ballot mark several candidates
MARKS_NOTE = N_(
    "Where a ballot may mark several candidates, each candidate's count is the number of "
    "ballots that marked them and its share is of the ballots counted, so the shares may add "
    "up to more than 100 %; blank ballots marked no candidate."
)
STYLE = {"pass": "green", "fail": "bold red", "not made": "yellow"}


def share_text(share: object) -> str:
    return "–" if share is None else f"{share} %"


def print_verification(path: Path, found: Outcome, console: Console | None = None) -> None:
    """Every check, the fingerprints, the results the checks establish, and the verdict."""
    console = console or Console()
    verdict = found.verdict
    table = Table(title=_("Verification of {path}").format(path=path))
    table.add_column(_("check"), overflow="fold")
    table.add_column(_("result"), overflow="fold")
    table.add_column(_("details"), overflow="fold")
    for check in verdict.checks:
        details = "\n".join([check.detail, *check.problems]) if check.problems else check.detail
        table.add_row(
            _(TITLES[check.id]),
            f"[{STYLE[check.status]}]{_(STATUS_TEXT[check.status])}[/]",
            Text(details),
        )
    console.print(table)
    passed = found.passed
    summary = _("{passed} passed, {failed} failed, {not_made} not made").format(
        passed=passed, failed=len(verdict.failed), not_made=len(verdict.not_made)
    )
    if verdict.not_made:
        summary += " " + _("(for want of material: {ids})").format(
            ids=", ".join(c.id for c in verdict.not_made)
        )
    console.print(summary)
    print_fingerprints(found, console)
    if found.results is not None:
        print_results(found.results, console)
    console.print()
    style = "bold green" if found.established else ("bold red" if verdict.failed else "yellow")
    console.print(Text(found.line(), style=style))


def print_fingerprints(found: Outcome, console: Console) -> None:
    console.print()
    console.print(Text(_("Fingerprints (compare them with the published ones):"), style="bold"))
    for fingerprint in found.fingerprints():
        console.print(f"  {_(fingerprint.label)}:")
        groups = fingerprint.grouped.split(" ")
        half = (len(groups) + 1) // 2
        # two lines of eight groups: fits 45 columns; narrower, the terminal wraps at a space
        for line in (groups[:half], groups[half:]):
            console.print(Text("    " + " ".join(line)))
    if not found.anchored and found.verdict.facts.manifest is not None:
        console.print(
            _(
                "The manifest was not compared with the published fingerprint: compare it, "
                "or pass --fingerprint or --organiser-cert."
            )
        )


def print_results(results: ElectionResults, console: Console) -> None:
    """One table per contest of a district's own, grouped by district, in the manifest's
    order; then the national contests' totals over every district. A national contest's
    counts per district (a 68-row party list in each of 400 constituencies) are left to the
    CSV, JSON and HTML: a terminal shows its totals once."""
    if results.has_choose_several:
        console.print()
        console.print(Text(_(MARKS_NOTE), style="dim"))
    for _district, district_name, contests in results.districts():
        console.print()
        console.print(Text(_("District: {name}").format(name=district_name), style="bold"))
        for contest in contests:
            if not contest.national:
                console.print(contest_table(contest))
        national = [contest.contest_name for contest in contests if contest.national]
        if national:
            console.print(
                Text(
                    _(
                        "{contests}: this district's counts are in the CSV, JSON and HTML "
                        "results; their totals follow."
                    ).format(contests=", ".join(national)),
                    style="dim",
                )
            )
    if results.national:
        console.print()
        console.print(Text(_("National totals (every district)"), style="bold"))
        for contest in results.national:
            console.print(contest_table(contest))


def contest_table(contest: ContestResults) -> Table:
    """A contest's votes: its candidates (a referendum's answers, under its question), then
    "vote no" in a row of its own, apart. A choose-several contest says its rule under its
    name, counts the ballots marking each candidate, and its blank ballots in a row apart."""
    title = contest.contest_name
    if contest.question is not None:
        title += "\n" + contest.question
    if contest.rule is not None:
        title += "\n" + contest.rule
    table = Table(
        title=title,
        caption=ngettext(
            "{count} ballot counted", "{count} ballots counted", contest.counted_ballots
        ).format(count=contest.counted_ballots),
        title_justify="left",
        caption_justify="left",
    )
    table.add_column(_("No."), justify="right", overflow="fold")
    if contest.is_referendum:
        table.add_column(_("Answer"), overflow="fold")
    else:
        table.add_column(_("Candidate"), overflow="fold")
        table.add_column(_("Party"), overflow="fold")
    votes = _("Ballots marking") if contest.choose_several else _("Votes")
    table.add_column(votes, justify="right", overflow="fold")
    table.add_column(_("Share"), justify="right", overflow="fold")
    for option in contest.options:
        party = () if contest.is_referendum else (Text(option.party),)
        table.add_row(
            str(option.number),
            Text(option.name),
            *party,
            str(option.votes),
            share_text(contest.share(option)),
        )
    if contest.vote_no is not None:
        table.add_section()
        party = () if contest.is_referendum else ("",)
        table.add_row(
            "",
            Text(contest.vote_no.name),
            *party,
            str(contest.vote_no.votes),
            share_text(contest.share(contest.vote_no)),
        )
    if contest.blank is not None:
        table.add_section()
        table.add_row(
            "",
            Text(_("Blank ballots (no candidate marked)")),
            "",
            str(contest.blank),
            share_text(contest.blank_share),
        )
    return table


def print_results_table(found: Outcome, console: Console | None = None) -> None:
    """`ivote results --format table`: the election, its results, the verdict."""
    console = console or Console()
    results = found.results
    assert results is not None
    console.print(Text(results.name, style="bold"))
    organiser = found.organiser()
    if organiser:
        console.print(_("Organiser: {name}").format(name=organiser))
    console.print(
        _("Voting period: {start} to {end}").format(
            start=format_datetime(results.period_start), end=format_datetime(results.period_end)
        )
    )
    print_results(results, console)
    print_fingerprints(found, console)
    console.print()
    console.print(Text(found.line(), style="bold green"))


def results_table_text(found: Outcome) -> str:
    """print_results_table as plain text, for --out."""
    buffer = io.StringIO()
    print_results_table(found, Console(file=buffer, width=100, color_system=None))
    return buffer.getvalue()


def results_csv(results: ElectionResults) -> str:
    """The CSV (docs/spec.md, "Results"): a header row of CSV_COLUMNS, then one row per
    option; RFC 4180 (comma, double quotes, CRLF line ends), UTF-8."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(results.csv_rows())
    return buffer.getvalue()
