"""A decrypted record of the Thai test election (tests/support/election.py THAI_SPEC): two
constituencies with "vote no", the national party list with "vote no" and the national
referendum, through the real commands (tally_helpers.tally_and_combine). The voters' final
choices are written down here, so that the tests compute every expected number themselves."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.election import THAI_VOTERS, build_thai_election
from tally_election import TallyElection, write_box
from tally_helpers import tally_and_combine

from formats.manifest import VOTE_NO

K1A, K1B, K2A, K2B = THAI_VOTERS  # two voters in khet-1, then two in khet-2
# Each voter's ballots in the order cast: (choices, minutes into the election). K1A revotes.
BALLOTS: list[tuple[str, dict[str, int], float]] = [
    (K1A, {"mp": 1, "party-list": VOTE_NO, "referendum": 1}, 10),
    (K1B, {"mp": 2, "party-list": 2, "referendum": 1}, 11),
    (K2A, {"mp": VOTE_NO, "party-list": VOTE_NO, "referendum": 3}, 12),
    (K2B, {"mp": 3, "party-list": 4, "referendum": 1}, 13),
    (K1A, {"mp": VOTE_NO, "party-list": 2, "referendum": 2}, 14),
]
# The options of each contest in the order the record counts them ("vote no" last)
OPTIONS = {"mp": [1, 2, 3, VOTE_NO], "party-list": [1, 2, 3, 4, VOTE_NO], "referendum": [1, 2, 3]}
NATIONAL = ("party-list", "referendum")


@dataclass
class ThaiRecord:
    election: TallyElection
    root: Path
    box: Path
    tally: Path
    record: Path
    combined: str  # what `ivote tally combine` printed
    final: dict[str, dict[str, int]]  # each voter's last choices

    def record_doc(self) -> dict[str, Any]:
        return json.loads((self.record / "record.json").read_text())

    def expected(self, district: str, contest: str) -> list[int]:
        """A district's votes per option, counted here from the voters' last choices."""
        chosen = [
            choices[contest]
            for voter, choices in self.final.items()
            if THAI_VOTERS[voter] == district
        ]
        return [chosen.count(option) for option in OPTIONS[contest]]

    def expected_national(self, contest: str) -> list[int]:
        chosen = [choices[contest] for choices in self.final.values()]
        return [chosen.count(option) for option in OPTIONS[contest]]


def build_thai_record(root: Path, safe_primes: dict) -> ThaiRecord:
    election = TallyElection(**vars(build_thai_election(root, safe_primes[512])))
    final: dict[str, dict[str, int]] = {}
    for voter, choices, minutes in BALLOTS:
        election.cast(voter, choices, minutes)
        final[voter] = choices
    box = write_box(election, root / "ballotbox.zip")
    paper = election.write_paper_voters([], root / "paper-voters.signed.json")
    tally, _shares, record, output = tally_and_combine(election, root, box, paper, (1,))
    return ThaiRecord(election, root, box, tally, record, output, final)
