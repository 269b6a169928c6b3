"""The results of an election, as people read them: one home for how they are read from a
record and for their two machine formats, JSON and CSV (docs/spec.md, "Results").

A record holds bare counts (`decryption.results`: per district and contest, the votes per
candidate in the manifest's candidate order). This module pairs them with the manifest's
names and the tally report's counted ballots and computes each option's share. It says
nothing about whether the record is genuine: the verifier decides that first and shows
results only of a record whose checks pass (verifier/results.py).

A contest is a list of options (candidates today) with the ballots it counted; the district
is a property of the contest, so that a contest spanning districts only needs another way to
fill it in.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from canonical.encoding import FormatError
from formats.manifest import Manifest, format_time
from formats.record import ContestResult, Counts, TallyReport

# The CSV's header row, in column order (docs/spec.md, "Results"); one row per option.
CSV_COLUMNS = (
    "election_id",
    "district",
    "district_name",
    "contest",
    "contest_name",
    "option",
    "option_name",
    "party",
    "votes",
    "share_percent",
    "counted_ballots",
)
SHARE_PLACES = Decimal("0.01")


def share_percent(votes: int, counted: int) -> Decimal | None:
    """votes / counted * 100, rounded half up to two decimal places; None without ballots."""
    if counted <= 0:
        return None
    return (Decimal(votes) * 100 / Decimal(counted)).quantize(SHARE_PLACES, ROUND_HALF_UP)


@dataclass(frozen=True)
class OptionResult:
    """One option of a contest: a candidate (number, name, party) and its votes."""

    number: int
    name: str
    party: str
    votes: int


@dataclass(frozen=True)
class ContestResults:
    """One contest's results: its options in the manifest's order and the ballots it counted
    (the ballots counted in its district: each holds exactly one vote in each contest)."""

    district: str
    district_name: str
    contest: str
    contest_name: str
    counted_ballots: int
    options: tuple[OptionResult, ...]

    @property
    def votes(self) -> int:
        return sum(option.votes for option in self.options)

    def share(self, option: OptionResult) -> Decimal | None:
        return share_percent(option.votes, self.counted_ballots)

    def to_dict(self) -> dict[str, Any]:
        return {
            "district": self.district,
            "district_name": self.district_name,
            "contest": self.contest,
            "contest_name": self.contest_name,
            "counted_ballots": self.counted_ballots,
            "votes": self.votes,
            "options": [
                {
                    "number": option.number,
                    "name": option.name,
                    "party": option.party,
                    "votes": option.votes,
                    "share": _share_number(self.share(option)),
                }
                for option in self.options
            ],
        }


@dataclass(frozen=True)
class ElectionResults:
    election_id: str
    name: str
    period_start: datetime
    period_end: datetime
    manifest_fingerprint: str
    contests: tuple[ContestResults, ...]

    def districts(self) -> list[tuple[str, str, list[ContestResults]]]:
        """(district id, name, its contests) in the manifest's order, for grouped display."""
        grouped: dict[str, tuple[str, str, list[ContestResults]]] = {}
        for contest in self.contests:
            entry = grouped.setdefault(
                contest.district, (contest.district, contest.district_name, [])
            )
            entry[2].append(contest)
        return list(grouped.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "election_id": self.election_id,
            "name": self.name,
            "period": {
                "start": format_time(self.period_start),
                "end": format_time(self.period_end),
            },
            "manifest_fingerprint": self.manifest_fingerprint,
            "contests": [contest.to_dict() for contest in self.contests],
        }

    def csv_rows(self) -> Iterator[list[str]]:
        """The CSV's rows after the header (CSV_COLUMNS): one per option of every contest."""
        for contest in self.contests:
            for option in contest.options:
                share = contest.share(option)
                yield [
                    self.election_id,
                    contest.district,
                    contest.district_name,
                    contest.contest,
                    contest.contest_name,
                    str(option.number),
                    option.name,
                    option.party,
                    str(option.votes),
                    "" if share is None else str(share),
                    str(contest.counted_ballots),
                ]


def _share_number(share: Decimal | None) -> float | None:
    # two decimals survive the float: json writes the shortest repr, e.g. 33.33
    return None if share is None else float(share)


def election_results(
    manifest: Manifest, report: TallyReport | Mapping[str, Any], results: Sequence[ContestResult]
) -> ElectionResults:
    """The results of a record: its manifest (parsed), its tally report and its
    `decryption.results`. A result missing for a contest of the manifest, or with another
    number of counts than the contest has candidates, is a FormatError (the verifier's
    `results` check reports it first)."""
    if not isinstance(report, TallyReport):
        report = TallyReport.from_dict(report)
    recorded = {(r.district, r.contest): r.counts for r in results}
    contests = []
    for district, contest in manifest.contests():
        counts = recorded.get((district.id, contest.id))
        where = f"decryption.results {district.id}/{contest.id}"
        if counts is None:
            raise FormatError(where, "missing")
        if len(counts) != len(contest.options):
            raise FormatError(where, f"{len(counts)} counts for {len(contest.options)} options")
        contests.append(
            ContestResults(
                district.id,
                str(district.name),
                contest.id,
                str(contest.name),
                report.districts.get(district.id, Counts()).counted,
                tuple(
                    OptionResult(c.number, str(c.name), str(c.party), votes)
                    for c, votes in zip(contest.options, counts, strict=True)
                ),
            )
        )
    return ElectionResults(
        manifest.election_id,
        str(manifest.name),
        manifest.period.start,
        manifest.period.end,
        manifest.fingerprint,
        tuple(contests),
    )
