"""Merkle tree hashing of the ballot log, as in Certificate Transparency (RFC 9162, section 2.1).

- leaf hash  MTH({d}) = SHA-256(0x00 || d)
- node hash  SHA-256(0x01 || left || right)
- the tree head of n leaves splits at k, the largest power of two below n
- inclusion proofs (audit paths) and consistency proofs between two sizes, and their checks,
  written after the RFC's verification algorithms (2.1.3.2 and 2.1.4.2)

Trees are given as sequences of leaf hashes; `Frontier` keeps the right edge of a growing tree
(O(log n) hashes) so that an append-only log gets its new root without rehashing every leaf.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from crypto.errors import InvalidInput, ProofInvalid

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


# A function returning the root of leaves[start:end]; lets callers cache complete subtrees.
SubtreeRoot = Callable[[int, int], bytes]


def _plain_subtree_root(leaves: Sequence[bytes]) -> SubtreeRoot:
    def root(start: int, end: int) -> bytes:
        n = end - start
        if n == 0:
            return EMPTY_ROOT
        if n == 1:
            return leaves[start]
        k = _split(n)
        return node_hash(root(start, start + k), root(start + k, end))

    return root


def cached_subtree_root(leaves: Sequence[bytes], min_cached: int = 64) -> SubtreeRoot:
    """A SubtreeRoot that remembers the complete, aligned subtrees of at least `min_cached`
    leaves. Those never change as an append-only log grows, so `leaves` may be a list that
    grows; after the first proof over a log, later proofs cost O(min_cached log n) hashes."""
    cache: dict[tuple[int, int], bytes] = {}

    def root(start: int, end: int) -> bytes:
        n = end - start
        if n == 0:
            return EMPTY_ROOT
        if n == 1:
            return leaves[start]
        cached = cache.get((start, end))
        if cached is not None:
            return cached
        k = _split(n)
        value = node_hash(root(start, start + k), root(start + k, end))
        if n >= min_cached and n & (n - 1) == 0 and start % n == 0:
            cache[(start, end)] = value
        return value

    return root


def root_hash(leaves: Sequence[bytes], subtree: SubtreeRoot | None = None) -> bytes:
    """The tree head (root hash) of the given leaf hashes."""
    return (subtree or _plain_subtree_root(leaves))(0, len(leaves))


def _check_size(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidInput(name, "not a non-negative integer")


def inclusion_proof(
    leaves: Sequence[bytes], index: int, size: int | None = None, subtree: SubtreeRoot | None = None
) -> list[bytes]:
    """PATH(index, D[size]): the audit path of leaf `index` in the tree of the first `size`."""
    size = len(leaves) if size is None else size
    _check_size("size", size)
    _check_size("index", index)
    if size > len(leaves) or index >= size:
        raise InvalidInput("index", f"leaf {index} is not in a tree of {size} leaves")
    root = subtree or _plain_subtree_root(leaves)
    path: list[bytes] = []

    def walk(m: int, start: int, end: int) -> None:
        n = end - start
        if n <= 1:
            return
        k = _split(n)
        if m < k:
            walk(m, start, start + k)
            path.append(root(start + k, end))
        else:
            walk(m - k, start + k, end)
            path.append(root(start, start + k))

    walk(index, 0, size)
    return path


def consistency_proof(
    leaves: Sequence[bytes],
    old_size: int,
    new_size: int | None = None,
    subtree: SubtreeRoot | None = None,
) -> list[bytes]:
    """PROOF(old_size, D[new_size]): shows the first tree is a prefix of the second."""
    new_size = len(leaves) if new_size is None else new_size
    _check_size("old_size", old_size)
    _check_size("new_size", new_size)
    if new_size > len(leaves) or old_size > new_size:
        raise InvalidInput("old_size", f"{old_size} is not within a tree of {new_size} leaves")
    if old_size in (0, new_size):
        return []
    root = subtree or _plain_subtree_root(leaves)
    proof: list[bytes] = []

    def subproof(m: int, start: int, end: int, complete: bool) -> None:
        n = end - start
        if m == n:
            if not complete:
                proof.append(root(start, end))
            return
        k = _split(n)
        if m <= k:
            subproof(m, start, start + k, complete)
            proof.append(root(start + k, end))
        else:
            subproof(m - k, start + k, end, False)
            proof.append(root(start, start + k))

    subproof(old_size, 0, new_size, True)
    return proof


def _check_proof_hashes(proof: Sequence[bytes], what: str) -> None:
    for position, item in enumerate(proof):
        if not isinstance(item, bytes) or len(item) != HASH_SIZE:
            raise InvalidInput(f"{what}[{position}]", f"not a {HASH_SIZE}-byte hash")


def root_from_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root that `proof` implies for `leaf` at `index` in a tree of `size` (RFC 9162
    2.1.3.2); raises ProofInvalid when the proof has the wrong shape for that position."""
    _check_size("size", size)
    _check_size("index", index)
    _check_proof_hashes(proof, "inclusion_proof")
    if index >= size:
        raise ProofInvalid("inclusion proof", f"index {index} is not below size {size}")
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise ProofInvalid("inclusion proof", "longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofInvalid("inclusion proof", "shorter than the path to the root")
    return r


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise ProofInvalid unless `leaf` is leaf `index` of the tree of `size` with `root`."""
    if root_from_inclusion(leaf, index, size, proof) != root:
        raise ProofInvalid("inclusion proof", "does not lead to the signed root hash")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise ProofInvalid unless the tree (old_size, old_root) is a prefix of (new_size,
    new_root), by RFC 9162 2.1.4.2."""
    _check_size("old_size", old_size)
    _check_size("new_size", new_size)
    _check_proof_hashes(proof, "consistency_proof")
    if old_size > new_size:
        raise ProofInvalid("consistency proof", "old size above new size")
    if old_size == new_size:
        if proof:
            raise ProofInvalid("consistency proof", "must be empty for equal sizes")
        if old_root != new_root:
            raise ProofInvalid("consistency proof", "equal sizes with different roots")
        return
    if old_size == 0:
        if proof:
            raise ProofInvalid("consistency proof", "must be empty from the empty tree")
        return
    path = list(proof)
    if not path:
        raise ProofInvalid("consistency proof", "empty")
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofInvalid("consistency proof", "longer than needed")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofInvalid("consistency proof", "shorter than needed")
    if fr != old_root:
        raise ProofInvalid("consistency proof", "does not lead to the old root hash")
    if sr != new_root:
        raise ProofInvalid("consistency proof", "does not lead to the new root hash")


@dataclass(frozen=True)
class Frontier:
    """The right edge of an append-only tree: the roots of its complete subtrees, largest
    first (one per set bit of `size`). Appending and the root need O(log size) hashes."""

    size: int
    nodes: tuple[bytes, ...]

    @classmethod
    def empty(cls) -> Frontier:
        return cls(0, ())

    @classmethod
    def of(cls, leaves: Sequence[bytes]) -> Frontier:
        frontier = cls.empty()
        for leaf in leaves:
            frontier = frontier.append(leaf)
        return frontier

    def __post_init__(self) -> None:
        if self.size < 0 or len(self.nodes) != bin(self.size).count("1"):
            raise InvalidInput("frontier", f"{len(self.nodes)} nodes for size {self.size}")

    def append(self, leaf: bytes) -> Frontier:
        nodes = list(self.nodes)
        carry = leaf
        size = self.size
        # Each trailing set bit of size is a complete subtree the new leaf's subtree merges with.
        while size & 1:
            carry = node_hash(nodes.pop(), carry)
            size >>= 1
        nodes.append(carry)
        return Frontier(self.size + 1, tuple(nodes))

    def root(self) -> bytes:
        if not self.nodes:
            return EMPTY_ROOT
        r = self.nodes[-1]
        for node in reversed(self.nodes[:-1]):
            r = node_hash(node, r)
        return r
