"""tally_hash.json: the tally hash that decryption shares bind to (docs/spec.md, "Tally").

Written by tests/vectors/generate.py. Deterministic: every value is derived from SHA-256 of a
label. The tally is small but has every field's real shape; the record carries the same tally
with kind ivote/election-record and a decryption, and hashes to the same tally hash.
"""

from __future__ import annotations

import hashlib
from typing import Any

from canonical.encoding import b64url, canonical_bytes, hex_int, object_hash
from formats.record import ElectionRecord, Tally


def _digest(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def _number(label: str, bits: int) -> int:
    return int.from_bytes(hashlib.sha512(label.encode()).digest(), "big") >> (512 - bits)


def tally_object() -> dict[str, Any]:
    """T: the eight fields of tally.json. The manifest and log head envelopes are stand-ins
    (the hash covers them as JSON values whatever they hold)."""
    counts = {"received": 3, "superseded": 1, "cancelled_by_paper": 0, "invalid": 1, "counted": 1}
    return {
        "version": 1,
        "kind": "ivote/tally",
        "manifest": {"version": 1, "payload": {"election_id": "vector"}, "signature": {}},
        "inputs": {
            "ballot_box": b64url(_digest("ballot box")),
            "voter_list": {"list_version": 1, "hash": b64url(_digest("voter list"))},
            "paper_voters": {"hash": b64url(_digest("paper voters")), "voters": 0},
            # sorted by the hashes' bytes, which is not the order of their base64url text
            "crls": [b64url(d) for d in sorted(_digest(f"crl {i}") for i in range(4))],
        },
        "log": {
            "head": {"version": 1, "payload": {"size": 3}, "signature": {}},
            "leaves": [b64url(_digest(f"leaf {i}")) for i in range(3)],
        },
        "report": {
            "total": counts,
            "districts": {"north": counts},
            "invalid_ballots": [
                {"log_index": 0, "district": "north", "reason": "signature", "detail": "x"}
            ],
        },
        "totals": [
            {"district": "north", "contest": "c1", "part": 0, "ciphertext": hex_int(c)}
            for c in [_number("total", 250)]
        ],
        "observers_bundle": {"hash": b64url(_digest("bundle")), "ballots": 1},
    }


def vectors() -> dict[str, Any]:
    tally = tally_object()
    record = {
        **tally,
        "kind": "ivote/election-record",
        "decryption": {"shares": [], "plaintexts": ["1"], "results": []},
    }
    digest = object_hash(tally)
    # the project's own parsers agree (they refuse a vector that is not well formed)
    assert Tally.from_dict(tally).hash == digest
    assert ElectionRecord.from_dict(record).tally.hash == digest
    return {
        "description": "The tally hash H(T) (docs/spec.md, Tally): T is tally.json's object; "
        "for a record, T is the record without decryption and with kind ivote/tally.",
        "tally": tally,
        "tally_canonical_hex": canonical_bytes(tally).hex(),
        "record": record,
        "tally_hash": b64url(digest),
        "tally_hash_hex": digest.hex(),
    }


VECTORS = {"tally_hash.json": vectors}
