"""merkle.json and signatures.json (tests/vectors/README.md): the ballot log's Merkle tree
(RFC 9162) over log entries, and the exact signed bytes of the vector election's manifest and
of a log head over those entries, with signatures that verify. Deterministic: entries derived
from labels, ECDSA nonces by RFC 6979 (tests.vectors.fixed.DeterministicSigner)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from canonical.encoding import DOMAINS, b64url, canonical_bytes, hex_int, parse_b64url
from crypto import merkle
from crypto.eid import ALGORITHM, signing_input
from crypto.errors import InvalidInput, ProofInvalid
from formats.manifest import open_signed_manifest
from formats.receipt import LogHead, log_entry
from formats.signed import sign_object
from tests.vectors.fixed import (
    DeterministicSigner,
    der,
    derived_bytes,
    vector_manifest,
    vector_pki,
)
from verifier.record import open_log_head

LEAVES = 13
FIRST_RECEIVED = int(dt.datetime(2026, 3, 1, 7, 0, tzinfo=dt.UTC).timestamp() * 1000)
INCLUSIONS = [(0, 1), (0, 2), (1, 2), (2, 3), (0, 5), (4, 5), (3, 7), (6, 7), (0, 8), (5, 8),
              (7, 8), (0, 13), (9, 13), (12, 13)]  # fmt: skip
CONSISTENCIES = [(0, 5), (1, 1), (1, 2), (1, 8), (2, 5), (3, 7), (4, 8), (5, 13), (7, 13),
                 (8, 13), (12, 13), (13, 13)]  # fmt: skip


def _entries() -> list[dict[str, Any]]:
    """Log entries as the collector writes them: a ballot hash and its receive time (ms)."""
    return [
        log_entry(derived_bytes(f"merkle/ballot{i}"), FIRST_RECEIVED + 1000 * i)
        for i in range(LEAVES)
    ]


def _leaf_hashes() -> list[bytes]:
    return [merkle.leaf_hash(canonical_bytes(entry)) for entry in _entries()]


def _hexes(items: Sequence[bytes]) -> list[str]:
    return [item.hex() for item in items]


def _refused(check: Callable[[], None]) -> bool:
    try:
        check()
    except (ProofInvalid, InvalidInput):
        return True
    return False


def merkle_vectors() -> dict[str, Any]:
    entries = _entries()
    leaves = _leaf_hashes()
    roots = [merkle.root_hash(leaves[:size]) for size in range(LEAVES + 1)]
    assert roots[LEAVES] == merkle.Frontier.of(leaves).root()
    inclusion = []
    for index, size in INCLUSIONS:
        path = merkle.inclusion_proof(leaves, index, size)
        merkle.verify_inclusion(leaves[index], index, size, path, roots[size])
        inclusion.append(
            {
                "index": index,
                "size": size,
                "leaf_hash_hex": leaves[index].hex(),
                "proof_hex": _hexes(path),
                "root_hash_hex": roots[size].hex(),
            }
        )
    consistency = []
    for old, new in CONSISTENCIES:
        path = merkle.consistency_proof(leaves, old, new)
        merkle.verify_consistency(old, new, roots[old], roots[new], path)
        consistency.append(
            {
                "old_size": old,
                "new_size": new,
                "proof_hex": _hexes(path),
                "old_root_hex": roots[old].hex(),
                "new_root_hex": roots[new].hex(),
            }
        )
    # proofs a verifier must refuse, each next to the valid one it was made from
    path_9 = merkle.inclusion_proof(leaves, 9, 13)
    flipped = bytes([path_9[1][0] ^ 1]) + path_9[1][1:]
    consistency_5 = merkle.consistency_proof(leaves, 5, 13)
    refused_inclusion = [
        {"why": "a proof node changed (one bit)", "index": 9, "size": 13,
         "proof_hex": _hexes([path_9[0], flipped, *path_9[2:]])},
        {"why": "the last proof node left out", "index": 9, "size": 13,
         "proof_hex": _hexes(path_9[:-1])},
        {"why": "one node too many", "index": 9, "size": 13,
         "proof_hex": _hexes([*path_9, roots[1]])},
        {"why": "the right proof at the wrong index", "index": 8, "size": 13,
         "proof_hex": _hexes(path_9)},
    ]  # fmt: skip
    for case in refused_inclusion:
        case["leaf_hash_hex"] = leaves[9].hex()
        case["root_hash_hex"] = roots[13].hex()
        proof = [bytes.fromhex(item) for item in case["proof_hex"]]
        assert _refused(
            lambda c=case, p=proof: merkle.verify_inclusion(
                leaves[9], c["index"], c["size"], p, roots[13]
            )
        ), case["why"]
    refused_consistency = [
        {"why": "the old root of another size", "old_size": 5, "new_size": 13,
         "proof_hex": _hexes(consistency_5), "old_root_hex": roots[4].hex(),
         "new_root_hex": roots[13].hex()},
        {"why": "a non-empty proof from the empty tree", "old_size": 0, "new_size": 13,
         "proof_hex": _hexes(consistency_5[:1]), "old_root_hex": roots[0].hex(),
         "new_root_hex": roots[13].hex()},
        {"why": "equal sizes with different roots", "old_size": 13, "new_size": 13,
         "proof_hex": [], "old_root_hex": roots[12].hex(), "new_root_hex": roots[13].hex()},
        {"why": "the last proof node left out", "old_size": 5, "new_size": 13,
         "proof_hex": _hexes(consistency_5[:-1]), "old_root_hex": roots[5].hex(),
         "new_root_hex": roots[13].hex()},
    ]  # fmt: skip
    for case in refused_consistency:
        proof = [bytes.fromhex(item) for item in case["proof_hex"]]
        assert _refused(
            lambda c=case, p=proof: merkle.verify_consistency(
                c["old_size"],
                c["new_size"],
                bytes.fromhex(c["old_root_hex"]),
                bytes.fromhex(c["new_root_hex"]),
                p,
            )
        ), case["why"]
    vector = {
        "description": "The ballot log's Merkle tree (docs/spec.md, Receipt and ballot log; "
        "RFC 9162 2.1): log entries, their leaf hashes SHA-256(0x00 || canonical entry), "
        "the root of every prefix of 0..13 leaves, inclusion proofs (2.1.3) and consistency "
        "proofs (2.1.4) that verify, and proofs that must be refused.",
        "entries": [
            {
                "entry": entry,
                "entry_canonical_hex": canonical_bytes(entry).hex(),
                "leaf_hash_hex": leaf.hex(),
            }
            for entry, leaf in zip(entries, leaves, strict=True)
        ],
        "roots": [{"size": size, "root_hash_hex": root.hex()} for size, root in enumerate(roots)],
        "inclusion": inclusion,
        "consistency": consistency,
        "refused_inclusion": refused_inclusion,
        "refused_consistency": refused_consistency,
    }
    hashes = [r.hex() for r in roots] + [item for c in inclusion for item in c["proof_hex"]]
    assert any(h.startswith("0") for h in hashes)  # fixed-width hex keeps leading zeros
    return vector


# -- signatures ----------------------------------------------------------------------------


def _signature_case(signer: DeterministicSigner, domain: str, payload: dict[str, Any]) -> dict:
    envelope = sign_object(signer, domain, payload)
    value = parse_b64url(envelope["signature"]["value"], "value")
    r, s = decode_dss_signature(value)
    data = signing_input(domain, payload)
    return {
        "domain": domain,
        "payload": payload,
        "payload_canonical_hex": canonical_bytes(payload).hex(),
        "signing_input_hex": data.hex(),
        "signing_input_sha384_hex": hashlib.sha384(data).hexdigest(),
        "signature_der_hex": value.hex(),
        "signature_r": hex_int(r),
        "signature_s": hex_int(s),
        "signed": envelope,
    }


def _public_key_hex(signer: DeterministicSigner) -> str:
    """The SEC 1 uncompressed point 04 || X || Y (97 bytes) of the signer's key."""
    public = signer.certificate.public_key()
    return public.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint).hex()


def signature_vectors() -> dict[str, Any]:
    pki = vector_pki()
    manifest = vector_manifest()
    manifest_case = _signature_case(pki.organiser, DOMAINS["manifest"], manifest.to_dict())
    opened = open_signed_manifest(
        manifest_case["signed"], organiser_certificate=pki.organiser.certificate
    )
    assert opened.manifest.canonical() == manifest.canonical()
    leaves = _leaf_hashes()
    head = LogHead(manifest.election_id, LEAVES, merkle.root_hash(leaves),
                   FIRST_RECEIVED + 1000 * LEAVES)  # fmt: skip
    head_case = _signature_case(pki.collector, DOMAINS["log_head"], head.to_dict())
    opened_head, problems = open_log_head(head_case["signed"], manifest)
    assert problems == [] and opened_head == head, problems
    # the collector's key and payload, but another certificate for that key in the envelope
    unlisted = sign_object(pki.collector, DOMAINS["log_head"], head.to_dict())
    unlisted["signature"]["certificate"] = b64url(der(pki.collector_unlisted))
    refused = [
        {
            "why": "signed with the collector's key, but the envelope's certificate (serial "
            "0x1004, same subject and key) is not byte for byte one of the manifest's "
            "trust.collector_certificates; the signature itself verifies under it",
            "signed": unlisted,
        },
        {
            "why": "signed by the organiser, whose certificate is not a collector certificate",
            "signed": sign_object(pki.organiser, DOMAINS["log_head"], head.to_dict()),
        },
        {
            "why": "the collector's signature of the same payload under the receipt domain",
            "signed": sign_object(pki.collector, DOMAINS["receipt"], head.to_dict()),
        },
    ]
    for case in refused:
        assert open_log_head(case["signed"], manifest)[1], case["why"]
    return {
        "description": "Signed objects (docs/spec.md, Signatures and Signed envelope): the "
        "vector election's manifest signed by the organiser and a log head over the 13 "
        "entries of merkle.json signed by the collector, with the exact signing input "
        "ascii(domain) || 0x00 || canonical(payload), the signature (DER and r, s) and the "
        "envelope; and log heads that must be refused. ECDSA nonces are RFC 6979's, so the "
        "signatures are reproducible; any valid signature verifies the same way.",
        "algorithm": ALGORITHM,
        "certificates": {
            "ca": b64url(der(pki.ca.certificate)),
            "organiser": b64url(der(pki.organiser.certificate)),
            "collector": b64url(der(pki.collector.certificate)),
            "collector_unlisted": b64url(der(pki.collector_unlisted)),
        },
        "public_keys_uncompressed_hex": {
            "organiser": _public_key_hex(pki.organiser),
            "collector": _public_key_hex(pki.collector),
        },
        "manifest_hash_hex": manifest.hash.hex(),
        "manifest": manifest_case,
        "log_head": head_case,
        "refused_log_heads": refused,
    }


VECTORS = {"merkle.json": merkle_vectors, "signatures.json": signature_vectors}
