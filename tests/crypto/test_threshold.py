"""Threshold Paillier: dealing, decryption shares and their proofs, combination, validation."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import secrets
from pathlib import Path

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canonical.encoding import (
    DOMAINS,
    FormatError,
    canonical_bytes,
    domain_hash,
    hex_int,
    parse_canonical,
)
from crypto import paillier
from crypto.errors import DecryptionError, InvalidInput, ProofInvalid
from crypto.primitives.modular import lagrange_at_zero_times
from crypto.threshold import (
    CHALLENGE_BITS,
    SLACK_BITS,
    DecryptionShare,
    KeyShare,
    ShareProof,
    ThresholdKey,
    combine,
    combine_verified,
    deal,
    deal_with,
    decryption_share,
    decryption_share_with_nonce,
    generate,
    share_challenge,
    share_statement,
    verify_decryption_share,
)

VECTOR = Path(__file__).parent.parent / "vectors" / "decryption_share.json"
CONTEXT = {"election_id": "test-2026", "manifest_hash": "abc", "contest": "mayor", "part": 0}


@pytest.fixture(scope="module")
def dealt(safe_primes: dict) -> tuple[ThresholdKey, list[KeyShare]]:
    p, q = safe_primes[512]
    return deal(p, q, 5, 3)


def encrypt_sum(key: ThresholdKey, plaintexts: list[int]) -> tuple[int, int]:
    """The product of fresh encryptions, and the sum it decrypts to."""
    ciphertexts = [paillier.encrypt_random(key.public_key, m)[0] for m in plaintexts]
    return paillier.multiply(key.public_key, ciphertexts), sum(plaintexts) % key.n


def roundtrip(obj: dict) -> dict:
    return parse_canonical(canonical_bytes(obj))


# --- dealing and decryption -------------------------------------------------------------


@settings(max_examples=30)
@given(st.data())
def test_any_t_subset_decrypts_the_product(safe_primes: dict, data: st.DataObject) -> None:
    trustees = data.draw(st.integers(1, 6), label="trustees")
    threshold = data.draw(st.integers(1, trustees), label="threshold")
    present = data.draw(
        st.lists(st.integers(1, trustees), min_size=threshold, unique=True), label="present"
    )
    p, q = safe_primes[512]
    key, shares = deal(p, q, trustees, threshold)
    plaintexts = data.draw(st.lists(st.integers(0, 2**64), min_size=1, max_size=5))
    ciphertext, expected = encrypt_sum(key, plaintexts)
    made = [decryption_share(shares[i - 1], ciphertext, CONTEXT) for i in present]
    result = combine(key, ciphertext, made, CONTEXT)
    assert result.plaintext == expected
    assert len(result.used) == threshold and set(result.used) <= set(present)
    assert result.rejected == {}


def test_every_t_subset_of_five_decrypts_with_a_1024_bit_key(safe_primes: dict) -> None:
    p, q = safe_primes[1024]
    key, shares = deal(p, q, 5, 3)
    assert key.bits == 1024
    ciphertext, expected = encrypt_sum(key, [7, 2**900, 123456789])
    made = [decryption_share(s, ciphertext, CONTEXT) for s in shares]
    for subset in itertools.combinations(made, 3):
        assert combine(key, ciphertext, list(subset), CONTEXT).plaintext == expected


def test_combining_verified_shares_is_combining(
    dealt: tuple[ThresholdKey, list[KeyShare]],
) -> None:
    """combine_verified (for shares the caller has verified) decrypts as combine does, with
    the same lowest-t choice, and refuses too few shares or two of one trustee."""
    key, shares = dealt
    ciphertext, expected = encrypt_sum(key, [11, 2**40])
    made = [decryption_share(s, ciphertext, CONTEXT) for s in shares]
    for size in range(key.threshold, len(made) + 1):
        for subset in itertools.combinations(made, size):
            result = combine_verified(key, ciphertext, list(subset))
            assert result == combine(key, ciphertext, list(subset), CONTEXT)
            assert result.plaintext == expected
    with pytest.raises(DecryptionError, match=f"need {key.threshold} valid"):
        combine_verified(key, ciphertext, made[: key.threshold - 1])
    with pytest.raises(InvalidInput, match="two shares of one trustee"):
        combine_verified(key, ciphertext, [made[0], made[0], *made[1 : key.threshold]])


def test_plaintext_edges(dealt: tuple[ThresholdKey, list[KeyShare]]) -> None:
    key, shares = dealt
    for m in (0, 1, key.n - 1):
        ciphertext = paillier.encrypt_random(key.public_key, m)[0]
        made = [decryption_share(s, ciphertext, CONTEXT) for s in shares[:3]]
        assert combine(key, ciphertext, made, CONTEXT).plaintext == m


@given(st.data())
def test_fewer_than_t_shares_cannot_decrypt(safe_primes: dict, data: st.DataObject) -> None:
    trustees = data.draw(st.integers(2, 6))
    threshold = data.draw(st.integers(2, trustees))
    present = data.draw(st.lists(st.integers(1, trustees), max_size=threshold - 1, unique=True))
    p, q = safe_primes[512]
    key, shares = deal(p, q, trustees, threshold)
    ciphertext, _ = encrypt_sum(key, [5])
    made = [decryption_share(shares[i - 1], ciphertext, CONTEXT) for i in present]
    with pytest.raises(DecryptionError, match=f"need {threshold} valid .* have {len(present)}"):
        combine(key, ciphertext, made, CONTEXT)


def test_too_few_valid_shares_names_the_rejected(
    dealt: tuple[ThresholdKey, list[KeyShare]],
) -> None:
    key, shares = dealt
    ciphertext, _ = encrypt_sum(key, [5])
    made = [decryption_share(s, ciphertext, CONTEXT) for s in shares[:3]]
    made[1] = dataclasses.replace(made[1], value=made[1].value * (1 + key.n) % key.n_squared)
    with pytest.raises(DecryptionError) as caught:
        combine(key, ciphertext, made, CONTEXT)
    message = str(caught.value)
    assert "have 2" in message and "trustee 2" in message and "challenge" in message


# --- tampering ----------------------------------------------------------------------------

TAMPERINGS = [
    "value",
    "value_negated",
    "value_rehashed",
    "a",
    "b",
    "challenge",
    "response",
    "response_huge",
    "index",
    "index_rehashed",
    "index_proved",
    "context",
    "ciphertext",
]


def proved_as(
    key: ThresholdKey, ciphertext: int, index: int, secret: int, context: dict
) -> DecryptionShare:
    """A share and an honest proof made with `secret`, but claiming trustee `index`'s place:
    the first equation holds, only the verification key v_index can catch it."""
    n2 = key.n_squared
    value = pow(ciphertext, 2 * key.delta * secret, n2)
    r = secrets.randbits(key.response_bits)
    a, b = pow(ciphertext, 4 * r, n2), pow(key.v, r, n2)
    e = share_challenge(key, ciphertext, index, value, a, b, context)
    return DecryptionShare(index, value, ShareProof(a, b, e, r + e * key.delta * secret))


def tamper(
    key: ThresholdKey, ciphertext: int, share: DecryptionShare, how: str, factor: int, secret: int
) -> tuple[DecryptionShare, int, dict]:
    """A modified (share, ciphertext, context); `factor` is a unit != 1 mod n^2 and `secret`
    the key share behind `share`."""
    n2 = key.n_squared
    proof = share.proof
    context = dict(CONTEXT)

    def rehash(index: int, value: int) -> DecryptionShare:
        # a forger who recomputes the Fiat-Shamir challenge: only the algebra can catch it
        e = share_challenge(key, ciphertext, index, value, proof.a, proof.b, context)
        return DecryptionShare(index, value, dataclasses.replace(proof, challenge=e))

    other_index = share.index % key.trustees + 1
    match how:
        case "value":
            share = dataclasses.replace(share, value=share.value * factor % n2)
        case "value_negated":  # same square: only the hash binding c_i itself catches it
            share = dataclasses.replace(share, value=n2 - share.value)
        case "value_rehashed":
            share = rehash(share.index, share.value * factor % n2)
        case "a":
            share = dataclasses.replace(
                share, proof=dataclasses.replace(proof, a=proof.a * factor % n2)
            )
        case "b":
            share = dataclasses.replace(
                share, proof=dataclasses.replace(proof, b=proof.b * factor % n2)
            )
        case "challenge":
            changed = (proof.challenge + factor) % (1 << CHALLENGE_BITS)
            share = dataclasses.replace(share, proof=dataclasses.replace(proof, challenge=changed))
        case "response":
            share = dataclasses.replace(
                share, proof=dataclasses.replace(proof, response=proof.response + factor)
            )
        case "response_huge":
            huge = proof.response + (1 << (key.response_bits + 1))
            share = dataclasses.replace(share, proof=dataclasses.replace(proof, response=huge))
        case "index":
            share = dataclasses.replace(share, index=other_index)
        case "index_rehashed":
            share = rehash(other_index, share.value)
        case "index_proved":
            share = proved_as(key, ciphertext, other_index, secret, context)
        case "context":
            context["part"] = context["part"] + 1
        case "ciphertext":
            ciphertext = ciphertext * factor % n2
    return share, ciphertext, context


@settings(max_examples=60)
@given(
    how=st.sampled_from(TAMPERINGS),
    trustee=st.integers(1, 5),
    factor_seed=st.integers(2, 2**64),
)
def test_every_tampering_is_rejected_naming_the_trustee(
    dealt: tuple[ThresholdKey, list[KeyShare]], how: str, trustee: int, factor_seed: int
) -> None:
    key, shares = dealt
    ciphertext, _ = encrypt_sum(key, [41])
    honest = decryption_share(shares[trustee - 1], ciphertext, CONTEXT)
    verify_decryption_share(key, ciphertext, honest, CONTEXT)
    factor = factor_seed if math.gcd(factor_seed, key.n) == 1 else factor_seed + 1
    secret = shares[trustee - 1].secret
    bad, bad_ciphertext, bad_context = tamper(key, ciphertext, honest, how, factor, secret)
    with pytest.raises(ProofInvalid, match=f"trustee {bad.index}"):
        verify_decryption_share(key, bad_ciphertext, bad, bad_context)


@settings(max_examples=40)
@given(
    how=st.sampled_from([t for t in TAMPERINGS if t not in ("context", "ciphertext")]),
    trustee=st.integers(1, 5),
    factor_seed=st.integers(2, 2**64),
)
def test_bad_share_is_named_and_other_t_still_decrypt(
    dealt: tuple[ThresholdKey, list[KeyShare]], how: str, trustee: int, factor_seed: int
) -> None:
    key, shares = dealt
    ciphertext, expected = encrypt_sum(key, [3, 2**40])
    made = [decryption_share(s, ciphertext, CONTEXT) for s in shares]
    factor = factor_seed if math.gcd(factor_seed, key.n) == 1 else factor_seed + 1
    secret = shares[trustee - 1].secret
    bad, _, _ = tamper(key, ciphertext, made[trustee - 1], how, factor, secret)
    made[trustee - 1] = bad
    if bad.index != trustee:  # an index swap: the forged share claims another trustee's place
        made = [s for s in made if s is bad or s.index != bad.index]
    result = combine(key, ciphertext, made, CONTEXT)
    assert result.plaintext == expected
    assert list(result.rejected) == [bad.index]
    assert bad.index not in result.used and len(result.used) == 3


def test_duplicate_shares(dealt: tuple[ThresholdKey, list[KeyShare]]) -> None:
    key, shares = dealt
    ciphertext, expected = encrypt_sum(key, [9])
    first = decryption_share(shares[0], ciphertext, CONTEXT)
    again = decryption_share(shares[0], ciphertext, CONTEXT)  # fresh proof randomness
    second = decryption_share(shares[1], ciphertext, CONTEXT)
    third = decryption_share(shares[2], ciphertext, CONTEXT)
    # the same share twice counts once
    with pytest.raises(DecryptionError, match="have 2"):
        combine(key, ciphertext, [first, first, second], CONTEXT)
    # two different shares from one trustee: that trustee is rejected, the rest decrypt
    fourth = decryption_share(shares[3], ciphertext, CONTEXT)
    result = combine(key, ciphertext, [first, again, second, third, fourth], CONTEXT)
    assert result.plaintext == expected and result.used == (2, 3, 4)
    assert "different shares" in result.rejected[1]


def test_context_is_canonical_not_ordered(dealt: tuple[ThresholdKey, list[KeyShare]]) -> None:
    key, shares = dealt
    ciphertext, _ = encrypt_sum(key, [1])
    share = decryption_share(shares[0], ciphertext, CONTEXT)
    verify_decryption_share(key, ciphertext, share, dict(reversed(list(CONTEXT.items()))))
    with pytest.raises(ProofInvalid):
        verify_decryption_share(key, ciphertext, share, {**CONTEXT, "contest": "council"})
    with pytest.raises(FormatError):
        decryption_share(shares[0], ciphertext, {"weight": 0.5})


def test_invalid_ciphertext_is_refused(dealt: tuple[ThresholdKey, list[KeyShare]]) -> None:
    key, shares = dealt
    for bad in (0, key.n, 3 * key.n, key.n_squared, key.n_squared + 1):
        with pytest.raises(InvalidInput, match="ciphertext"):
            decryption_share(shares[0], bad, CONTEXT)


def test_response_randomness_is_sized_from_the_modulus(
    dealt: tuple[ThresholdKey, list[KeyShare]],
) -> None:
    key, shares = dealt
    floor = key.n_squared.bit_length() + key.delta.bit_length() + CHALLENGE_BITS + SLACK_BITS
    assert key.response_bits >= floor
    ciphertext, _ = encrypt_sum(key, [1])
    lengths = [decryption_share(s, ciphertext, CONTEXT).proof.response.bit_length() for s in shares]
    # z = r + e Delta s_i with r of response_bits bits: never threshold-sized
    assert all(key.response_bits - 20 <= bits <= key.response_bits + 1 for bits in lengths)


def test_generate_small_key() -> None:
    seen: list[int] = []
    key, shares = generate(128, 3, 2, progress=seen.append)
    assert key.bits == 128 and len(shares) == 3 and seen == sorted(seen)
    ciphertext, expected = encrypt_sum(key, [12345])
    made = [decryption_share(s, ciphertext, CONTEXT) for s in shares[1:]]
    assert combine(key, ciphertext, made, CONTEXT).plaintext == expected


# --- the dealer's checks ------------------------------------------------------------------


def test_deal_refuses_bad_primes_and_counts(safe_primes: dict) -> None:
    p, q = safe_primes[512]
    p_big, _ = safe_primes[1024]
    cases = [
        ((p, p, 3, 2), "q"),
        ((p, p_big, 3, 2), "q"),
        ((p + 2, q, 3, 2), "p"),
        ((p, (q - 1) // 2, 3, 2), "q"),
        ((p, q, 0, 1), "trustees"),
        ((p, q, 3, 0), "threshold"),
        ((p, q, 3, 4), "threshold"),
    ]
    for args, field in cases:
        with pytest.raises(InvalidInput) as caught:
            deal(*args)
        assert caught.value.field == field


def test_dealt_key_is_consistent(
    dealt: tuple[ThresholdKey, list[KeyShare]], safe_primes: dict
) -> None:
    key, shares = dealt
    p, q = safe_primes[512]
    assert key.n == p * q and key.delta == 120
    assert [s.index for s in shares] == [1, 2, 3, 4, 5]
    assert len(set(key.verification_keys)) == 5
    for share in shares:
        assert pow(key.v, key.delta * share.secret, key.n_squared) == key.verification_key(
            share.index
        )


def test_dealing_with_given_randomness_is_deterministic(safe_primes: dict) -> None:
    """deal_with (known-answer vectors): the same choices make the same key and shares, which
    decrypt like any dealt key; r^2 that cannot generate the squares is refused."""
    p, q = safe_primes[512]
    n2 = (p * q) ** 2
    coefficients = [12345678901234567890]
    key, shares = deal_with(p, q, 3, 2, coefficients, 0xC0FFEE)
    again, shares_again = deal_with(p, q, 3, 2, coefficients, 0xC0FFEE)
    assert key == again and [s.secret for s in shares] == [s.secret for s in shares_again]
    # f(X) = d + a_1 X: consecutive secrets differ by a_1 mod nm
    nm = p * q * (p - 1) // 2 * (q - 1) // 2
    assert (shares[1].secret - shares[0].secret) % nm == coefficients[0]
    ciphertext, expected = encrypt_sum(key, [424242])
    made = [decryption_share(s, ciphertext, CONTEXT) for s in (shares[0], shares[2])]
    assert combine(key, ciphertext, made, CONTEXT).plaintext == expected
    for root, field in ((1, "v_root"), (n2 - 1, "v_root"), (p, "v_root")):
        with pytest.raises(InvalidInput) as caught:
            deal_with(p, q, 3, 2, coefficients, root)
        assert caught.value.field == field
    with pytest.raises(InvalidInput, match="coefficients"):
        deal_with(p, q, 3, 2, [], 0xC0FFEE)
    with pytest.raises(InvalidInput, match="coefficients"):
        deal_with(p, q, 3, 2, [nm], 0xC0FFEE)


def test_share_with_given_nonce_is_deterministic(
    dealt: tuple[ThresholdKey, list[KeyShare]],
) -> None:
    key, shares = dealt
    ciphertext, _ = encrypt_sum(key, [7])
    r = 2 ** (key.response_bits - 1) + 99
    share = decryption_share_with_nonce(shares[0], ciphertext, CONTEXT, r)
    assert share == decryption_share_with_nonce(shares[0], ciphertext, CONTEXT, r)
    assert share.proof.a == pow(pow(ciphertext, 4, key.n_squared), r, key.n_squared)
    verify_decryption_share(key, ciphertext, share, CONTEXT)
    for bad in (-1, 2**key.response_bits):
        with pytest.raises(InvalidInput, match="r"):
            decryption_share_with_nonce(shares[0], ciphertext, CONTEXT, bad)


# --- formats and validation ---------------------------------------------------------------


def test_round_trips(dealt: tuple[ThresholdKey, list[KeyShare]]) -> None:
    key, shares = dealt
    assert ThresholdKey.from_dict(roundtrip(key.to_dict()), expected_bits=512) == key
    assert KeyShare.from_dict(roundtrip(shares[2].to_dict())) == shares[2]
    ciphertext, _ = encrypt_sum(key, [1])
    share = decryption_share(shares[2], ciphertext, CONTEXT)
    again = DecryptionShare.from_dict(roundtrip(share.to_dict()), key)
    assert again == share
    verify_decryption_share(key, ciphertext, again, CONTEXT)


def test_key_share_repr_hides_the_secret(dealt: tuple[ThresholdKey, list[KeyShare]]) -> None:
    _, shares = dealt
    for share in shares:
        shown = repr(share) + str(share)
        assert str(share.secret) not in shown and hex_int(share.secret) not in shown


def key_cases(key: ThresholdKey, p: int) -> list[tuple[str, object, str, type]]:
    """(field to change, new JSON value, field named in the error, error class)."""
    n, n2 = key.n, key.n_squared
    non_square = next(x for x in range(2, 1000) if gmpy2.jacobi(x, n) == -1)
    vks = [hex_int(v) for v in key.verification_keys]
    return [
        ("n", hex_int(n + 1), "key.n", InvalidInput),
        ("n", hex_int(p), "key.n", InvalidInput),
        ("n", "0x" + hex_int(n), "key.n", FormatError),
        ("n", hex_int(n).upper(), "key.n", FormatError),
        ("trustees", 0, "key.trustees", InvalidInput),
        ("trustees", "5", "key.trustees", FormatError),
        ("trustees", True, "key.trustees", FormatError),
        ("threshold", 0, "key.threshold", InvalidInput),
        ("threshold", 6, "key.threshold", InvalidInput),
        ("v", hex_int(0), "key.v", InvalidInput),
        ("v", hex_int(1), "key.v", InvalidInput),
        ("v", hex_int(n2 - 1), "key.v", InvalidInput),
        ("v", hex_int(p), "key.v", InvalidInput),
        ("v", hex_int(n2 + key.v), "key.v", InvalidInput),
        ("v", hex_int(non_square), "key.v", InvalidInput),
        ("verification_keys", [*vks[:2], hex_int(non_square), *vks[3:]],
         "key.verification_keys[2]", InvalidInput),
        ("verification_keys", [hex_int(v) for v in key.verification_keys[:4]],
         "key.verification_keys", InvalidInput),
        ("verification_keys", [hex_int(v) for v in key.verification_keys[:4]] + [hex_int(p * 7)],
         "key.verification_keys[4]", InvalidInput),
        ("verification_keys", [hex_int(n2)] + [hex_int(v) for v in key.verification_keys[1:]],
         "key.verification_keys[0]", InvalidInput),
        # order at most 2: every share proof about such a key would be vacuous
        ("verification_keys", [*vks[:1], hex_int(1), *vks[2:]],
         "key.verification_keys[1]", InvalidInput),
        ("verification_keys", [*vks[:3], hex_int(n2 - 1), *vks[4:]],
         "key.verification_keys[3]", InvalidInput),
        ("verification_keys", "nope", "key.verification_keys", FormatError),
        ("extra", 1, "key.extra", FormatError),
    ]  # fmt: skip


def test_key_from_dict_refuses_bad_values(
    dealt: tuple[ThresholdKey, list[KeyShare]], safe_primes: dict
) -> None:
    key, _ = dealt
    p, _ = safe_primes[512]
    for name, value, field, error in key_cases(key, p):
        changed = {**key.to_dict(), name: value}
        with pytest.raises(error) as caught:
            ThresholdKey.from_dict(changed)
        assert caught.value.field == field, (name, value)
    for missing in key.to_dict():
        changed = key.to_dict()
        del changed[missing]
        with pytest.raises(FormatError, match=f"key.{missing}"):
            ThresholdKey.from_dict(changed)
    with pytest.raises(InvalidInput, match="manifest says 1024"):
        ThresholdKey.from_dict(key.to_dict(), expected_bits=1024)
    with pytest.raises(FormatError, match=r"election\.key"):
        ThresholdKey.from_dict([], field="election.key")


def test_decryption_share_from_dict_refuses_bad_values(
    dealt: tuple[ThresholdKey, list[KeyShare]], safe_primes: dict
) -> None:
    key, shares = dealt
    p, _ = safe_primes[512]
    ciphertext, _ = encrypt_sum(key, [1])
    good = decryption_share(shares[0], ciphertext, CONTEXT).to_dict()
    too_big = 1 << (key.response_bits + 1)
    cases = [
        ({"index": 0}, "share.index", InvalidInput),
        ({"index": 6}, "share.index", InvalidInput),
        ({"index": True}, "share.index", FormatError),
        ({"value": hex_int(p)}, "share.value", InvalidInput),
        ({"value": hex_int(key.n_squared)}, "share.value", InvalidInput),
        ({"value": "0"}, "share.value", InvalidInput),
        ({"value": 12}, "share.value", FormatError),
        ({"proof": {**good["proof"], "a": hex_int(key.n)}}, "share.proof.a", InvalidInput),
        ({"proof": {**good["proof"], "b": "0"}}, "share.proof.b", InvalidInput),
        (
            {"proof": {**good["proof"], "challenge": hex_int(1 << CHALLENGE_BITS)}},
            "share.proof.challenge",
            InvalidInput,
        ),
        (
            {"proof": {**good["proof"], "response": hex_int(too_big)}},
            "share.proof.response",
            InvalidInput,
        ),
        ({"proof": {**good["proof"], "z": "1"}}, "share.proof.z", FormatError),
        ({"extra": 1}, "share.extra", FormatError),
    ]
    for change, field, error in cases:
        with pytest.raises(error) as caught:
            DecryptionShare.from_dict({**good, **change}, key, field="share")
        assert caught.value.field == field, change
    # the largest response the bound allows is still parsed
    edge = {**good, "proof": {**good["proof"], "response": hex_int(too_big - 1)}}
    assert DecryptionShare.from_dict(edge, key).proof.response == too_big - 1


def test_key_share_from_dict_checks_the_secret(dealt: tuple[ThresholdKey, list[KeyShare]]) -> None:
    _, shares = dealt
    good = shares[1].to_dict()
    cases = [
        ({"secret": hex_int(shares[2].secret)}, "share.secret", InvalidInput),
        ({"secret": "0"}, "share.secret", InvalidInput),
        ({"index": 3}, "share.secret", InvalidInput),
        ({"index": 9}, "share.index", InvalidInput),
        ({"type": "other"}, "share.type", FormatError),
        ({"version": 2}, "share.version", FormatError),
    ]
    for change, field, error in cases:
        with pytest.raises(error) as caught:
            KeyShare.from_dict({**good, **change}, field="share")
        assert caught.value.field == field, change
    with pytest.raises(InvalidInput, match="manifest says 1024"):
        KeyShare.from_dict(good, expected_bits=1024)


def test_share_proof_checks_directly(dealt: tuple[ThresholdKey, list[KeyShare]]) -> None:
    key, _ = dealt
    with pytest.raises(InvalidInput, match=r"proof\.a"):
        ShareProof(0, 1, 1, 1).check(key)


# --- the known-answer vector --------------------------------------------------------------


def test_known_answer_vector(safe_primes: dict) -> None:
    """decryption_share.json read as an outside implementation would: the dealing, every
    share recomputed from the trustee's secret and nonce, the statement's bytes and digest,
    the refused shares, and every combination's Lagrange coefficients and intermediate
    values, including the negative coefficient of trustees {1, 3}."""
    vector = json.loads(VECTOR.read_text())
    assert vector["domain"] == DOMAINS["decryption_share_proof"]
    key = ThresholdKey.from_dict(vector["key"], expected_bits=vector["key_bits"])
    p, q = safe_primes[512]
    assert key.n == p * q
    assert int(vector["delta"], 16) == key.delta == 6
    assert vector["response_bits"] == key.response_bits
    dealing = vector["dealing"]
    again, key_shares = deal_with(
        p,
        q,
        key.trustees,
        key.threshold,
        [int(a, 16) for a in dealing["coefficients"]],
        int(dealing["v_root"], 16),
    )
    assert again == key
    assert [hex_int(s.secret) for s in key_shares] == [s["secret"] for s in dealing["secrets"]]
    ciphertext = int(vector["ciphertext"], 16)
    assert ciphertext == paillier.encrypt(
        key.public_key,
        int(vector["ciphertext_plaintext"], 16),
        int(vector["ciphertext_randomness"], 16),
    )
    context = vector["context"]
    assert set(context) == {"election_id", "manifest_hash", "district", "contest", "part"}

    for entry, key_share in zip(vector["shares"], key_shares, strict=True):
        share = DecryptionShare.from_dict(entry["share"], key)
        made = decryption_share_with_nonce(key_share, ciphertext, context, int(entry["nonce"], 16))
        assert made == share
        verify_decryption_share(key, ciphertext, share, context)
        # the 256-bit challenge starts with a zero hex digit: written without it
        assert len(entry["share"]["proof"]["challenge"]) < CHALLENGE_BITS // 4

    valid = DecryptionShare.from_dict(vector["valid_share"], key)
    statement = share_statement(
        key, ciphertext, valid.index, valid.value, valid.proof.a, valid.proof.b, context
    )
    assert statement == vector["valid_statement"]
    assert canonical_bytes(statement).hex() == vector["valid_statement_canonical_hex"]
    digest = domain_hash(vector["domain"], statement)
    assert digest.hex() == vector["valid_challenge_digest_hex"]
    assert vector["valid_challenge_digest_hex"].startswith("0")
    assert int.from_bytes(digest, "big") == valid.proof.challenge
    assert hex_int(valid.proof.challenge) == vector["valid_share"]["proof"]["challenge"]

    assert vector["invalid_shares"]
    for case in vector["invalid_shares"]:
        invalid = DecryptionShare.from_dict(case["share"], key)
        with pytest.raises(ProofInvalid, match=case["fails"]):
            verify_decryption_share(key, ciphertext, invalid, context)

    n, n2 = key.n, key.n_squared
    assert vector["combinations"][0]["used"] == [1, 3]
    for combination in vector["combinations"]:
        shares = [DecryptionShare.from_dict(s, key) for s in combination["shares"]]
        by_index = {s.index: s for s in shares}
        used = tuple(combination["used"])
        product = 1
        for entry, power in zip(combination["lagrange"], combination["powers"], strict=True):
            mu = lagrange_at_zero_times(key.delta, entry["index"], used)
            assert entry["mu"] == ("-" if mu < 0 else "") + hex_int(abs(mu))
            value = pow(by_index[entry["index"]].value, 2 * mu, n2)
            assert hex_int(value) == power
            product = product * value % n2
        assert hex_int(product) == combination["product"]
        assert hex_int((product - 1) // n) == combination["l_value"]
        result = combine(key, ciphertext, shares, context)
        assert (
            hex_int(result.plaintext) == combination["plaintext"] == vector["ciphertext_plaintext"]
        )
        assert list(result.used) == combination["used"]
    assert any(entry["mu"].startswith("-") for entry in vector["combinations"][0]["lagrange"])
