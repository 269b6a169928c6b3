"""ElectionGuard 1.4.0 on a 3-of-10 contest: encryption and proof verification, ms per ballot.

Not part of ivote: it runs in its own virtual environment with `electionguard==1.4.0`
installed (bench/electionguard/README.md says how), and nothing in the repository imports it.
It is the other half of the comparison asked by issue 18 (docs/performance.md, "ElectionGuard
1.4.0 on the same contest").

What it does, with ElectionGuard's own objects and its standard production group (the 4096-bit
p and 256-bit q of electionguard.constants.STANDARD_CONSTANTS; gmpy2 for the arithmetic, as
ElectionGuard always uses):

- a manifest with one candidate contest, `n_of_m`, 10 selections, number_elected = votes_allowed
  = 3, one ballot style;
- a key ceremony of --guardians guardians with quorum --quorum (ElectionGuard's Guardian and
  KeyCeremonyMediator, the three rounds as its electionguard_tools orchestrator runs them: keys,
  backups, their verification), then the joint key and the election context
  (make_ciphertext_election_context; electionguard_tools itself needs hypothesis, a development
  dependency the package does not declare, so it is not used);
- N plaintext ballots, each marking a random 0 to 3 selections (the number uniform, the
  selections a random sample); ElectionGuard fills the unmarked ones with 0 and adds 3
  placeholder selections, as many of them set to 1 as the ballot under-votes, so that every
  contest sums to exactly 3;
- encryption, timed per ballot: EncryptionMediator.encrypt (the ballot code chain, every
  selection's ElGamal encryption and disjunctive Chaum-Pedersen 0-or-1 proof, placeholders
  included, the contest's constant Chaum-Pedersen proof that the selections sum to 3, the
  contest's hashed-ElGamal extended data, the hashes), without ElectionGuard's optional
  verification of its own proofs (should_verify_proofs is False, its default);
- verification, timed per ballot: CiphertextBallot.is_valid_encryption (the ballot's, each
  contest's and each selection's hashes, the 13 disjunctive proofs including the range check
  of every group element, the accumulation of the selections and the constant proof).
  ElectionGuard 1.4 has no batch verification: each proof is checked on its own.

Prints the settings and figures, then one JSON line last: *_ms_per_ballot are medians of the
per-ballot wall-clock times, as ivote's `bench crypto` reports; *_cpu_ms_per_ballot the medians
of the same calls' process CPU time, steadier on a shared machine. Runs on Python 3.10 as
ElectionGuard 1.4.0 is; on 3.11 through py311_shim beside it.

    python measure_3_of_10.py --ballots 30 [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import sys
import time
from datetime import datetime
from importlib.metadata import version
from typing import Any

import py311_shim  # noqa: F401  (before electionguard: it lets 1.4.0 import on Python 3.11)
from electionguard.ballot import PlaintextBallot, PlaintextBallotContest, PlaintextBallotSelection
from electionguard.constants import get_constants
from electionguard.election import CiphertextElectionContext, make_ciphertext_election_context
from electionguard.encrypt import EncryptionDevice, EncryptionMediator
from electionguard.guardian import Guardian
from electionguard.key_ceremony import CeremonyDetails
from electionguard.key_ceremony_mediator import KeyCeremonyMediator
from electionguard.logs import LOG
from electionguard.manifest import (
    BallotStyle,
    Candidate,
    CandidateContestDescription,
    ElectionType,
    GeopoliticalUnit,
    InternalManifest,
    Manifest,
    ReportingUnitType,
    SelectionDescription,
    SpecVersion,
    VoteVariationType,
)

STYLE = "style-1"
DISTRICT = "district-1"
CONTEST = "contest-1"


def manifest(candidates: int, choose: int) -> Manifest:
    selections = [
        SelectionDescription(f"{CONTEST}-selection-{i}", i, f"candidate-{i}")
        for i in range(candidates)
    ]
    contest = CandidateContestDescription(
        CONTEST,
        0,
        DISTRICT,
        VoteVariationType.n_of_m,
        choose,  # number_elected
        choose,  # votes_allowed
        f"{choose} of {candidates}",
        selections,
    )
    return Manifest(
        election_scope_id="ivote-bench-3-of-10",
        spec_version=SpecVersion.EG1_0,
        type=ElectionType.general,
        start_date=datetime(2026, 11, 30, 8),
        end_date=datetime(2026, 11, 30, 20),
        geopolitical_units=[GeopoliticalUnit(DISTRICT, "District 1", ReportingUnitType.county)],
        parties=[],
        candidates=[Candidate(f"candidate-{i}") for i in range(candidates)],
        contests=[contest],
        ballot_styles=[BallotStyle(STYLE, [DISTRICT])],
    )


def plaintext_ballot(index: int, candidates: int, choose: int) -> PlaintextBallot:
    marked = secrets.SystemRandom().sample(range(candidates), secrets.randbelow(choose + 1))
    return PlaintextBallot(
        f"ballot-{index}",
        STYLE,
        [
            PlaintextBallotContest(
                CONTEST,
                [PlaintextBallotSelection(f"{CONTEST}-selection-{i}", 1) for i in sorted(marked)],
            )
        ],
    )


def key_ceremony(guardians: int, quorum: int, election: Manifest) -> CiphertextElectionContext:
    """The guardians' keys, backups and their verification; the joint key; the context."""
    details = CeremonyDetails(guardians, quorum)
    members = [Guardian.from_nonce(str(i + 1), i + 1, guardians, quorum) for i in range(guardians)]
    mediator = KeyCeremonyMediator("key-ceremony-mediator", details)
    for guardian in members:
        mediator.announce(guardian.share_key())
    for guardian in members:
        for key in mediator.share_announced(guardian.id) or []:
            guardian.save_guardian_key(key)
    for guardian in members:
        guardian.generate_election_partial_key_backups()
        mediator.receive_backups(guardian.share_election_partial_key_backups())
    for guardian in members:
        for backup in mediator.share_backups(guardian.id) or []:
            guardian.save_election_partial_key_backup(backup)
    for guardian in members:
        verifications = [
            guardian.verify_election_partial_key_backup(other.id)
            for other in members
            if other.id != guardian.id
        ]
        if not all(v is not None and v.verified for v in verifications):
            sys.exit("a guardian's backup did not verify")
        mediator.receive_backup_verifications([v for v in verifications if v is not None])
    joint_key = mediator.publish_joint_key()
    if joint_key is None or not election.is_valid():
        sys.exit("the key ceremony did not complete")
    return make_ciphertext_election_context(
        guardians,
        quorum,
        joint_key.joint_public_key,
        joint_key.commitment_hash,
        election.crypto_hash(),
    )


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ballots", type=int, default=30)
    parser.add_argument("--candidates", type=int, default=10)
    parser.add_argument("--choose", type=int, default=3)
    parser.add_argument("--guardians", type=int, default=5)
    parser.add_argument("--quorum", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args()
    if args.ballots < 1 or not 1 <= args.choose <= args.candidates:
        parser.error("need at least one ballot and 1 <= --choose <= --candidates")
    if os.environ.get("PRIME_OPTION", "Standard") != "Standard":
        parser.error("PRIME_OPTION selects ElectionGuard's test group: unset it")
    # ElectionGuard logs every encryption at INFO on stdout; keep stdout for the results
    LOG.set_stream_log_level(40)  # logging.ERROR

    constants = get_constants()
    p, q = int(constants.large_prime.value), int(constants.small_prime.value)

    election = manifest(args.candidates, args.choose)
    start = time.perf_counter()
    context = key_ceremony(args.guardians, args.quorum, election)
    ceremony_s = time.perf_counter() - start
    internal_manifest = InternalManifest(election)

    device = EncryptionDevice(device_id=1, session_id=1, launch_code=1, location="bench")
    encrypter = EncryptionMediator(internal_manifest, context, device)
    ballots = [plaintext_ballot(i, args.candidates, args.choose) for i in range(args.ballots)]

    encrypt_s: list[float] = []
    encrypt_cpu_s: list[float] = []
    encrypted = []
    for ballot in ballots:
        start, start_cpu = time.perf_counter(), time.process_time()
        ciphertext = encrypter.encrypt(ballot)
        encrypt_s.append(time.perf_counter() - start)
        encrypt_cpu_s.append(time.process_time() - start_cpu)
        if ciphertext is None:
            sys.exit(f"ElectionGuard refused to encrypt {ballot.object_id}")
        encrypted.append(ciphertext)

    verify_s: list[float] = []
    verify_cpu_s: list[float] = []
    for ciphertext in encrypted:
        start, start_cpu = time.perf_counter(), time.process_time()
        valid = ciphertext.is_valid_encryption(
            internal_manifest.manifest_hash,
            context.elgamal_public_key,
            context.crypto_extended_base_hash,
        )
        verify_s.append(time.perf_counter() - start)
        verify_cpu_s.append(time.process_time() - start_cpu)
        if not valid:
            sys.exit(f"ElectionGuard rejected its own ballot {ciphertext.object_id}")

    contest = encrypted[0].contests[0]
    selections = len(contest.ballot_selections)
    result: dict[str, Any] = {
        "bench": "electionguard-3-of-10",
        "electionguard": version("electionguard"),
        "gmpy2": version("gmpy2"),
        "p_bits": p.bit_length(),
        "q_bits": q.bit_length(),
        "candidates": args.candidates,
        "choose": args.choose,
        "selections_per_ballot": selections,  # the candidates and the placeholders
        "placeholders_per_ballot": selections - args.candidates,
        "disjunctive_proofs_per_ballot": selections,
        "constant_proofs_per_ballot": 1,
        "ballots": args.ballots,
        "marks": sorted(len(b.contests[0].ballot_selections) for b in ballots),
        "guardians": args.guardians,
        "quorum": args.quorum,
        "ceremony_s": round(ceremony_s, 3),
        "encrypt_ms_per_ballot": median_ms(encrypt_s),
        "verify_ms_per_ballot": median_ms(verify_s),
        "encrypt_cpu_ms_per_ballot": median_ms(encrypt_cpu_s),
        "verify_cpu_ms_per_ballot": median_ms(verify_cpu_s),
        "batch_verify_ms_per_ballot": None,  # ElectionGuard 1.4 has no batch verification
        "all_valid": True,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    if not args.json:
        for key, value in result.items():
            print(f"{key:>30}: {value}")
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
