"""The tallier tests' election (tests/support/election.py): three districts, one with two
contests and one whose contest splits across two ciphertexts, three trustees of whom two
decrypt; the ballots are cast into a simulated collector log, exported as the collector's
ballot box (formats.ballotbox, formats.receipt, crypto.merkle)."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.election import (
    ElectionSpec,
    SmallElection,
    build_election,
    list_voters,
    make_pki,
    utc_now,
)

from canonical.encoding import DOMAINS, b64url, canonical_bytes
from crypto import merkle
from crypto.eid import KeySigner
from formats.ballot import ballot_hash
from formats.ballotbox import write_ballot_box
from formats.manifest import ElectionDirectory
from formats.receipt import LogHead, entry_leaf_hash
from formats.record import LogSnapshot
from formats.signed import sign_object

# district -> contest -> candidate numbers; "south" has two contests, "east" a contest that
# splits across two ciphertexts (max_voters 2^20 -> 21-bit digits, 511 // 21 = 24 per part).
DISTRICTS: dict[str, dict[str, list[int]]] = {
    "north": {"council": [101, 102, 103]},
    "south": {"council": [201, 202], "mayor": [211, 212, 213]},
    "east": {"council": list(range(301, 331))},
}
SPEC = ElectionSpec(
    "tally-test", "Tally test election", DISTRICTS, max_voters=2**20 - 1, trustees=3, threshold=2
)
VOTER_CODES = {
    "north": ["38001010001", "38001010002", "38001010003", "38001010004"],
    "south": ["48001010005", "48001010006", "48001010007"],
    "east": ["38001010008", "38001010009"],
}


@dataclass
class Cast:
    voter: str
    district: str
    choices: dict[str, int]  # contest -> candidate number
    signed: dict[str, Any]
    received: int


@dataclass
class TallyElection(SmallElection):
    """The election and the ballots cast so far, as the collector's log holds them."""

    casts: list[Cast] = field(default_factory=list)

    def moment(self, minutes: float) -> dt.datetime:
        return (self.start + dt.timedelta(minutes=minutes)).replace(microsecond=0)

    def at(self, minutes: float) -> int:
        """`minutes` into the election, in the log's milliseconds."""
        return int((self.start + dt.timedelta(minutes=minutes)).timestamp() * 1000)

    def cast(
        self,
        voter: str,
        choices: dict[str, int],
        minutes: float,
        *,
        district: str | None = None,
        signer: KeySigner | None = None,
    ) -> Cast:
        district = district or self.voters[voter].district
        signed, _ = self.ballot(voter, secrets.token_bytes(32), choices, district, signer)
        cast = Cast(voter, district, choices, signed, self.at(minutes))
        self.casts.append(cast)
        return cast

    def append_raw(self, signed: dict[str, Any], minutes: float, voter: str = "?") -> None:
        self.casts.append(Cast(voter, "", {}, signed, self.at(minutes)))

    def log(self) -> LogSnapshot:
        leaves = [entry_leaf_hash(ballot_hash(c.signed), c.received) for c in self.casts]
        head = LogHead(
            self.manifest.election_id,
            len(leaves),
            merkle.root_hash(leaves),
            max([c.received for c in self.casts], default=self.at(0)) + 1000,
        )
        document = sign_object(self.collector, DOMAINS["log_head"], head.to_dict())
        return LogSnapshot(document, tuple(leaves))


def make_election(root: Path, safe_primes: dict[int, tuple[int, int]]) -> TallyElection:
    """Open from two days ago for a week; nobody revoked yet."""
    now = utc_now()
    pki = make_pki(list_voters(VOTER_CODES), now)
    start, end = now - dt.timedelta(days=2), now + dt.timedelta(days=5)
    election = build_election(root, SPEC, pki, safe_primes[512], start, end)
    return TallyElection(**vars(election))


def write_box(election: TallyElection, path: Path) -> Path:
    """The collector's export of the casts so far (formats.ballotbox), receipts signed with
    the final head."""
    log = election.log()
    entries = []
    for index, cast in enumerate(election.casts):
        receipt = {
            "version": 1,
            "election_id": election.manifest.election_id,
            "ballot_hash": b64url(ballot_hash(cast.signed)),
            "log_index": index,
            "received": cast.received,
            "log_head": log.head,
        }
        signed_receipt = sign_object(election.collector, DOMAINS["receipt"], receipt)
        entries.append((index, canonical_bytes(cast.signed), canonical_bytes(signed_receipt)))
    lists = ElectionDirectory(election.directory).voter_lists(election.manifest)
    write_ballot_box(
        path, election.collector, election.manifest, entries, lists, log.head, election.at(5000)
    )
    return path
