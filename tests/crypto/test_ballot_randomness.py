"""The ballot's encryption randomness from a 128-bit seed (formats.ballot.derive_randomness,
docs/spec.md "Ballot randomness from a seed"): deterministic, a unit of Z_n, every input
bound, recomputed here from the spec's words; and a ballot built from a seed opens under it
while its proofs' nonces stay fresh."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canonical.encoding import b64url, hex_int, parse_b64url
from crypto import paillier
from crypto.encoding import encode_choice
from crypto.errors import InvalidInput
from crypto.membership import batch_verify, encrypt_contest
from crypto.paillier import PublicKey
from formats.ballot import (
    BallotError,
    ballot_randomness,
    ballot_statements,
    build_ballot,
    choices_in,
    contest_context,
    derive_randomness,
    parse_ballot,
)
from tests.vectors.fixed import vector_manifest

TAG = b"ivote/v1/ballot-randomness"
seeds = st.binary(min_size=16, max_size=16)
hashes = st.binary(min_size=32, max_size=32)
names = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=8)


def reference(n: int, seed: bytes, manifest_hash: bytes, district: str, contest: str, part: int):
    """docs/spec.md's derivation, written from its words with hashlib and json only."""
    blocks = math.ceil((n.bit_length() + 128) / 256)
    attempt = 0
    while True:
        stream = b""
        for block in range(blocks):
            fields: dict[str, Any] = {
                "attempt": attempt,
                "block": block,
                "contest": contest,
                "district": district,
                "manifest_hash": b64url(manifest_hash),
                "part": part,
                "seed": b64url(seed),
            }
            text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            stream += hashlib.sha256(TAG + b"\x00" + text.encode("utf-8")).digest()
        r = int.from_bytes(stream, "big") % n
        if r > 0 and math.gcd(r, n) == 1:
            return r
        attempt += 1


N = vector_manifest().threshold_key.public_key.n


@given(seed=seeds, manifest_hash=hashes, district=names, contest=names, part=st.integers(0, 20))
@settings(max_examples=60)
def test_derivation_is_the_specs_a_unit_and_deterministic(
    seed: bytes, manifest_hash: bytes, district: str, contest: str, part: int
) -> None:
    r = derive_randomness(N, seed, manifest_hash, district, contest, part)
    assert 0 < r < N and math.gcd(r, N) == 1
    assert r == derive_randomness(N, seed, manifest_hash, district, contest, part)
    assert r == reference(N, seed, manifest_hash, district, contest, part)


@given(seed=seeds, other=seeds, manifest_hash=hashes, other_hash=hashes, part=st.integers(0, 5))
@settings(max_examples=40)
def test_every_input_changes_the_value(
    seed: bytes, other: bytes, manifest_hash: bytes, other_hash: bytes, part: int
) -> None:
    base = derive_randomness(N, seed, manifest_hash, "north", "council", part)
    variants = [
        derive_randomness(N, seed, manifest_hash, "north", "council", part + 1),
        derive_randomness(N, seed, manifest_hash, "north", "mayor", part),
        derive_randomness(N, seed, manifest_hash, "south", "council", part),
    ]
    if other != seed:
        variants.append(derive_randomness(N, other, manifest_hash, "north", "council", part))
    if other_hash != manifest_hash:
        variants.append(derive_randomness(N, seed, other_hash, "north", "council", part))
    assert base not in variants


@given(seed=seeds, part=st.integers(0, 30))
@settings(max_examples=80)
def test_non_units_are_derived_again(seed: bytes, part: int) -> None:
    # a modulus rich in small factors: many first attempts are not units
    n = 3 * 5 * 7 * 11 * 13 * 2**3
    r = derive_randomness(n, seed, bytes(32), "d", "c", part)
    assert 0 < r < n and math.gcd(r, n) == 1
    assert r == reference(n, seed, bytes(32), "d", "c", part)


def test_the_counter_is_used_when_the_first_attempt_is_no_unit() -> None:
    n = 2 * 3 * 5 * 7
    used = 0
    for part in range(40):
        first = reference_first_attempt(n, bytes(16), part)
        r = derive_randomness(n, bytes(16), bytes(32), "d", "c", part)
        if math.gcd(first, n) != 1:
            used += 1
            assert r != first
    assert used > 10  # most first attempts share a factor with 210


def reference_first_attempt(n: int, seed: bytes, part: int) -> int:
    fields = {
        "attempt": 0,
        "block": 0,
        "contest": "c",
        "district": "d",
        "manifest_hash": b64url(bytes(32)),
        "part": part,
        "seed": b64url(seed),
    }
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return int.from_bytes(hashlib.sha256(TAG + b"\x00" + text.encode()).digest(), "big") % n


def test_the_seed_must_be_128_bits() -> None:
    for seed in (b"", bytes(15), bytes(17), "0" * 16):
        with pytest.raises(BallotError, match="seed"):
            derive_randomness(N, seed, bytes(32), "d", "c", 0)  # type: ignore[arg-type]


@given(seed=seeds, choice=st.integers(0, 13))
@settings(max_examples=4, deadline=None)
def test_a_ballot_from_a_seed_opens_under_it_and_its_proofs_hold(seed: bytes, choice: int) -> None:
    manifest = vector_manifest()
    key = manifest.threshold_key.public_key
    council = manifest.district("north").contests[1]
    choices = {"mayor": 2, "council": council.candidates[choice].number}
    randomness = ballot_randomness(manifest, "north", seed)
    assert [len(randomness[c]) for c in ("mayor", "council")] == [1, 2]
    payload, used = build_ballot(manifest, "north", choices, bytes(32), randomness)
    assert used == randomness
    ballot = parse_ballot(manifest, payload)
    assert choices_in(manifest, ballot, ballot_randomness(manifest, "north", seed)) == choices
    enc = manifest.contest_encoding("north", "council")
    expected = [paillier.encrypt(key, m, r) for m, r in
                zip(encode_choice(enc, choice), randomness["council"], strict=True)]  # fmt: skip
    assert list(ballot.contests["council"].ciphertexts) == expected
    assert batch_verify(ballot_statements(manifest, ballot)) == []
    # the same seed again: the same ciphertexts, but fresh proof nonces from `secrets`
    again, _ = build_ballot(manifest, "north", choices, bytes(32), randomness)
    assert again["contests"]["council"]["ciphertexts"] == payload["contests"]["council"][
        "ciphertexts"
    ]
    assert again["contests"]["council"]["proofs"] != payload["contests"]["council"]["proofs"]


def test_given_randomness_is_checked() -> None:
    manifest = vector_manifest()
    key = manifest.threshold_key.public_key
    enc = manifest.contest_encoding("north", "council")
    context = contest_context(manifest, "north", "council")
    with pytest.raises(InvalidInput, match="expected 2 values"):
        encrypt_contest(key, enc, 0, context, [5])
    with pytest.raises(InvalidInput, match=r"randomness\[1\]: not a unit"):
        encrypt_contest(key, enc, 0, context, [5, key.n])
    good = ballot_randomness(manifest, "north", bytes(16))
    choices = {"mayor": 1, "council": 101}
    with pytest.raises(BallotError, match=r"randomness\.council: missing"):
        build_ballot(manifest, "north", choices, bytes(32), {"mayor": good["mayor"]})
    bad = {**good, "mayor": (0,)}
    with pytest.raises(BallotError, match=r"randomness.mayor\[0\]: not a unit"):
        build_ballot(manifest, "north", choices, bytes(32), bad)


VECTORS = Path(__file__).parents[1] / "vectors"


def test_ballot_randomness_vector() -> None:
    """tests/vectors/ballot_randomness.json recomputed from the spec's words (`reference`)."""
    data = json.loads((VECTORS / "ballot_randomness.json").read_text(encoding="utf-8"))
    n = int(data["public_key"]["n"], 16)
    seed, manifest_hash = bytes.fromhex(data["seed_hex"]), parse_b64url(data["manifest_hash"], "h")
    by_contest: dict[str, list[int]] = {}
    for case in data["cases"]:
        r = reference(n, seed, manifest_hash, data["district"], case["contest"], case["part"])
        assert r == int(case["randomness"], 16)
        by_contest.setdefault(case["contest"], []).append(r)
        for attempt in case["attempts"]:
            for block in attempt["blocks"]:
                digest = hashlib.sha256(
                    TAG + b"\x00" + bytes.fromhex(block["input_canonical_hex"])
                ).hexdigest()
                assert digest == block["digest_hex"]
    key = PublicKey(n)
    manifest = vector_manifest()
    for contest, choice in data["ciphertexts"]["choices"].items():
        enc = manifest.contest_encoding(data["district"], contest)
        index = manifest.district(data["district"]).contest(contest).index_of(choice)
        expected = [
            hex_int(paillier.encrypt(key, m, r))
            for m, r in zip(encode_choice(enc, index), by_contest[contest], strict=True)
        ]
        assert data["ciphertexts"]["ciphertexts"][contest] == expected
    small = data["small_modulus"]
    for case in small["cases"]:
        r = reference(int(small["n"], 16), bytes.fromhex(small["seed_hex"]), manifest_hash,
                      data["district"], case["contest"], case["part"])  # fmt: skip
        assert r == int(case["randomness"], 16)
        assert [a["unit"] for a in case["attempts"]] == [False] * (len(case["attempts"]) - 1) + [
            True
        ]


def test_check_code_vector() -> None:
    from voter_app.code import CheckCode, CodeError

    data = json.loads((VECTORS / "check_code.json").read_text(encoding="utf-8"))
    for case in data["cases"]:
        raw = bytes.fromhex(case["bytes_hex"])
        assert raw[0] == 1 and raw[1:17].hex() == case["seed_hex"]
        assert binascii.crc_hqx(raw[:-2], 0).to_bytes(2, "big").hex() == case["checksum_hex"]
        assert base64.b32encode(raw).decode().rstrip("=") == case["text"]
        code = CheckCode.parse(case["text"])
        assert (code.seed.hex(), code.ballot_prefix.hex()) == (
            case["seed_hex"],
            case["ballot_hash_prefix_hex"],
        )
        assert code.grouped == case["grouped"]
    first = CheckCode.parse(data["cases"][0]["text"])
    for text in data["also_accepted"]:
        assert CheckCode.parse(text) == first
    for refused in data["refused"]:
        with pytest.raises(CodeError) as caught:
            CheckCode.parse(refused["text"])
        assert caught.value.reason == refused["reason"]
