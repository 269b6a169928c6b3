"""crypto.merkle against a naive transcription of RFC 6962/9162's recursive definitions."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from canonical.encoding import canonical_bytes
from crypto import merkle
from crypto.errors import InvalidInput, ProofInvalid

VECTORS = Path(__file__).parents[1] / "vectors" / "merkle.json"


# --- the reference: the RFC's definitions, written as literally as possible -------------------
def ref_mth(data: list[bytes]) -> bytes:
    n = len(data)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + data[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + ref_mth(data[:k]) + ref_mth(data[k:])).digest()


def ref_path(m: int, data: list[bytes]) -> list[bytes]:
    n = len(data)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*ref_path(m, data[:k]), ref_mth(data[k:])]
    return [*ref_path(m - k, data[k:]), ref_mth(data[:k])]


def ref_subproof(m: int, data: list[bytes], b: bool) -> list[bytes]:
    n = len(data)
    if m == n:
        return [] if b else [ref_mth(data)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*ref_subproof(m, data[:k], b), ref_mth(data[k:])]
    return [*ref_subproof(m - k, data[k:], False), ref_mth(data[:k])]


def ref_proof(m: int, data: list[bytes]) -> list[bytes]:
    return ref_subproof(m, data, True)


# ----------------------------------------------------------------------------------------------
entries = st.lists(st.binary(max_size=8), min_size=1, max_size=70, unique=True)


def hashed(data: list[bytes]) -> list[bytes]:
    return [merkle.leaf_hash(d) for d in data]


def test_known_answers() -> None:
    # The empty tree and a one-leaf tree, straight from the RFC's definitions.
    assert merkle.root_hash([]).hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert merkle.leaf_hash(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )


@given(entries)
def test_root_and_frontier_match_reference(data: list[bytes]) -> None:
    leaves = hashed(data)
    assert merkle.root_hash(leaves) == ref_mth(data)
    frontier = merkle.Frontier.empty()
    for i, leaf in enumerate(leaves):
        frontier = frontier.append(leaf)
        assert frontier.root() == ref_mth(data[: i + 1])
    assert merkle.Frontier.of(leaves) == frontier


@given(entries, st.data())
def test_inclusion_matches_reference_and_verifies(data: list[bytes], draw: st.DataObject) -> None:
    leaves = hashed(data)
    size = draw.draw(st.integers(1, len(leaves)))
    index = draw.draw(st.integers(0, size - 1))
    proof = merkle.inclusion_proof(leaves, index, size)
    assert proof == ref_path(index, data[:size])
    root = ref_mth(data[:size])
    merkle.verify_inclusion(leaves[index], index, size, proof, root)
    # the same proof does not place another leaf, or this leaf elsewhere
    with pytest.raises(ProofInvalid):
        merkle.verify_inclusion(merkle.leaf_hash(b"other" + data[index]), index, size, proof, root)
    if size > 1:
        other = (index + 1) % size
        with pytest.raises(ProofInvalid):
            merkle.verify_inclusion(leaves[index], other, size, proof, root)
    if proof:
        broken = [*proof]
        broken[-1] = bytes(32)
        with pytest.raises(ProofInvalid):
            merkle.verify_inclusion(leaves[index], index, size, broken, root)
        with pytest.raises(ProofInvalid):
            merkle.verify_inclusion(leaves[index], index, size, proof[:-1], root)
    with pytest.raises(ProofInvalid):
        merkle.verify_inclusion(leaves[index], index, size, [*proof, bytes(32)], root)


@given(entries, st.data())
def test_consistency_matches_reference_and_verifies(data: list[bytes], draw: st.DataObject) -> None:
    leaves = hashed(data)
    new_size = draw.draw(st.integers(1, len(leaves)))
    old_size = draw.draw(st.integers(1, new_size))
    proof = merkle.consistency_proof(leaves, old_size, new_size)
    assert proof == (ref_proof(old_size, data[:new_size]) if old_size < new_size else [])
    old_root, new_root = ref_mth(data[:old_size]), ref_mth(data[:new_size])
    merkle.verify_consistency(old_size, new_size, old_root, new_root, proof)
    if old_size < new_size:
        # a rewritten history does not pass: another old root, another new root, tampered proof
        with pytest.raises(ProofInvalid):
            merkle.verify_consistency(old_size, new_size, bytes(32), new_root, proof)
        with pytest.raises(ProofInvalid):
            merkle.verify_consistency(old_size, new_size, old_root, bytes(32), proof)
        broken = [*proof]
        broken[0] = bytes(32)
        with pytest.raises(ProofInvalid):
            merkle.verify_consistency(old_size, new_size, old_root, new_root, broken)
        with pytest.raises(ProofInvalid):
            merkle.verify_consistency(old_size, new_size, old_root, new_root, proof[:-1])
        with pytest.raises(ProofInvalid):
            merkle.verify_consistency(old_size, new_size, old_root, new_root, [*proof, bytes(32)])


@given(entries, st.data())
def test_changed_leaf_breaks_consistency(data: list[bytes], draw: st.DataObject) -> None:
    if len(data) < 2:
        return
    new_size = len(data)
    old_size = draw.draw(st.integers(1, new_size - 1))
    position = draw.draw(st.integers(0, old_size - 1))
    forged = [*data]
    forged[position] = forged[position] + b"!"
    proof = merkle.consistency_proof(hashed(forged), old_size)
    with pytest.raises(ProofInvalid):
        merkle.verify_consistency(
            old_size, new_size, ref_mth(data[:old_size]), ref_mth(forged), proof
        )


def test_caller_cache_gives_same_proofs() -> None:
    leaves = hashed([bytes([i]) for i in range(37)])
    calls: dict[tuple[int, int], bytes] = {}
    plain = merkle._plain_subtree_root(leaves)

    def cached(start: int, end: int) -> bytes:
        if (start, end) not in calls:
            calls[(start, end)] = plain(start, end)
        return calls[(start, end)]

    for index in range(37):
        assert merkle.inclusion_proof(leaves, index, subtree=cached) == merkle.inclusion_proof(
            leaves, index
        )
    assert merkle.consistency_proof(leaves, 5, subtree=cached) == ref_proof(
        5, [bytes([i]) for i in range(37)]
    )


@given(st.lists(st.binary(max_size=4), min_size=1, max_size=70), st.data())
def test_the_cached_subtree_root_of_a_growing_log_gives_the_plain_proofs(
    data: list[bytes], draw: st.DataObject
) -> None:
    """crypto.merkle.cached_subtree_root over a list that grows (the collector's leaves): a
    cached subtree is never stale, so every proof equals the one made without a cache."""
    all_leaves = hashed(data)
    growing: list[bytes] = []
    cached = merkle.cached_subtree_root(growing, min_cached=2)
    for leaf in all_leaves:
        growing.append(leaf)
        size = len(growing)
        assert merkle.root_hash(growing, cached) == merkle.root_hash(growing)
        old = draw.draw(st.integers(0, size))
        index = draw.draw(st.integers(0, size - 1))
        assert merkle.consistency_proof(growing, old, size, cached) == merkle.consistency_proof(
            growing, old, size
        )
        assert merkle.inclusion_proof(growing, index, size, cached) == merkle.inclusion_proof(
            growing, index, size
        )


def test_bad_arguments_are_named() -> None:
    leaves = hashed([b"a", b"b", b"c"])
    with pytest.raises(InvalidInput, match="index"):
        merkle.inclusion_proof(leaves, 3)
    with pytest.raises(InvalidInput, match="old_size"):
        merkle.consistency_proof(leaves, 4)
    with pytest.raises(InvalidInput, match=r"inclusion_proof\[0\]"):
        merkle.verify_inclusion(leaves[0], 0, 3, [b"short"], bytes(32))
    with pytest.raises(ProofInvalid):
        merkle.verify_inclusion(leaves[0], 3, 3, [], bytes(32))
    with pytest.raises(ProofInvalid):
        merkle.verify_consistency(3, 2, bytes(32), bytes(32), [])
    with pytest.raises(InvalidInput, match="frontier"):
        merkle.Frontier(3, (bytes(32),))


# --- the known-answer vectors (tests/vectors/merkle.json) --------------------------------------
def test_vectors_against_the_reference() -> None:
    """Every value of merkle.json from the RFC's definitions (the reference above), and every
    proof checked by crypto.merkle: the valid ones pass, the refused ones are refused."""
    vector = json.loads(VECTORS.read_text())
    data = []
    for item in vector["entries"]:
        entry_bytes = canonical_bytes(item["entry"])
        assert entry_bytes.hex() == item["entry_canonical_hex"]
        assert merkle.leaf_hash(entry_bytes).hex() == item["leaf_hash_hex"]
        data.append(entry_bytes)
    leaves = hashed(data)
    for item in vector["roots"]:
        assert ref_mth(data[: item["size"]]).hex() == item["root_hash_hex"]
    assert {item["size"] for item in vector["roots"]} >= {0, 1, 5, 8, 13}
    for item in vector["inclusion"]:
        index, size = item["index"], item["size"]
        proof = [bytes.fromhex(h) for h in item["proof_hex"]]
        assert proof == ref_path(index, data[:size])
        merkle.verify_inclusion(
            leaves[index], index, size, proof, bytes.fromhex(item["root_hash_hex"])
        )
    for item in vector["consistency"]:
        old, new = item["old_size"], item["new_size"]
        proof = [bytes.fromhex(h) for h in item["proof_hex"]]
        assert proof == ([] if old in (0, new) else ref_proof(old, data[:new]))
        old_root, new_root = (
            bytes.fromhex(item["old_root_hex"]),
            bytes.fromhex(item["new_root_hex"]),
        )
        merkle.verify_consistency(old, new, old_root, new_root, proof)
    for item in vector["refused_inclusion"]:
        with pytest.raises(ProofInvalid):
            merkle.verify_inclusion(
                bytes.fromhex(item["leaf_hash_hex"]),
                item["index"],
                item["size"],
                [bytes.fromhex(h) for h in item["proof_hex"]],
                bytes.fromhex(item["root_hash_hex"]),
            )
    for item in vector["refused_consistency"]:
        with pytest.raises(ProofInvalid):
            merkle.verify_consistency(
                item["old_size"],
                item["new_size"],
                bytes.fromhex(item["old_root_hex"]),
                bytes.fromhex(item["new_root_hex"]),
                [bytes.fromhex(h) for h in item["proof_hex"]],
            )
