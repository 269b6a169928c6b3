"""A real small election for the tallier's tests, made with the other roles' library code:
test PKI and e-IDs (ceremonies.pki), election init and key ceremony with fixture primes
(ceremonies), ballots built and signed as the voter app does (formats.ballot, formats.signed),
and the collector's log entries and signed head (formats.receipt, crypto.merkle)."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding

from ceremonies.election import init_election
from ceremonies.keygen import run_keygen
from ceremonies.pki import (
    Revocation,
    make_crl,
    make_eid,
    make_intermediate_ca,
    make_official,
    make_root_ca,
)
from crypto import merkle
from crypto.eid import KeySigner
from formats.ballot import ballot_hash, build_ballot
from formats.canonical import DOMAINS
from formats.manifest import ElectionDirectory, Manifest
from formats.receipt import LogHead, entry_leaf_hash
from formats.record import LogSnapshot
from formats.signed import sign_object
from formats.voters import Voter
from tallier.process import BoxEntry

FIXTURE_PRIMES = Path(__file__).parents[1] / "fixtures" / "safe_primes.json"
TRUSTEES, THRESHOLD = 3, 2
SCRYPT_COST = 1024


def trustee_passphrase(index: int) -> str:
    return f"trustee {index} passphrase"


# district -> contest -> candidate numbers; "south" has two contests, "east" a contest that
# splits across two ciphertexts (max_voters 2^20 -> 21-bit digits, 511 // 21 = 24 per part).
DISTRICTS: dict[str, dict[str, list[int]]] = {
    "north": {"council": [101, 102, 103]},
    "south": {"council": [201, 202], "mayor": [211, 212, 213]},
    "east": {"council": list(range(301, 331))},
}
MAX_VOTERS = 2**20 - 1


def definition_toml(start: dt.datetime, end: dt.datetime) -> str:
    lines = [
        "[election]",
        'id = "tally-test"',
        'name = "Tally test election"',
        f"start = {start.isoformat(timespec='seconds')}",
        f"end = {end.isoformat(timespec='seconds')}",
        f"max_voters = {MAX_VOTERS}",
        "key_bits = 512",
        f"trustees = {TRUSTEES}",
        f"threshold = {THRESHOLD}",
        "",
        "[trust]",
        'eid_ca_certificates = ["root.pem", "issuing.pem"]',
        'collector_certificates = ["collector.pem"]',
        "",
    ]
    for district, contests in DISTRICTS.items():
        lines += ["[[districts]]", f'id = "{district}"', f'name = "{district.title()}"', ""]
        for contest, numbers in contests.items():
            lines += ["[[districts.contests]]", f'id = "{contest}"', f'name = "{contest}"']
            for number in numbers:
                lines += [
                    "[[districts.contests.candidates]]",
                    f"number = {number}",
                    f'name = "Candidate {number}"',
                ]
            lines.append("")
    return "\n".join(lines)


@dataclass
class Cast:
    voter: str
    district: str
    choices: dict[str, int]  # contest -> candidate number
    signed: dict[str, Any]
    received: int


@dataclass
class TestElection:
    root: Path
    directory: Path
    manifest: Manifest
    issuing: KeySigner
    collector: KeySigner
    voters: dict[str, Voter]
    eids: dict[str, KeySigner]
    casts: list[Cast] = field(default_factory=list)
    start: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def manifest_document(self) -> dict[str, Any]:
        return json.loads(ElectionDirectory(self.directory).signed_manifest.read_text())

    def at(self, minutes: float) -> int:
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
        payload, _ = build_ballot(self.manifest, district, choices, secrets.token_bytes(32))
        signed = sign_object(signer or self.eids[voter], DOMAINS["ballot"], payload)
        cast = Cast(voter, district, choices, signed, self.at(minutes))
        self.casts.append(cast)
        return cast

    def append_raw(self, signed: dict[str, Any], minutes: float, voter: str = "?") -> None:
        self.casts.append(Cast(voter, "", {}, signed, self.at(minutes)))

    def entries(self) -> list[BoxEntry]:
        return [BoxEntry(i, c.signed, c.received) for i, c in enumerate(self.casts)]

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

    def revoke(self, voter: str, minutes: float) -> None:
        """Revoke a voter's e-ID from `minutes` into the election; rewrite the CRL."""
        self.revoked.append(
            Revocation(self.eids[voter].certificate.serial_number, self._moment(minutes))
        )
        self.write_crl()

    def _moment(self, minutes: float) -> dt.datetime:
        return (self.start + dt.timedelta(minutes=minutes)).replace(microsecond=0)

    revoked: list[Revocation] = field(default_factory=list)

    def write_crl(self) -> None:
        crl = make_crl(
            self.issuing,
            self.revoked,
            number=len(self.revoked) + 1,
            this_update=self.start - dt.timedelta(days=1),
            next_update=self.start + dt.timedelta(days=30),
        )
        crls = self.directory / "crls"
        crls.mkdir(exist_ok=True)
        (crls / "issuing.crl").write_bytes(crl.public_bytes(Encoding.PEM))


VOTER_CODES = {
    "north": ["38001010001", "38001010002", "38001010003", "38001010004"],
    "south": ["48001010005", "48001010006", "48001010007"],
    "east": ["38001010008", "38001010009"],
}


def make_election(root: Path, safe_primes: dict[int, tuple[int, int]]) -> TestElection:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start = now - dt.timedelta(days=2)
    end = now + dt.timedelta(days=5)
    ca_root = make_root_ca(now=now - dt.timedelta(days=10))
    issuing = make_intermediate_ca(ca_root, now=now - dt.timedelta(days=10))
    organiser = make_official(ca_root, "organiser", now=now - dt.timedelta(days=10))
    collector = make_official(ca_root, "collector", now=now - dt.timedelta(days=10))
    for name, signer in (("root", ca_root), ("issuing", issuing), ("collector", collector)):
        (root / f"{name}.pem").write_bytes(signer.certificate.public_bytes(Encoding.PEM))
    (root / "election.toml").write_text(definition_toml(start, end))
    voters: dict[str, Voter] = {}
    rows = ["personal_code,given_name,surname,district"]
    for district, codes in VOTER_CODES.items():
        for code in codes:
            voters[code] = Voter(code, f"Given{code[-2:]}", f"Surname{code[-2:]}", district)
            rows.append(f"{code},Given{code[-2:]},Surname{code[-2:]},{district}")
    (root / "voters.csv").write_text("\n".join(rows) + "\n")
    directory = root / "election"
    init_election(
        root / "election.toml", root / "voters.csv", directory, now=start - dt.timedelta(days=1)
    )
    manifest = run_keygen(
        directory,
        [trustee_passphrase(i) for i in range(1, TRUSTEES + 1)],
        organiser,
        test_primes=safe_primes[512],
        scrypt_cost=SCRYPT_COST,
    )
    eids = {
        code: make_eid(issuing, voter, not_before=now - dt.timedelta(days=5))
        for code, voter in voters.items()
    }
    election = TestElection(
        root, directory, manifest, issuing, collector, voters, eids, start=start
    )
    election.write_crl()
    return election


def write_box(election: TestElection, path: Path) -> Path:
    """The collector's export of the casts so far (formats.ballotbox), receipts signed with
    the final head."""
    from formats.ballotbox import write_ballot_box
    from formats.canonical import b64url, canonical_bytes
    from formats.manifest import ElectionDirectory

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
