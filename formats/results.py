"""The results of an election, as people read them: one home for how they are read from a
record and for their two machine formats, JSON and CSV (docs/spec.md, "Results").

A record holds bare counts (`decryption.results`: per district and contest, the votes per
option in the contest's option order; `decryption.national_results`: a national contest's
totals over every district). This module pairs them with the manifest's names, in the
current language (i18n), and the tally report's counted ballots, and computes each option's
share. It says nothing about whether the record is genuine: the verifier decides that first
and shows results only of a record whose checks pass (verifier/results.py).

A contest is a list of options (candidates, parties or a referendum's answers) and, apart,
its "vote no" box, with the ballots it counted; the district is a property of the contest,
and a national contest's totals are a contest without one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from canonical.encoding import FormatError
from formats.manifest import VOTE_NO, Contest, Manifest, choose_rule, format_time
from formats.record import ContestResult, Counts, NationalResult, TallyReport
from i18n import N_, _

# The CSV's header row, in column order (docs/spec.md, "Results"); one row per option, and a
# choose-several contest's blank ballots in a row of their own (option empty).
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
# The CSV's district_name of a national contest's totals (its district is empty)
NATIONAL_TOTAL = N_("National total")
# The CSV's option_name of a choose-several contest's blank ballots (its option is empty)
BLANK_BALLOTS = N_("Blank ballots")


def share_percent(votes: int, counted: int) -> Decimal | None:
    """votes / counted * 100, rounded half up to two decimal places; None without ballots."""
    if counted <= 0:
        return None
    return (Decimal(votes) * 100 / Decimal(counted)).quantize(SHARE_PLACES, ROUND_HALF_UP)


@dataclass(frozen=True)
class OptionResult:
    """One option of a contest: a candidate, party or answer (number, name, party) or the
    "vote no" box (number VOTE_NO), and its votes."""

    number: int
    name: str
    party: str
    votes: int

    @property
    def is_vote_no(self) -> bool:
        return self.number == VOTE_NO


@dataclass(frozen=True)
class ContestResults:
    """One contest's results: its options in the manifest's order, its "vote no" box apart,
    and the ballots it counted (each holds exactly one vote in a 1-of-L contest; in a
    choose-several contest, `choose`, marks within its bounds or none: `blank`). `district`
    is empty for a national contest's totals over every district."""

    district: str
    district_name: str
    contest: str
    contest_name: str
    counted_ballots: int
    options: tuple[OptionResult, ...]  # the candidates (parties, answers), never "vote no"
    vote_no: OptionResult | None = None  # the "vote no" box, if the contest has one
    question: str | None = None  # a referendum's question
    national: bool = False  # a national contest (in a district, or its national totals)
    # A choose-several contest: how many candidates a ballot marks (min, max), and the blank
    # ballots where blank is allowed; an option's votes are the ballots that marked it.
    choose: tuple[int, int] | None = None
    blank: int | None = None

    @property
    def is_national_total(self) -> bool:
        return not self.district

    @property
    def is_referendum(self) -> bool:
        return self.question is not None

    @property
    def rows(self) -> tuple[OptionResult, ...]:
        """Every option as shown: the candidates, then "vote no"."""
        return self.options + ((self.vote_no,) if self.vote_no is not None else ())

    @property
    def votes(self) -> int:
        """The candidates' (answers') votes; "vote no" is not a vote for any of them."""
        return sum(option.votes for option in self.options)

    @property
    def choose_several(self) -> bool:
        """Each ballot marks between choose[0] and choose[1] candidates: an option's votes are
        the ballots that marked it."""
        return self.choose is not None

    @property
    def rule(self) -> str | None:
        """How many candidates a ballot marks, as people read it (None: exactly one)."""
        if self.choose is None:
            return None
        return choose_rule(self.choose[0], self.choose[1], len(self.options))

    @property
    def blank_share(self) -> Decimal | None:
        return None if self.blank is None else share_percent(self.blank, self.counted_ballots)

    def share(self, option: OptionResult) -> Decimal | None:
        return share_percent(option.votes, self.counted_ballots)

    def to_dict(self) -> dict[str, Any]:
        where = (
            {}
            if self.is_national_total
            else {"district": self.district, "district_name": self.district_name}
        )
        # the new keys are written only when they apply: other elections keep their output
        head: dict[str, Any] = {
            **where,
            "contest": self.contest,
            "contest_name": self.contest_name,
            **({"question": self.question} if self.question is not None else {}),
            **({"national": True} if self.national and not self.is_national_total else {}),
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
        if self.vote_no is not None:
            head["vote_no"] = {
                "name": self.vote_no.name,
                "votes": self.vote_no.votes,
                "share": _share_number(self.share(self.vote_no)),
            }
        if self.choose is not None:
            head["choose"] = {"min": self.choose[0], "max": self.choose[1]}
        if self.blank is not None:
            head["blank_ballots"] = {
                "ballots": self.blank,
                "share": _share_number(self.blank_share),
            }
        return head


@dataclass(frozen=True)
class ElectionResults:
    election_id: str
    name: str
    period_start: datetime
    period_end: datetime
    manifest_fingerprint: str
    contests: tuple[ContestResults, ...]
    national: tuple[ContestResults, ...] = ()  # the national contests' totals

    def districts(self) -> list[tuple[str, str, list[ContestResults]]]:
        """(district id, name, its contests) in the manifest's order, for grouped display."""
        grouped: dict[str, tuple[str, str, list[ContestResults]]] = {}
        for contest in self.contests:
            entry = grouped.setdefault(
                contest.district, (contest.district, contest.district_name, [])
            )
            entry[2].append(contest)
        return list(grouped.values())

    @property
    def has_vote_no(self) -> bool:
        return any(contest.vote_no is not None for contest in self.contests)

    @property
    def has_choose_several(self) -> bool:
        return any(contest.choose_several for contest in self.contests)

    def to_dict(self) -> dict[str, Any]:
        body = {
            "election_id": self.election_id,
            "name": self.name,
            "period": {
                "start": format_time(self.period_start),
                "end": format_time(self.period_end),
            },
            "manifest_fingerprint": self.manifest_fingerprint,
            "contests": [contest.to_dict() for contest in self.contests],
        }
        if self.national:
            body["national"] = [contest.to_dict() for contest in self.national]
        return body

    def csv_rows(self) -> Iterator[list[str]]:
        """The CSV's rows after the header (CSV_COLUMNS): one per option of every contest,
        "vote no" after the candidates, a choose-several contest's blank ballots after its
        candidates (option empty), then the national totals (district empty)."""
        for contest in self.contests + self.national:
            rows = [
                (str(option.number), option.name, option.party, option.votes, contest.share(option))
                for option in contest.rows
            ]
            if contest.blank is not None:
                rows.append(("", _(BLANK_BALLOTS), "", contest.blank, contest.blank_share))
            for number, name, party, votes, share in rows:
                yield [
                    self.election_id,
                    contest.district,
                    contest.district_name,
                    contest.contest,
                    contest.contest_name,
                    number,
                    name,
                    party,
                    str(votes),
                    "" if share is None else str(share),
                    str(contest.counted_ballots),
                ]


def _share_number(share: Decimal | None) -> float | None:
    # two decimals survive the float: json writes the shortest repr, e.g. 33.33
    return None if share is None else float(share)


def _contest_results(
    contest: Contest, counts: Sequence[int], counted: int, district: str, district_name: str
) -> ContestResults:
    blank = counts[-1] if contest.blank_allowed else None
    options = tuple(
        OptionResult(c.number, str(c.name), str(c.party), votes)
        for c, votes in zip(contest.options, counts[: len(contest.options)], strict=True)
    )
    vote_no = options[-1] if contest.vote_no else None
    return ContestResults(
        district,
        district_name,
        contest.id,
        str(contest.name),
        counted,
        options[:-1] if contest.vote_no else options,
        vote_no,
        None if contest.question is None else str(contest.question),
        contest.national,
        (contest.min_marks, contest.max_marks) if contest.choose_several else None,
        blank,
    )


def election_results(
    manifest: Manifest,
    report: TallyReport | Mapping[str, Any],
    results: Sequence[ContestResult],
    national_results: Sequence[NationalResult] | None = None,
) -> ElectionResults:
    """The results of a record: its manifest (parsed), its tally report, its
    `decryption.results` and its `decryption.national_results`; names in the current
    language. A result missing for a contest of the manifest, or with another number of
    counts than the contest has options, is a FormatError (the verifier's `results` and
    `national-results` checks report it first)."""
    if not isinstance(report, TallyReport):
        report = TallyReport.from_dict(report)
    recorded = {(r.district, r.contest): r.counts for r in results}
    contests = []
    for district, contest in manifest.contests():
        counts = recorded.get((district.id, contest.id))
        where = f"decryption.results {district.id}/{contest.id}"
        if counts is None:
            raise FormatError(where, "missing")
        if len(counts) != contest.counts_size:
            raise FormatError(where, f"{len(counts)} counts for {contest.counts_size} options")
        counted = report.districts.get(district.id, Counts()).counted
        contests.append(
            _contest_results(contest, counts, counted, district.id, str(district.name))
        )
    totals = {r.contest: r for r in national_results or ()}
    national = []
    for contest in manifest.national_contests:
        total = totals.get(contest.id)
        where = f"decryption.national_results {contest.id}"
        if total is None:
            raise FormatError(where, "missing")
        if len(total.counts) != contest.counts_size:
            raise FormatError(
                where, f"{len(total.counts)} counts for {contest.counts_size} options"
            )
        national.append(
            _contest_results(
                contest, total.counts, total.counted_ballots, "", _(NATIONAL_TOTAL)
            )
        )
    return ElectionResults(
        manifest.election_id,
        str(manifest.name),
        manifest.period.start,
        manifest.period.end,
        manifest.fingerprint,
        tuple(contests),
        tuple(national),
    )
