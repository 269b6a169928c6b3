"""decryption_share.json (tests/vectors/README.md): decryption shares of the vector election's
threshold key, their proofs, shares that must be refused, and combinations of t shares,
among them trustees {1, 3} (a negative Lagrange coefficient). Deterministic: the key is dealt
and the proofs made with choices derived from labels (tests.vectors.fixed)."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

from canonical.encoding import DOMAINS, canonical_bytes, domain_hash, hex_int
from crypto import paillier
from crypto.errors import ProofInvalid
from crypto.primitives.modular import lagrange_at_zero_times
from crypto.threshold import (
    CHALLENGE_BITS,
    DecryptionShare,
    KeyShare,
    ThresholdKey,
    combine,
    decryption_share_with_nonce,
    share_challenge,
    share_statement,
    verify_decryption_share,
)
from tests.vectors.fixed import derived, top_nibble_zero, vector_key, vector_manifest

PLAINTEXT = 2**40 + 7
CONTEXT_OF = ("north", "mayor", 0)  # the total the shares decrypt: (district, contest, part)
SUBSETS = ((1, 3), (2, 3), (1, 2))  # every pair of the three trustees; {1, 3} first


def _nonce(key: ThresholdKey, label: str) -> int:
    return derived(label, 1 << key.response_bits)


def _share(
    key_share: KeyShare, ciphertext: int, context: dict[str, Any], label: str
) -> tuple[DecryptionShare, int]:
    """The share with the first derived nonce whose challenge starts with a zero hex digit."""
    for attempt in itertools.count():
        r = _nonce(key_share.key, f"{label}/{attempt}")
        share = decryption_share_with_nonce(key_share, ciphertext, context, r)
        if top_nibble_zero(share.proof.challenge, CHALLENGE_BITS):
            return share, r
    raise AssertionError("unreachable")


def _signed_hex(value: int) -> str:
    """A Lagrange coefficient: canonical hex of |mu|, with "-" in front when negative."""
    return ("-" if value < 0 else "") + hex_int(abs(value))


def combination(
    key: ThresholdKey, ciphertext: int, shares: dict[int, DecryptionShare], used: tuple[int, ...]
) -> dict[str, Any]:
    """Lagrange in the exponent over `used`, every intermediate value written out, checked
    against crypto.threshold.combine."""
    n, n2, delta = key.n, key.n_squared, key.delta
    lagrange, powers = [], []
    product = 1
    for index in used:
        mu = lagrange_at_zero_times(delta, index, used)
        power = pow(shares[index].value, 2 * mu, n2)  # a negative exponent inverts c_i
        product = product * power % n2
        lagrange.append({"index": index, "mu": _signed_hex(mu)})
        powers.append(hex_int(power))
    l_value = paillier.L(product, n)
    plaintext = l_value * pow(4 * delta * delta, -1, n) % n
    context = vector_manifest().proof_context(*CONTEXT_OF)
    result = combine(key, ciphertext, [shares[i] for i in reversed(used)], context)
    assert result.plaintext == plaintext == PLAINTEXT and result.used == used
    return {
        "shares": [shares[i].to_dict() for i in reversed(used)],  # given in any order
        "used": list(used),
        "lagrange": lagrange,
        "powers": powers,
        "product": hex_int(product),
        "l_value": hex_int(l_value),
        "plaintext": hex_int(plaintext),
    }


def decryption_share_vectors() -> dict[str, Any]:
    dealt = vector_key()
    key = dealt.key
    manifest = vector_manifest()
    assert manifest.threshold_key == key
    context = manifest.proof_context(*CONTEXT_OF)
    randomness = derived("threshold/ciphertext-r", key.n)
    ciphertext = paillier.encrypt(key.public_key, PLAINTEXT, randomness)
    made: dict[int, DecryptionShare] = {}
    nonces: dict[int, int] = {}
    for key_share in dealt.shares:
        made[key_share.index], nonces[key_share.index] = _share(
            key_share, ciphertext, context, f"threshold/share{key_share.index}"
        )
    valid = made[2]
    proof = valid.proof
    n2 = key.n_squared

    def rehashed(index: int, value: int) -> DecryptionShare:
        e = share_challenge(key, ciphertext, index, value, proof.a, proof.b, context)
        return DecryptionShare(index, value, dataclasses.replace(proof, challenge=e))

    # trustee 2's secret behind a claim to be trustee 3: an honest proof of the wrong key
    impostor = KeyShare(key, 3, dealt.shares[1].secret)
    impostor_share = decryption_share_with_nonce(
        impostor, ciphertext, context, _nonce(key, "threshold/impostor")
    )
    invalid = [
        {
            "share": rehashed(2, valid.value * (1 + key.n) % n2).to_dict(),
            "wrong": "value multiplied by (1 + n) and the challenge recomputed over the changed "
            "statement: the hash matches, (c^4)^z != a (c_i^2)^e",
            "fails": "share does not match the proof",
        },
        {
            "share": impostor_share.to_dict(),
            "wrong": "trustee 2's share with a proof made with trustee 2's secret but claiming "
            "to be trustee 3: (c^4)^z = a (c_i^2)^e holds, v^z != b v_3^e",
            "fails": "share does not match the verification key",
        },
        {
            "share": dataclasses.replace(valid, value=n2 - valid.value).to_dict(),
            "wrong": "value replaced by n^2 - c_i (same square, so both equations hold) without "
            "recomputing the challenge: the Fiat-Shamir hash no longer matches",
            "fails": "challenge does not match",
        },
    ]
    for case in invalid:
        share = DecryptionShare.from_dict(case["share"], key)
        try:
            verify_decryption_share(key, ciphertext, share, context)
        except ProofInvalid as exc:
            assert case["fails"] in str(exc), exc
        else:
            raise AssertionError(f"accepted: {case['wrong']}")
    statement = share_statement(
        key, ciphertext, valid.index, valid.value, proof.a, proof.b, context
    )
    return {
        "description": "threshold Paillier decryption shares with their proofs (docs/spec.md, "
        "'Threshold key and decryption shares'): the vector election's key (N = 3, t = 2, "
        "dealt from the 512-bit fixture primes), one share per trustee of one ciphertext, "
        "shares that must be refused, and the combination of every pair of trustees.",
        "domain": DOMAINS["decryption_share_proof"],
        "key_bits": key.bits,
        "key": key.to_dict(),
        "delta": hex_int(key.delta),
        "response_bits": key.response_bits,
        "dealing": {
            "coefficients": [hex_int(a) for a in dealt.coefficients],
            "v_root": hex_int(dealt.v_root),
            "secrets": [{"index": s.index, "secret": hex_int(s.secret)} for s in dealt.shares],
        },
        "ciphertext": hex_int(ciphertext),
        "ciphertext_plaintext": hex_int(PLAINTEXT),
        "ciphertext_randomness": hex_int(randomness),
        "context": context,
        "shares": [{"share": made[i].to_dict(), "nonce": hex_int(nonces[i])} for i in sorted(made)],
        "valid_share": valid.to_dict(),
        "valid_statement": statement,
        "valid_statement_canonical_hex": canonical_bytes(statement).hex(),
        "valid_challenge_digest_hex": domain_hash(
            DOMAINS["decryption_share_proof"], statement
        ).hex(),
        "invalid_shares": invalid,
        "combinations": [combination(key, ciphertext, made, used) for used in SUBSETS],
    }


VECTORS = {"decryption_share.json": decryption_share_vectors}
