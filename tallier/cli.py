"""`ivote tally`: the air-gapped tallier: process the ballot box, combine the decryption."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from i18n import _, ngettext
from ivote.cli_support import election_option, progress_bars

F = TypeVar("F", bound=Callable[..., Any])


def _clean_errors(command: F) -> F:
    """The project's errors become a one-line message and a non-zero exit, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from canonical.encoding import FormatError
        from crypto.errors import CryptoError
        from tallier.combine import CombineError
        from tallier.process import TallyError

        try:
            return command(*args, **kwargs)
        except (FormatError, CryptoError, TallyError, CombineError) as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


@click.group(name="tally", help=_("The air-gapped tallier."))
def tally() -> None:
    pass


@tally.command(
    name="process",
    help=_(
        "Check the ballot box and every ballot, keep the latest per voter, drop paper voters, "
        "shuffle, verify every proof and multiply the encrypted totals."
    ),
)
@election_option(
    _("The election directory (signed manifest, organiser.pem, voter lists, crls/).")
)
@click.option(
    "--ballot-box",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help=_("The collector's export (ballotbox.zip)."),
)
@click.option(
    "--paper-voters",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help=_(
        "The organiser-signed paper-voter list (`ivote ceremony paper-voters`, empty when "
        "nobody voted on paper): their i-votes are cancelled."
    ),
)
@click.option(
    "--crl",
    "crls",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help=_("An e-ID CA's CRL (default: every file in ELECTION/crls/)."),
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help=_(
        "The tally directory to write (tally.json, observers-bundle.json, counted-voters.json)."
    ),
)
@click.option("--workers", type=int, default=None, help=_("Processes (default: every core)."))
@_clean_errors
def process(
    election: Path,
    ballot_box: Path,
    paper_voters: Path,
    crls: tuple[Path, ...],
    out: Path,
    workers: int | None,
) -> None:
    from formats.record import TALLY_FILE, write_tally_dir
    from tallier.process import TallyError, process_ballot_box

    if (out / TALLY_FILE).exists():
        raise TallyError(
            _("{out} already holds a tally; refusing to overwrite it").format(out=out)
        )
    with progress_bars() as factory:
        outcome = process_ballot_box(
            election, ballot_box, paper_voters, list(crls), workers=workers, progress=factory
        )
    write_tally_dir(out, outcome.tally, outcome.bundle, outcome.counted_voters, outcome.crls)
    _print_report(outcome.report)
    click.echo(
        _(
            "Tally written to {out}. The list of voters whose i-vote counts ({voters}) is for "
            "the polling stations only: never publish it with the record."
        ).format(out=out, voters=out / "counted-voters.json")
    )
    click.echo(
        _(
            "Next, the trustees' decryption ceremony: ivote ceremony decrypt --tally {out} "
            "--ballot-box ... --paper-voters ... --fingerprint ... --share ... --out-dir SHARES"
        ).format(out=out)
    )


def report_table(
    report: Any, district_names: dict[str, str] | None = None, title: str | None = None
) -> Table:
    """The tally report's counts per district and in total, for people (the tally, the demo).
    `district_names` gives the rows' order and names (a district without ballots shows zeros);
    without it, the report's districts by id."""
    from formats.record import COUNT_FIELDS, COUNT_LABELS, Counts

    table = Table(title=title or _("Tally report"))
    table.add_column(_("district"))
    for name in COUNT_FIELDS:
        table.add_column(_(COUNT_LABELS[name]), justify="right")
    names = district_names or {d: d for d in sorted(report.districts)}
    for district, name in names.items():
        counts = report.districts.get(district, Counts())
        table.add_row(name, *(str(getattr(counts, n)) for n in COUNT_FIELDS))
    total = report.total
    table.add_row(_("total"), *(str(getattr(total, n)) for n in COUNT_FIELDS), style="bold")
    return table


def invalid_lines(report: Any) -> list[str]:
    """One line per reason a ballot was not counted, with how many."""
    from formats.record import REASON_LABELS

    reasons: dict[str, int] = {}
    for ballot in report.invalid_ballots:
        reasons[ballot.reason] = reasons.get(ballot.reason, 0) + 1
    return [
        _("invalid: {count} x {reason}").format(
            count=count, reason=_(REASON_LABELS.get(reason, reason))
        )
        for reason, count in sorted(reasons.items())
    ]


def _print_report(report: Any) -> None:
    Console().print(report_table(report))
    for line in invalid_lines(report):
        click.echo(line)


@tally.command(
    name="combine",
    help=_("Verify every decryption share, combine t valid ones, decode, write the record."),
)
@click.option(
    "--tally",
    "tally_path",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help=_("The tally directory from `ivote tally process`."),
)
@click.option(
    "--shares",
    "share_paths",
    required=True,
    multiple=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help=_("A trustee's decryption shares (from `ivote ceremony decrypt`); give at least t."),
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help=_("The record directory to write (record.json and the observers' bundle)."),
)
@_clean_errors
def combine(tally_path: Path, share_paths: tuple[Path, ...], out: Path) -> None:
    from formats.record import read_crls_next_to, read_shares, read_tally, write_record_dir
    from tallier.combine import combine_tally

    tally_doc = read_tally(tally_path)
    trustees = [read_shares(path) for path in share_paths]
    with progress_bars() as factory:
        combined = combine_tally(
            tally_doc, trustees, factory(_("checking trustees"), len(trustees))
        )
    for trustee, reason in sorted(combined.rejected.items()):
        click.echo(
            _("REJECTED trustee {trustee}: {reason}").format(trustee=trustee, reason=reason),
            err=True,
        )
    # the bundle file is copied, not parsed, when it is the one the tally names
    write_record_dir(
        out,
        combined.record,
        tally_path if tally_path.is_dir() else None,
        read_crls_next_to(tally_path),
    )
    _print_results(combined)
    click.echo(
        ngettext(
            "Decrypted with trustee {trustees}; record written to {out}",
            "Decrypted with trustees {trustees}; record written to {out}",
            len(combined.used),
        ).format(trustees=", ".join(map(str, combined.used)), out=out)
    )
    click.echo(
        _(
            "Publish {record}; observers check it with: ivote verify {out} --fingerprint ..."
        ).format(record=out / "record.json", out=out)
    )


def _print_results(combined: Any) -> None:
    manifest = combined.manifest
    console = Console()
    from formats.record import results_by_district

    for district_id, results in results_by_district(combined.record.decryption.results).items():
        district = manifest.district(district_id)
        for result in results:
            contest = district.contest(result.contest)
            console.print(
                _counts_table(f"{district.name} - {contest.name}", contest, result.counts)
            )
    for total in combined.record.decryption.national_results or ():
        contest = next(c for c in manifest.national_contests if c.id == total.contest)
        title = ngettext(
            "{contest} - national total, {count} ballot counted",
            "{contest} - national total, {count} ballots counted",
            total.counted_ballots,
        ).format(contest=contest.name, count=total.counted_ballots)
        console.print(_counts_table(title, contest, total.counts))


def _counts_table(title: str, contest: Any, counts: Any) -> Table:
    """A contest's counts: its candidates (a referendum's answers, under its question), then
    "vote no" in a row of its own; a choose-several contest's rule under its name, the
    ballots marking each candidate, and its blank ballots in a row of their own."""
    if contest.question is not None:
        title += f"\n{contest.question}"
    if contest.rule is not None:
        title += f"\n{contest.rule}"
    table = Table(title=title)
    table.add_column(_("no."), justify="right")
    if contest.is_referendum:
        table.add_column(_("answer"))
    else:
        table.add_column(_("candidate"))
        table.add_column(_("party"))
    table.add_column(
        _("ballots marking") if contest.choose_several else _("votes"), justify="right"
    )
    blank = None
    if contest.blank_allowed:  # a choose-several contest's last count: its blank ballots
        *counts, blank = counts
    for candidate, votes in zip(contest.options, counts, strict=True):
        party = () if contest.is_referendum else (str(candidate.party),)
        if candidate.is_vote_no:
            table.add_section()
            table.add_row("", str(candidate.name), *("" for _ in party), str(votes))
        else:
            table.add_row(str(candidate.number), str(candidate.name), *party, str(votes))
    if blank is not None:
        table.add_section()
        table.add_row("", _("Blank ballots (no candidate marked)"), "", str(blank))
    return table
