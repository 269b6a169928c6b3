"""`ivote bench keyproofs`: the key proofs (crypto/keyproofs.py) on a real-size key.

Draws two primes = 3 mod 4 of key_bits / 2 bits (not safe primes: the proofs do not need
them, and a safe-prime search would dominate the run) and one trustee's ring-Pedersen
parameters of key_bits, then makes and verifies each proof `--runs` times. Last line JSON, per
proof (modulus: Pi-mod; params: Pi-prm, per trustee; factor: Pi-fac, per trustee): prove and
verify ms (medians) and the canonical JSON's bytes; params_make_ms (a trustee's parameters).
"""

from __future__ import annotations

import click

from bench.common import emit, machine, median_ms, timed
from canonical.encoding import canonical_bytes
from crypto.keyproofs import (
    blum_prime,
    make_ring_pedersen,
    prove_modulus,
    prove_no_small_factor,
    prove_ring_pedersen,
    verify_modulus,
    verify_no_small_factor,
    verify_ring_pedersen,
)

CONTEXT = {"election_id": "bench"}


@click.command(name="keyproofs")
@click.option("--key-bits", default=3072, show_default=True, help="Paillier modulus size.")
@click.option("--runs", default=5, show_default=True, type=click.IntRange(1, 100))
@click.option("--json", "as_json", is_flag=True, help="Only the JSON line.")
def bench_keyproofs(key_bits: int, runs: int, as_json: bool) -> None:
    """Time the Paillier-Blum modulus proof (make and verify) on a real-size key."""
    p, q = blum_prime(key_bits // 2), blum_prime(key_bits // 2)
    n = p * q
    (params, lam, phi), params_s = timed(lambda: make_ring_pedersen(key_bits))
    proofs = {
        "modulus": (
            lambda: prove_modulus(p, q, CONTEXT),
            lambda proof: verify_modulus(n, proof, CONTEXT),
        ),
        "params": (
            lambda: prove_ring_pedersen(params, lam, phi, CONTEXT),
            lambda proof: verify_ring_pedersen(params, proof, CONTEXT),
        ),
        "factor": (
            lambda: prove_no_small_factor(p, q, params, CONTEXT),
            lambda proof: verify_no_small_factor(n, params, proof, CONTEXT),
        ),
    }
    result: dict[str, object] = {
        "bench": "keyproofs",
        "key_bits": n.bit_length(),
        "runs": runs,
        "params_make_ms": round(params_s * 1000, 3),
    }
    for name, (prove, verify) in proofs.items():
        prove_s, verify_s, size = [], [], 0
        for _ in range(runs):
            proof, seconds = timed(prove)
            prove_s.append(seconds)
            _, seconds = timed(lambda proof=proof, verify=verify: verify(proof))
            verify_s.append(seconds)
            size = len(canonical_bytes(proof.to_dict()))
        result |= {
            f"{name}_prove_ms": median_ms(prove_s),
            f"{name}_verify_ms": median_ms(verify_s),
            f"{name}_bytes": size,
        }
    emit(result | machine(), as_json)
