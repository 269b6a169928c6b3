"""`ivote bench crypto`: key generation, ballot encryption and proofs, verification (individual
and batched), decryption shares and combination, on a real-size key.

Prints one JSON line last with keygen_s, encrypt_ms_per_ballot (encryption + proof, the
randomness drawn by the residue source), encrypt_seeded_ms_per_ballot (the same with the
randomness derived from a check-code seed, as the voter app encrypts; the two alternate ballot
by ballot), verify_ms_per_ballot (individual), batch_verify_ms_per_ballot, share_ms,
share_verify_ms, combine_ms and correct (the decrypted tally equals the plaintext counts).

`--contest k-of-L --choose K` times a choose-several contest instead (docs/spec.md, "Ballot
encoding"): each ballot marks a random number of candidates between --min-choose (default 0,
so a blank box) and K, one 0/1 ciphertext per candidate plus the count statement.
"""

from __future__ import annotations

import secrets
import statistics
import time
from collections import Counter

import click

from bench.common import emit, machine, median_ms, timed
from crypto import paillier
from crypto.encoding import contest_encoding, decode_totals
from crypto.membership import (
    batch_verify,
    contest_statements,
    contest_totals,
    encrypt_contest,
    verify_membership,
)
from crypto.threshold import combine, decryption_share, generate, verify_decryption_share
from formats.ballot import SEED_BYTES, derive_randomness


@click.command(name="crypto")
@click.option("--key-bits", default=3072, show_default=True, help="Paillier modulus size.")
@click.option("--candidates", default=10, show_default=True, help="Candidates in the contest.")
@click.option("--ballots", default=50, show_default=True, help="Ballots to encrypt and verify.")
@click.option("--trustees", default=5, show_default=True)
@click.option("--threshold", default=3, show_default=True)
@click.option("--max-voters", default=1_000_000, show_default=True)
@click.option(
    "--contest",
    "kind",
    type=click.Choice(["1-of-L", "k-of-L"]),
    default="1-of-L",
    show_default=True,
    help="Choose exactly one, or between --min-choose and --choose candidates.",
)
@click.option("--choose", default=3, show_default=True, help="k-of-L: most marks per ballot.")
@click.option("--min-choose", default=0, show_default=True, help="k-of-L: fewest marks.")
@click.option("--json", "as_json", is_flag=True, help="Print only the JSON line.")
def bench_crypto(
    key_bits: int,
    candidates: int,
    ballots: int,
    trustees: int,
    threshold: int,
    max_voters: int,
    kind: str,
    choose: int,
    min_choose: int,
    as_json: bool,
) -> None:
    """Time the crypto core on a real-size key (3072 bits by default)."""
    if ballots < 1 or candidates < 2:
        raise click.BadParameter("need at least one ballot and two candidates")
    marks = kind == "k-of-L"
    if marks and not (0 <= min_choose <= choose <= candidates and choose >= 1):
        raise click.BadParameter("need 0 <= --min-choose <= --choose <= --candidates")
    bounds = (min_choose, choose) if marks else (1, 1)
    if bounds == (1, 1) and marks:
        raise click.BadParameter("--choose 1 --min-choose 1 is the 1-of-L contest")
    (key, shares), keygen_s = timed(lambda: generate(key_bits, trustees, threshold))
    public = key.public_key
    encoding = contest_encoding(candidates, max_voters, key_bits, *bounds)
    context = {
        "election_id": "bench",
        "manifest_hash": "bench",
        "district": "d1",
        "contest": "c1",
    }
    choices: list[int | frozenset[int]] = [
        frozenset(
            secrets.SystemRandom().sample(
                range(candidates), min_choose + secrets.randbelow(choose - min_choose + 1)
            )
        )
        if marks
        else secrets.randbelow(candidates)
        for _ in range(ballots)
    ]

    encrypt_s: list[float] = []
    encrypt_seeded_s: list[float] = []
    contests = []
    for choice in choices:
        (contest, _randomness), seconds = timed(
            lambda choice=choice: encrypt_contest(public, encoding, choice, context)
        )
        encrypt_s.append(seconds)
        contests.append(contest)

        def seeded(choice: int | frozenset[int] = choice) -> object:
            seed = secrets.token_bytes(SEED_BYTES)
            derived = [
                derive_randomness(public.n, seed, b"bench" * 6 + b"!!", "d1", "c1", part)
                for part in range(encoding.ciphertexts)
            ]
            return encrypt_contest(public, encoding, choice, context, derived)

        encrypt_seeded_s.append(timed(seeded)[1])

    statements_per_ballot = [
        contest_statements(public, encoding, contest, context) for contest in contests
    ]
    verify_s: list[float] = []
    for statements in statements_per_ballot[: min(ballots, 10)]:
        _, seconds = timed(
            lambda statements=statements: [
                verify_membership(s.key, s.ciphertext, s.allowed, s.proof, s.context)
                for s in statements
            ]
        )
        verify_s.append(seconds)

    everything = [s for statements in statements_per_ballot for s in statements]
    batch_runs = []
    for _ in range(3):
        bad, seconds = timed(lambda: batch_verify(everything))
        if bad:
            raise click.ClickException(f"batch verification rejected honest proofs {bad}")
        batch_runs.append(seconds / ballots)

    totals = contest_totals(
        public,
        encoding,
        [
            paillier.multiply(public, [contest.ciphertexts[index] for contest in contests])
            for index in range(encoding.ciphertexts)
        ],
    )
    share_s: list[float] = []
    share_verify_s: list[float] = []
    combine_s: list[float] = []
    decrypted: list[int] = []
    present = shares[:threshold]
    for part, total in enumerate(totals):
        part_context = {**context, "part": part}
        made = []
        for share in present:
            start = time.perf_counter()
            made.append(decryption_share(share, total, part_context))
            share_s.append(time.perf_counter() - start)
        for made_share in made:
            start = time.perf_counter()
            verify_decryption_share(key, total, made_share, part_context)
            share_verify_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        combination = combine(key, total, made, part_context)
        combine_s.append(time.perf_counter() - start)
        decrypted.append(combination.plaintext)

    counts = decode_totals(encoding, decrypted, max_voters)
    if marks:
        marked = Counter(j for choice in choices for j in choice)  # type: ignore[union-attr]
        expected = [marked.get(j, 0) for j in range(candidates)]
        if encoding.blank_allowed:
            expected.append(sum(not choice for choice in choices))  # type: ignore[misc]
    else:
        votes = Counter(choices)
        expected = [votes.get(j, 0) for j in range(candidates)]
    correct = counts == expected
    emit(
        {
            "bench": "crypto",
            "contest": kind,
            "choose": [min_choose, choose] if marks else [1, 1],
            "statements_per_ballot": len(statements_per_ballot[0]),
            "branches_per_ballot": sum(len(s.allowed) for s in statements_per_ballot[0]),
            "key_bits": key_bits,
            "candidates": candidates,
            "ballots": ballots,
            "trustees": trustees,
            "threshold": threshold,
            "keygen_s": round(keygen_s, 3),
            "encrypt_ms_per_ballot": median_ms(encrypt_s),
            "encrypt_seeded_ms_per_ballot": median_ms(encrypt_seeded_s),
            "verify_ms_per_ballot": median_ms(verify_s),
            "batch_verify_ms_per_ballot": round(statistics.median(batch_runs) * 1000, 3),
            "share_ms": median_ms(share_s),
            "share_verify_ms": median_ms(share_verify_s),
            "combine_ms": median_ms(combine_s),
            "correct": correct,
            **machine(),
        },
        as_json,
    )
    if not correct:
        raise SystemExit(1)
