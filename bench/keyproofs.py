"""`ivote bench keyproofs`: the dealer's Paillier-Blum modulus proof on a real-size key.

Draws two primes = 3 mod 4 of key_bits / 2 bits (not safe primes: the proof does not need
them, and a safe-prime search would dominate the run), then makes and verifies the proof
`--runs` times. Last line JSON: prove_ms and verify_ms (medians), proof_bytes (its canonical
JSON), rounds, key_bits.
"""

from __future__ import annotations

import secrets

import click
import gmpy2

from bench.common import emit, machine, median_ms, timed
from canonical.encoding import canonical_bytes
from crypto.keyproofs import MODULUS_PROOF_ROUNDS, prove_modulus, verify_modulus

CONTEXT = {"election_id": "bench"}


def blum_prime(bits: int) -> int:
    while True:
        candidate = gmpy2.next_prime(secrets.randbits(bits) | (1 << (bits - 1)))
        if candidate % 4 == 3 and candidate.bit_length() == bits:
            return int(candidate)


@click.command(name="keyproofs")
@click.option("--key-bits", default=3072, show_default=True, help="Paillier modulus size.")
@click.option("--runs", default=5, show_default=True, type=click.IntRange(1, 100))
@click.option("--json", "as_json", is_flag=True, help="Only the JSON line.")
def bench_keyproofs(key_bits: int, runs: int, as_json: bool) -> None:
    """Time the Paillier-Blum modulus proof (make and verify) on a real-size key."""
    p, q = blum_prime(key_bits // 2), blum_prime(key_bits // 2)
    n = p * q
    prove_s, verify_s, size = [], [], 0
    for _ in range(runs):
        proof, seconds = timed(lambda: prove_modulus(p, q, CONTEXT))
        prove_s.append(seconds)
        _, seconds = timed(lambda proof=proof: verify_modulus(n, proof, CONTEXT))
        verify_s.append(seconds)
        size = len(canonical_bytes(proof.to_dict()))
    emit(
        {
            "benchmark": "keyproofs",
            "key_bits": n.bit_length(),
            "rounds": MODULUS_PROOF_ROUNDS,
            "runs": runs,
            "prove_ms": median_ms(prove_s),
            "verify_ms": median_ms(verify_s),
            "proof_bytes": size,
            **machine(),
        },
        as_json,
    )
