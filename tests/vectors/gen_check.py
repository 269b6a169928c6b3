"""ballot_randomness.json and check_code.json (tests/vectors/README.md): the encryption
randomness of the vector election's ballot derived from a seed, and check codes with the
texts a reader must refuse. Deterministic: seeds and prefixes derived from labels."""

from __future__ import annotations

import base64
import math
from typing import Any

from canonical.encoding import DOMAINS, b64url, canonical_bytes, domain_hash, hex_int
from crypto import paillier
from crypto.encoding import encode_choice
from formats.ballot import (
    RANDOMNESS_MARGIN_BITS,
    SEED_BYTES,
    ballot_randomness,
    derive_randomness,
)
from tests.vectors.fixed import derived_bytes, vector_manifest
from voter_app.code import CheckCode, CodeError, checksum

DISTRICT = "north"
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
SMALL_MODULUS = 2 * 3 * 5 * 7 * 11 * 13  # most first attempts are no unit: the counter shows


def _fields(seed: bytes, manifest_hash: bytes, contest: str, part: int) -> dict[str, Any]:
    return {
        "contest": contest,
        "district": DISTRICT,
        "manifest_hash": b64url(manifest_hash),
        "part": part,
        "seed": b64url(seed),
    }


def _derivation(n: int, seed: bytes, manifest_hash: bytes, contest: str, part: int) -> Any:
    """Every attempt up to the one that gives a unit, with its blocks' inputs and digests."""
    blocks = -(-(n.bit_length() + RANDOMNESS_MARGIN_BITS) // 256)
    attempts = []
    for attempt in range(1000):
        inputs = [
            {**_fields(seed, manifest_hash, contest, part), "attempt": attempt, "block": block}
            for block in range(blocks)
        ]
        digests = [domain_hash(DOMAINS["ballot_randomness"], x) for x in inputs]
        value = int.from_bytes(b"".join(digests), "big") % n
        attempts.append(
            {
                "attempt": attempt,
                "blocks": [
                    {
                        "input": x,
                        "input_canonical_hex": canonical_bytes(x).hex(),
                        "digest_hex": d.hex(),
                    }
                    for x, d in zip(inputs, digests, strict=True)
                ],
                "reduced": hex_int(value),
                "unit": value > 0 and math.gcd(value, n) == 1,
            }
        )
        if attempts[-1]["unit"]:
            break
    r = derive_randomness(n, seed, manifest_hash, DISTRICT, contest, part)
    assert r == int(attempts[-1]["reduced"], 16)
    return {
        "contest": contest,
        "part": part,
        "blocks_per_attempt": blocks,
        "attempts": attempts,
        "randomness": hex_int(r),
    }


def ballot_randomness_vectors() -> dict[str, Any]:
    manifest = vector_manifest()
    key = manifest.threshold_key.public_key
    seed = derived_bytes("check/seed", SEED_BYTES)
    derived = ballot_randomness(manifest, DISTRICT, seed)
    cases = [
        _derivation(key.n, seed, manifest.hash, contest, part)
        for contest, values in derived.items()
        for part in range(len(values))
    ]
    # the ballot for mayor 2 and council candidate 106 (choice 5), encrypted with them
    ciphertexts = {}
    for contest, index in (("mayor", 1), ("council", 5)):
        enc = manifest.contest_encoding(DISTRICT, contest)
        ciphertexts[contest] = [
            hex_int(paillier.encrypt(key, m, r))
            for m, r in zip(encode_choice(enc, index), derived[contest], strict=True)
        ]
    small_seed = derived_bytes("check/small-seed", SEED_BYTES)
    small = [
        _derivation(SMALL_MODULUS, small_seed, manifest.hash, "council", part) for part in range(4)
    ]
    assert any(len(case["attempts"]) > 1 for case in small)
    return {
        "domain": DOMAINS["ballot_randomness"],
        "margin_bits": RANDOMNESS_MARGIN_BITS,
        "seed_hex": seed.hex(),
        "manifest_hash": b64url(manifest.hash),
        "district": DISTRICT,
        "public_key": {"n": hex_int(key.n)},
        "cases": cases,
        "ciphertexts": {"choices": {"mayor": 2, "council": 106}, "ciphertexts": ciphertexts},
        "small_modulus": {"n": hex_int(SMALL_MODULUS), "seed_hex": small_seed.hex(),
                          "cases": small},
    }  # fmt: skip


def _refused(text: str) -> dict[str, str]:
    try:
        CheckCode.parse(text)
    except CodeError as exc:
        return {"text": text, "reason": exc.reason}
    raise AssertionError(f"{text!r} was accepted")


def check_code_vectors() -> dict[str, Any]:
    cases = []
    for i in range(3):
        code = CheckCode(
            derived_bytes(f"check/code{i}/seed", 16), derived_bytes(f"check/code{i}/prefix", 7)
        )
        data = code.to_bytes()
        cases.append(
            {
                "seed_hex": code.seed.hex(),
                "ballot_hash_prefix_hex": code.ballot_prefix.hex(),
                "bytes_hex": data.hex(),
                "checksum_hex": checksum(data[:-2]).hex(),
                "text": code.text,
                "grouped": code.grouped,
            }
        )
    text = cases[0]["text"]
    other = "B" if text[10] == "A" else "A"
    # the last character carries 3 bits of the checksum and 2 unused bits, which must be zero
    padded = ALPHABET[ALPHABET.index(text[-1]) ^ 1]
    body = bytes([2]) + bytes(23)  # a code of version 2 with a valid checksum
    refused = [
        _refused(""),
        _refused(text[:10] + other + text[11:]),
        _refused(text[:10] + text[11] + text[10] + text[12:]) if text[10] != text[11] else None,
        _refused(text[:-1]),
        _refused(text + "A"),
        _refused(text[:-1] + "0"),
        _refused(text[:-1] + padded),
        _refused(base64.b32encode(body + checksum(body)).decode().rstrip("=")),
    ]
    return {
        "version": 1,
        "checksum": "CRC-16/XMODEM: polynomial 0x1021, initial value 0, no reflection, no XOR",
        "cases": cases,
        "also_accepted": [cases[0]["grouped"].lower(), "-".join(cases[0]["grouped"].split())],
        "refused": [r for r in refused if r is not None],
    }


VECTORS = {
    "ballot_randomness.json": ballot_randomness_vectors,
    "check_code.json": check_code_vectors,
}
