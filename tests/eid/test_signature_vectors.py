"""tests/vectors/signatures.json read as an outside implementation would: the signed bytes,
the signatures under the published keys, and which envelopes the project accepts."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from canonical.encoding import DOMAINS, b64url, canonical_bytes, parse_b64url
from crypto.eid import EidError
from formats.manifest import Manifest, open_signed_manifest
from formats.receipt import LogHead
from formats.signed import open_signed
from verifier.record import open_log_head

VECTOR = json.loads((Path(__file__).parents[1] / "vectors" / "signatures.json").read_text())


@pytest.mark.parametrize("name", ["manifest", "log_head"])
def test_signed_bytes_and_signature(name: str) -> None:
    case = VECTOR[name]
    data = bytes.fromhex(case["signing_input_hex"])
    payload = canonical_bytes(case["payload"])
    assert payload.hex() == case["payload_canonical_hex"]
    assert data == case["domain"].encode("ascii") + b"\x00" + payload
    assert hashlib.sha384(data).hexdigest() == case["signing_input_sha384_hex"]
    signature = bytes.fromhex(case["signature_der_hex"])
    assert decode_dss_signature(signature) == (
        int(case["signature_r"], 16),
        int(case["signature_s"], 16),
    )
    assert parse_b64url(case["signed"]["signature"]["value"], "value") == signature
    signer = "organiser" if name == "manifest" else "collector"
    point = bytes.fromhex(VECTOR["public_keys_uncompressed_hex"][signer])
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP384R1(), point)
    key.verify(signature, data, ec.ECDSA(hashes.SHA384()))
    certificate = parse_b64url(VECTOR["certificates"][signer], "certificate")
    assert case["signed"]["signature"]["certificate"] == b64url(certificate)


def test_manifest_opens_under_the_organiser_certificate() -> None:
    organiser = x509.load_der_x509_certificate(
        parse_b64url(VECTOR["certificates"]["organiser"], "organiser")
    )
    opened = open_signed_manifest(VECTOR["manifest"]["signed"], organiser_certificate=organiser)
    assert opened.manifest.hash.hex() == VECTOR["manifest_hash_hex"]
    assert (
        opened.manifest.hash
        == hashlib.sha256(canonical_bytes(VECTOR["manifest"]["payload"])).digest()
    )


def test_log_head_signer_is_a_listed_collector_certificate_byte_for_byte() -> None:
    manifest = Manifest.from_dict(VECTOR["manifest"]["payload"])
    listed = manifest.trust.collector_certificates
    signed = VECTOR["log_head"]["signed"]
    assert parse_b64url(signed["signature"]["certificate"], "certificate") in listed
    head, problems = open_log_head(signed, manifest)
    assert problems == [] and head == LogHead.from_dict(VECTOR["log_head"]["payload"])
    for case in VECTOR["refused_log_heads"]:
        assert open_log_head(case["signed"], manifest)[1], case["why"]
        for certificate in manifest.trust.collectors():
            with pytest.raises((EidError, ValueError)):
                open_signed(case["signed"], DOMAINS["log_head"], expected_cert=certificate)
