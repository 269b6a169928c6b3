"""The key-proofs check (`key-proofs`): a real record passes it; each change to the published
key-proofs document (its modulus proof, a trustee's parameters or their proof, a
no-small-factor proof, a trustee missing or repeated, version 1) is refused by `ivote verify`
with that check alone failing and the problem named; a manifest that names no proofs or other
proofs fails it; trustees do not decrypt a tally whose key is not proven."""

from __future__ import annotations

import copy
import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from support.election import FIXTURE_PRIMES, trustee_passphrase
from tally_helpers import Finished, run

from canonical.encoding import DOMAINS, FormatError, hex_int, parse_hex_int
from crypto.keyproofs import prove_modulus
from formats.keyproofs import (
    KeyProofs,
    TrusteeParameters,
    key_proofs_problems,
    modulus_proof_context,
    ring_pedersen_context,
)
from formats.manifest import ElectionDirectory, Manifest
from formats.record import Tally
from formats.signed import open_signed
from verifier.record import CHECKS, DECRYPTION_CHECKS, verify_record

Doc = dict[str, Any]


def _manifest(record: Doc) -> Manifest:
    payload, _, _ = open_signed(record["manifest"], DOMAINS["manifest"], where="manifest")
    return Manifest.from_dict(payload)


def _verify_cli(tmp_path: Path, record: Doc, bundle: Doc) -> dict[str, Any]:
    (tmp_path / "record.json").write_text(json.dumps(record))
    (tmp_path / "observers-bundle.json").write_text(json.dumps(bundle))
    result = run("verify", "--allow-test-key", str(tmp_path), "--json", "--workers", "1")
    verdict = json.loads(result.output.strip().splitlines()[-1])
    assert result.exit_code == (1 if verdict["failed"] else 0)
    return verdict


@pytest.fixture(scope="module")
def originals(finished: Finished) -> tuple[Doc, Doc]:
    return finished.record_doc(), finished.bundle_doc()


def test_the_check_follows_the_manifest_check() -> None:
    ids = [check_id for check_id, _ in CHECKS]
    assert ids[ids.index("manifest") + 1] == "key-proofs"
    assert "key-proofs" not in DECRYPTION_CHECKS


def test_the_record_carries_the_published_document(
    finished: Finished, originals: tuple[Doc, Doc], tmp_path: Path
) -> None:
    record, bundle = copy.deepcopy(originals)
    published = ElectionDirectory(finished.election.directory).key_proofs
    assert record["key_proofs"] == json.loads(published.read_text())
    verdict = _verify_cli(tmp_path, record, bundle)
    check = next(c for c in verdict["checks"] if c["id"] == "key-proofs")
    assert check["status"] == "pass", check
    assert "128 rounds" in check["detail"] and "3 trustees" in check["detail"]
    assert [entry["trustee"] for entry in record["key_proofs"]["trustees"]] == [1, 2, 3]


def change_a_proof_value(record: Doc) -> None:
    proof = record["key_proofs"]["modulus_proof"]
    proof["z"][5] = hex_int(parse_hex_int(proof["z"][5], "z") + 1)


def another_elections_document(record: Doc) -> None:
    record["key_proofs"]["election_id"] = "another-election"


def a_proof_of_another_key(record: Doc) -> None:
    """A valid proof, for this election's context, of another modulus."""
    primes = json.loads(FIXTURE_PRIMES.read_text())["1024"]
    election_id = record["key_proofs"]["election_id"]
    proof = prove_modulus(
        int(primes["p"], 16), int(primes["q"], 16), modulus_proof_context(election_id)
    )
    trustees = KeyProofs.from_dict(record["key_proofs"]).trustees
    record["key_proofs"] = KeyProofs(election_id, proof, trustees).to_dict()


def _entries(record: Doc) -> list[Doc]:
    entries: list[Doc] = record["key_proofs"]["trustees"]
    return entries


def change_a_parameters_proof(record: Doc) -> None:
    proof = _entries(record)[1]["parameters"]["proof"]
    proof["responses"][3] = hex_int(parse_hex_int(proof["responses"][3], "z") ^ 1)


def change_a_no_small_factor_proof(record: Doc) -> None:
    proof = _entries(record)[0]["no_small_factor_proof"]
    w1 = proof["w1"]  # signed hex: its sign flipped
    proof["w1"] = w1[1:] if w1.startswith("-") else "-" + w1


def swap_the_no_small_factor_proofs(record: Doc) -> None:
    """Each trustee's entry with the proof made against the other trustee's parameters."""
    first, second = _entries(record)[:2]
    first["no_small_factor_proof"], second["no_small_factor_proof"] = (
        second["no_small_factor_proof"],
        first["no_small_factor_proof"],
    )


def parameters_of_another_election(record: Doc) -> None:
    """Trustee 1's entry with parameters and both proofs made for another election."""
    from crypto.keyproofs import make_ring_pedersen, prove_ring_pedersen

    params, lam, phi = make_ring_pedersen(512)
    proof = prove_ring_pedersen(params, lam, phi, ring_pedersen_context("another-election", 1))
    _entries(record)[0]["parameters"] = TrusteeParameters(
        "another-election", 1, params, proof
    ).to_dict()


def small_parameters(record: Doc) -> None:
    """Trustee 2's parameters smaller than the key (the proof valid)."""
    from crypto.keyproofs import make_ring_pedersen, prove_ring_pedersen

    election_id = record["key_proofs"]["election_id"]
    params, lam, phi = make_ring_pedersen(256)
    proof = prove_ring_pedersen(params, lam, phi, ring_pedersen_context(election_id, 2))
    _entries(record)[1]["parameters"] = TrusteeParameters(
        election_id, 2, params, proof
    ).to_dict()


def drop_the_last_trustee(record: Doc) -> None:
    _entries(record).pop()


def repeat_a_trustee(record: Doc) -> None:
    _entries(record)[1] = copy.deepcopy(_entries(record)[0])


def a_version_1_document(record: Doc) -> None:
    record["key_proofs"]["version"] = 1
    del record["key_proofs"]["trustees"]


def drop_the_document(record: Doc) -> None:
    del record["key_proofs"]


def malform_the_document(record: Doc) -> None:
    record["key_proofs"]["modulus_proof"]["a"] = "2" * 128


@pytest.mark.parametrize(
    ("mutate", "messages"),
    [
        pytest.param(
            change_a_proof_value,
            ["document's hash", "the modulus proof does not verify for the election key: round 5"],
            id="proof value changed",
        ),
        pytest.param(
            another_elections_document,
            ["is for election another-election, not", "document's hash"],
            id="another election's document",
        ),
        pytest.param(
            a_proof_of_another_key,
            ["document's hash", "the modulus proof does not verify for the election key: w is"],
            id="a proof of another key",
        ),
        pytest.param(
            drop_the_document, ["the key-proofs document (hash"], id="document missing"
        ),
        pytest.param(
            malform_the_document,
            ["the key-proofs document is malformed: key_proofs.modulus_proof.a"],
            id="document malformed",
        ),
        pytest.param(
            change_a_parameters_proof,
            [
                "document's hash",
                "trustee 2: the parameters' proof does not verify: round 3: t^z is not A s^e",
            ],
            id="a trustee's parameters proof changed",
        ),
        pytest.param(
            change_a_no_small_factor_proof,
            [
                "document's hash",
                "trustee 1: the no-small-factor proof does not verify: s^z1 t^w1 is not A P^e",
            ],
            id="a no-small-factor proof changed",
        ),
        pytest.param(
            swap_the_no_small_factor_proofs,
            [
                "document's hash",
                "trustee 1: the no-small-factor proof does not verify",
                "trustee 2: the no-small-factor proof does not verify",
            ],
            id="proofs against another trustee's parameters",
        ),
        pytest.param(
            parameters_of_another_election,
            [
                "document's hash",
                "trustee 1: the parameters are for election another-election, not",
                "trustee 1: the parameters' proof does not verify: round",
            ],
            id="a trustee's parameters of another election",
        ),
        pytest.param(
            small_parameters,
            [
                "document's hash",
                "trustee 2: the parameters' modulus has 256 bits; it must have from the key's "
                "512 to 16384",
            ],
            id="a trustee's parameters too small",
        ),
        pytest.param(
            drop_the_last_trustee,
            [
                "document's hash",
                "the key-proofs document has proofs for 2 trustees; the election has 3",
            ],
            id="a trustee missing",
        ),
        pytest.param(
            repeat_a_trustee,
            [
                "the key-proofs document is malformed: key_proofs.trustees[1].trustee: "
                "expected 2: every trustee once, in order"
            ],
            id="a trustee twice",
        ),
        pytest.param(
            a_version_1_document,
            [
                "the key-proofs document is malformed: key_proofs.version: version 1 (the "
                "modulus proof alone) is no longer accepted"
            ],
            id="version 1",
        ),
    ],
)
def test_a_changed_document_fails_the_check_alone(
    originals: tuple[Doc, Doc], tmp_path: Path, mutate: Any, messages: list[str]
) -> None:
    record, bundle = copy.deepcopy(originals)
    mutate(record)
    verdict = _verify_cli(tmp_path, record, bundle)
    assert verdict["failed"] == 1
    failed = [c for c in verdict["checks"] if c["status"] == "fail"]
    assert [c["id"] for c in failed] == ["key-proofs"]
    problems = failed[0]["problems"]
    assert len(problems) == len(messages), problems
    for problem, message in zip(problems, messages, strict=True):
        assert message in problem and "\n" not in problem


def test_a_manifest_naming_other_proofs_or_none(originals: tuple[Doc, Doc]) -> None:
    record, _ = originals
    manifest = _manifest(record)
    document = record["key_proofs"]
    assert key_proofs_problems(document, manifest) == []
    other = replace(manifest, key_proofs=bytes(32))
    (problem,) = key_proofs_problems(document, other)
    assert "is not the AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA the manifest names" in problem
    unproven = replace(manifest, key_proofs=None)
    assert key_proofs_problems(document, unproven) == [
        "the election key is not proven well formed: the manifest names no key proofs"
    ]


def test_the_check_is_not_made_without_a_valid_manifest(originals: tuple[Doc, Doc]) -> None:
    record, bundle = copy.deepcopy(originals)
    record["manifest"]["payload"]["max_voters"] += 1  # the signature fails
    verdict = verify_record(record, bundle, workers=1, allow_test_key=True)
    assert verdict.check("manifest").status == "fail"
    assert verdict.check("key-proofs").status == "not made"


def test_the_document_is_outside_the_tally_hash(originals: tuple[Doc, Doc]) -> None:
    """The signed manifest binds it; a tally from before it keeps its hash."""
    record, _ = copy.deepcopy(originals)
    record["kind"] = "ivote/tally"
    del record["decryption"]
    with_proofs = Tally.from_dict(record)
    del record["key_proofs"]
    assert Tally.from_dict(record).hash == with_proofs.hash
    assert "key_proofs" not in Tally.from_dict(record).to_dict()


def test_trustees_do_not_decrypt_under_an_unproven_key(
    finished: Finished, tmp_path: Path
) -> None:
    tally = tmp_path / "tally"
    shutil.copytree(finished.tally, tally)
    document = json.loads((tally / "tally.json").read_text())
    change_a_proof_value(document)
    (tally / "tally.json").write_text(json.dumps(document))
    passphrase = tmp_path / "trustee-1.pass"
    passphrase.write_text(trustee_passphrase(1) + "\n")
    election = ElectionDirectory(finished.election.directory)
    result = run(
        "ceremony", "decrypt", "--allow-test-key", "--tally", str(tally),
        "--ballot-box", str(finished.box), "--paper-voters", str(finished.paper_list),
        "--organiser-cert", str(election.organiser_certificate),
        "--out-dir", str(tmp_path / "shares"),
        "--share", str(election.share(1)), "--passphrase-file", str(passphrase),
    )  # fmt: skip
    assert result.exit_code == 1
    assert "refusing to decrypt" in result.output
    assert "key-proofs: " in result.output and "document's hash" in result.output
    assert not (tmp_path / "shares").exists() or not any((tmp_path / "shares").iterdir())


def test_the_tally_refuses_an_election_without_its_key_proofs(
    finished: Finished, tmp_path: Path
) -> None:
    directory = tmp_path / "election"
    shutil.copytree(finished.election.directory, directory)
    ElectionDirectory(directory).key_proofs.unlink()
    result = run(
        "tally", "process", "--election", str(directory), "--ballot-box", str(finished.box),
        "--paper-voters", str(finished.paper_list), "--out", str(tmp_path / "tally"),
    )  # fmt: skip
    assert result.exit_code == 1
    assert "key-proofs.json" in result.output and "not found" in result.output
    assert not (tmp_path / "tally" / "tally.json").exists()


def _without(document: Doc, field: str) -> Doc:
    return {k: v for k, v in document.items() if k != field}


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        (lambda d: {**d, "version": 3}, "key_proofs.version", "unsupported version 3"),
        (lambda d: {**d, "version": 1}, "key_proofs.version", "version 1 (the modulus proof"),
        (lambda d: _without(d, "trustees"), "key_proofs.trustees", "missing"),
        (lambda d: {**d, "trustees": []}, "key_proofs.trustees", "expected 1 to 255 entries"),
        (
            lambda d: {**d, "trustees": [{**d["trustees"][0], "extra": 1}]},
            "key_proofs.trustees[0].extra",
            "unknown field",
        ),
        (
            lambda d: {**d, "trustees": [{**d["trustees"][0], "trustee": 2}]},
            "key_proofs.trustees[0].trustee",
            "expected 1: every trustee once, in order",
        ),
        (
            lambda d: {**d, "trustees": [{**d["trustees"][1], "trustee": 1}]},
            "key_proofs.trustees[0].parameters.trustee",
            "the parameters of trustee 2 in trustee 1's entry",
        ),
        (
            lambda d: {
                **d,
                "trustees": [
                    {**d["trustees"][0], "no_small_factor_proof": {"P": "1"}}, d["trustees"][1]
                ],
            },
            "key_proofs.trustees[0].no_small_factor_proof",
            "expected an object with exactly",
        ),
        (lambda d: _without(d, "election_id"), "key_proofs.election_id", "missing"),
        (lambda d: {**d, "election_id": 7}, "key_proofs.election_id", "expected str"),
        (lambda d: _without(d, "modulus_proof"), "key_proofs.modulus_proof", "missing"),
        (lambda d: {**d, "extra": 1}, "key_proofs.extra", "unknown field"),
        (
            lambda d: {**d, "modulus_proof": {**d["modulus_proof"], "x": []}},
            "key_proofs.modulus_proof.x",
            "expected 128 hex integers",
        ),
        (lambda d: [d], "key_proofs", "expected an object"),
    ],
)
def test_the_document_parses_strictly_naming_the_field(
    originals: tuple[Doc, Doc], change: Any, field: str, problem: str
) -> None:
    document = copy.deepcopy(originals[0]["key_proofs"])
    parsed = KeyProofs.from_dict(document)
    assert parsed.to_dict() == document  # the canonical form round-trips
    with pytest.raises(FormatError) as raised:
        KeyProofs.from_dict(change(document))
    assert raised.value.field == field and problem in raised.value.problem
