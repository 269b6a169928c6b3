"""A decrypted record of the council test election (tests/support/election.py COUNCIL_SPEC):
per ward a mayor (1 of 3) and a council where each voter marks up to 3 candidates or none,
through the real commands (tally_helpers.tally_and_combine). The voters' final choices are
written down here, so that the tests compute every expected number themselves."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.election import COUNCIL_SPEC, build_council_election
from tally_election import TallyElection, write_box
from tally_helpers import tally_and_combine

WARD = {"v1": "ward-1", "v2": "ward-1", "v3": "ward-1", "v4": "ward-2", "v5": "ward-2"}
# Each voter's ballots in the order cast: (choices, minutes into the election). v1 revotes.
BALLOTS: list[tuple[str, dict[str, Any], float]] = [
    ("v1", {"mayor": 1, "council": frozenset({11, 12, 13})}, 10),
    ("v2", {"mayor": 2, "council": frozenset()}, 11),
    ("v3", {"mayor": 2, "council": frozenset({13, 15})}, 12),
    ("v4", {"mayor": 3, "council": frozenset({24})}, 13),
    ("v5", {"mayor": 1, "council": frozenset()}, 14),
    ("v1", {"mayor": 3, "council": frozenset({12, 13})}, 15),
]


@dataclass
class CouncilRecord:
    election: TallyElection
    root: Path
    box: Path
    tally: Path
    record: Path
    combined: str  # what `ivote tally combine` printed
    final: dict[str, dict[str, Any]]  # each voter's last choices

    def record_doc(self) -> dict[str, Any]:
        return json.loads((self.record / "record.json").read_text())

    def bundle_doc(self) -> dict[str, Any]:
        return json.loads((self.record / "observers-bundle.json").read_text())

    def expected(self, district: str, contest: str) -> list[int]:
        """A ward's counts, from the voters' last choices: for the mayor the votes per
        candidate; for the council the ballots marking each candidate, then the blank ones."""
        numbers = COUNCIL_SPEC.districts[district][contest]
        chosen = [c[contest] for v, c in self.final.items() if WARD[v] == district]
        if contest == "mayor":
            return [chosen.count(number) for number in numbers]
        marks = [sum(number in marked for marked in chosen) for number in numbers]
        return [*marks, sum(not marked for marked in chosen)]


def build_council_record(root: Path, safe_primes: dict) -> CouncilRecord:
    election = TallyElection(**vars(build_council_election(root, safe_primes[512])))
    final: dict[str, dict[str, Any]] = {}
    for voter, choices, minutes in BALLOTS:
        election.cast(voter, choices, minutes)
        final[voter] = choices
    box = write_box(election, root / "ballotbox.zip")
    paper = election.write_paper_voters([], root / "paper-voters.signed.json")
    tally, _shares, record, output = tally_and_combine(election, root, box, paper, (1,))
    return CouncilRecord(election, root, box, tally, record, output, final)
