"""`ivote ceremony keygen` and `show`: the full key ceremony with a small fixture key, then any
t sealed shares decrypt and fewer cannot; wrong passphrases, tampering and re-runs are refused."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from ceremony_helpers import DEFINITION, Workspace, make_ca
from support.election import FIXTURE_PRIMES, trustee_passphrase

from canonical.encoding import FormatError, canonical_bytes, parse_canonical
from crypto import paillier
from crypto.eid import SignatureInvalid, WrongSigner
from crypto.errors import DecryptionError, SealError
from crypto.keyproofs import verify_modulus
from crypto.threshold import combine, decryption_share
from formats.keyproofs import KeyProofs, key_proofs_problems
from formats.manifest import (
    ElectionDirectory,
    Manifest,
    ManifestError,
    load_signed_manifest,
    open_signed_manifest,
    open_trustee_share,
)


def signed_document(election: ElectionDirectory) -> dict:
    return parse_canonical(election.signed_manifest.read_bytes())


def test_full_ceremony_any_t_shares_decrypt_and_fewer_cannot(keyed: Workspace) -> None:
    election = ElectionDirectory(keyed.election)
    manifest = load_signed_manifest(
        election.signed_manifest, organiser_certificate=election.organiser_certificate
    )
    assert not manifest.is_draft and manifest.test_key
    key = manifest.threshold_key
    assert key.bits == 512 and key.trustees == 3 and key.threshold == 2
    # manifest.json is the signed payload, byte for byte
    assert election.manifest.read_bytes() == manifest.canonical() + b"\n"
    shares = [
        open_trustee_share(election.share(i), trustee_passphrase(i), manifest) for i in (1, 2, 3)
    ]
    assert [share.index for share in shares] == [1, 2, 3]
    for path in election.trustees.iterdir():
        assert path.stat().st_mode & 0o077 == 0  # owner-only
        assert b"secret" not in path.read_bytes()

    encoding = manifest.contest_encoding("north", "council")
    plaintext = 3 * encoding.base + 5  # 5 votes for candidate 0, 3 for candidate 1
    ciphertext, _ = paillier.encrypt_random(key.public_key, plaintext)
    context = manifest.proof_context("north", "council", 0)
    decryption_shares = [decryption_share(share, ciphertext, context) for share in shares]
    for subset in itertools.combinations(decryption_shares, 2):
        assert combine(key, ciphertext, list(subset), context).plaintext == plaintext
    for share in decryption_shares:
        with pytest.raises(DecryptionError, match="need 2 valid decryption shares, have 1"):
            combine(key, ciphertext, [share], context)


def test_wrong_passphrase_is_a_clear_error(keyed: Workspace) -> None:
    election = ElectionDirectory(keyed.election)
    with pytest.raises(SealError, match="wrong passphrase or modified file"):
        open_trustee_share(election.share(1), trustee_passphrase(2))
    with pytest.raises(SealError, match=r"trustee-1\.share"):
        open_trustee_share(election.share(1), "not the passphrase")


def test_a_share_of_another_election_is_refused(keyed: Workspace, tmp_path: Path) -> None:
    other = ElectionDirectory(keyed.election)
    manifest = other.read_manifest()
    # Same election, re-dealt from the same primes: a different key (fresh v and shares).
    second = Workspace(
        root=tmp_path / "second",
        definition=keyed.definition,
        voters=keyed.voters,
        election=tmp_path / "second" / "ELECTION",
        organiser=keyed.organiser,
        organiser_passphrase=keyed.organiser_passphrase,
        runner=keyed.runner,
    )
    second.root.mkdir()
    assert second.init().exit_code == 0
    assert second.keygen().exit_code == 0
    foreign = ElectionDirectory(second.election).share(1)
    with pytest.raises(Exception, match="another election key"):
        open_trustee_share(foreign, trustee_passphrase(1), manifest)


def test_show_prints_the_manifest_fingerprint(keyed: Workspace) -> None:
    result = keyed.run("show", "--election", str(keyed.election))
    assert result.exit_code == 0, result.output
    # Recompute the manifest hash independently: sorted-key compact JSON, SHA-256.
    payload = signed_document(ElectionDirectory(keyed.election))["payload"]
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    grouped = re.findall(r"^  ((?:[0-9a-f]{4} ){7}[0-9a-f]{4})$", result.output, re.MULTILINE)
    assert "".join(grouped).replace(" ", "") == digest
    assert f"hex: {digest}" in result.output
    for expected in (
        "Test election",
        "test-2099",
        "Voting period: 1 March 2099, 09:00 UTC+02:00 to 6 March 2099, 20:00 UTC+02:00",
        "Trustees: 3; any 2",
        "512-bit",
        "TEST KEY",
        "Mari Maasikas",
        "Peeter Puu",
        "ivote organiser",
    ):
        assert expected in result.output
    # keygen printed the same fingerprint
    assert Manifest.from_dict(payload).fingerprint_groups in keyed.keygen_output


def test_show_works_on_a_draft(workspace: Workspace) -> None:
    assert workspace.init().exit_code == 0
    result = workspace.run("show", "--election", str(workspace.election))
    assert result.exit_code == 0, result.output
    draft = ElectionDirectory(workspace.election).read_manifest()
    assert f"hex: {draft.fingerprint}" in result.output
    assert "draft" in result.output


def test_tampered_signed_manifest_is_detected(keyed: Workspace) -> None:
    election = ElectionDirectory(keyed.election)
    document = signed_document(election)
    pin = election.organiser_certificate
    document["payload"]["districts"][0]["contests"][0]["candidates"][0]["name"] = "Mallory"
    with pytest.raises(SignatureInvalid):
        load_signed_manifest(document, organiser_certificate=pin)
    election.signed_manifest.write_bytes(canonical_bytes(document))
    result = keyed.run("show", "--election", str(keyed.election))
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "signature" in result.output


def test_manifest_signed_by_someone_else_is_refused(keyed: Workspace) -> None:
    from canonical.encoding import DOMAINS
    from ceremonies.pki import make_official, make_root_ca
    from formats.signed import sign_object

    election = ElectionDirectory(keyed.election)
    payload = signed_document(election)["payload"]
    impostor = make_official(make_root_ca(), "organiser")
    forged = sign_object(impostor, DOMAINS["manifest"], payload)
    with pytest.raises(WrongSigner):
        load_signed_manifest(forged, organiser_certificate=election.organiser_certificate)
    # the honest pin and the fingerprint both accept the real one
    manifest = load_signed_manifest(
        signed_document(election), expected_fingerprint=Manifest.from_dict(payload).fingerprint
    )
    assert manifest.election_id == "test-2099"
    with pytest.raises(FormatError, match="is not the expected one"):
        load_signed_manifest(forged, expected_fingerprint="00" * 32)


def test_unsigned_copy_that_differs_is_reported(keyed: Workspace) -> None:
    election = ElectionDirectory(keyed.election)
    manifest = election.read_manifest()
    changed = manifest.to_dict()
    changed["name"] = "Another name"
    election.manifest.write_bytes(canonical_bytes(changed) + b"\n")
    result = keyed.run("show", "--election", str(keyed.election))
    assert result.exit_code != 0
    assert "differs from the signed manifest" in result.output


def test_keygen_refuses_an_election_that_has_a_key(keyed: Workspace) -> None:
    election = ElectionDirectory(keyed.election)
    before = {p.name: p.read_bytes() for p in election.trustees.iterdir()}
    result = keyed.keygen()
    assert result.exit_code != 0
    assert "already has an election key" in result.output
    assert {p.name: p.read_bytes() for p in election.trustees.iterdir()} == before


def test_keygen_refuses_leftover_shares(workspace: Workspace) -> None:
    assert workspace.init().exit_code == 0
    election = ElectionDirectory(workspace.election)
    election.trustees.mkdir()
    election.share(1).write_text("left over")
    result = workspace.keygen()
    assert result.exit_code != 0 and "interrupted ceremony" in result.output


def test_keygen_checks_trustee_counts_and_passphrases(workspace: Workspace) -> None:
    assert workspace.init().exit_code == 0
    result = workspace.keygen("--trustees", "4")
    assert result.exit_code != 0 and "--trustees 4 differs" in result.output
    result = workspace.keygen(trustees=2)
    assert result.exit_code != 0 and "2 passphrases for 3 trustees" in result.output
    short = workspace.root / "short.pass"
    short.write_text("abc\n")
    workspace.all_trustee_params()
    args = ["--passphrase-file", str(short)] * 3
    result = workspace.run(
        "keygen",
        "--election",
        str(workspace.election),
        "--organiser-key",
        str(workspace.organiser),
        "--organiser-passphrase-file",
        str(workspace.organiser_passphrase),
        "--test-primes",
        str(FIXTURE_PRIMES),
        *args,
    )
    assert result.exit_code != 0 and "at least 8 characters" in result.output
    assert ElectionDirectory(workspace.election).read_manifest().is_draft


def test_keygen_with_a_wrong_organiser_passphrase(workspace: Workspace) -> None:
    assert workspace.init().exit_code == 0
    workspace.organiser_passphrase = workspace.root / "wrong.pass"
    workspace.organiser_passphrase.write_text("not the organiser's\n")
    result = workspace.keygen()
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "wrong passphrase" in result.output
    assert not ElectionDirectory(workspace.election).trustees.exists()


def test_test_primes_must_match_key_bits(workspace: Workspace) -> None:
    workspace.write_definition(DEFINITION.replace("key_bits = 512", "key_bits = 2048"))
    assert workspace.init().exit_code == 0
    result = workspace.keygen()
    assert result.exit_code != 0
    assert "no test primes for key_bits 2048" in result.output
    primes = json.loads(FIXTURE_PRIMES.read_text())["512"]
    single = workspace.root / "primes.json"
    single.write_text(json.dumps(primes))
    result = workspace.run(
        "keygen",
        "--election",
        str(workspace.election),
        "--organiser-key",
        str(workspace.organiser),
        "--organiser-passphrase-file",
        str(workspace.organiser_passphrase),
        "--test-primes",
        str(single),
        *workspace.passphrase_files(3),
    )
    assert result.exit_code != 0
    assert "p*q has 512 bits, the manifest's key_bits is 2048" in result.output


def test_keygen_asks_each_trustee_twice_without_echo(workspace: Workspace) -> None:
    assert workspace.init().exit_code == 0
    answers = []
    for index in (1, 2, 3):
        answers += [trustee_passphrase(index), trustee_passphrase(index)]
    # trustee 2 first mistypes the confirmation, then gets it right
    workspace.all_trustee_params()
    answers[2:2] = ["typo passphrase 1", "typo passphrase 2"]
    result = workspace.run(
        "keygen",
        "--election",
        str(workspace.election),
        "--organiser-key",
        str(workspace.organiser),
        "--organiser-passphrase-file",
        str(workspace.organiser_passphrase),
        "--test-primes",
        str(FIXTURE_PRIMES),
        "--scrypt-cost",
        "1024",
        input="\n".join(answers) + "\n",
    )
    assert result.exit_code == 0, result.output
    for index in (1, 2, 3):
        assert trustee_passphrase(index) not in result.output  # no echo
        assert f"Trustee {index} of 3, passphrase" in result.output
    assert "The two entries differ" in result.output
    election = ElectionDirectory(workspace.election)
    manifest = election.read_manifest()
    share = open_trustee_share(election.share(2), trustee_passphrase(2), manifest)
    assert share.index == 2


def test_keygen_searches_primes_with_progress(workspace: Workspace) -> None:
    # 512-bit n: two 256-bit safe primes, found in well under a second (never a real size).
    assert workspace.init().exit_code == 0
    result = workspace.keygen(primes=False)
    assert result.exit_code == 0, result.output
    assert "candidates tested" in result.output
    manifest = ElectionDirectory(workspace.election).read_signed_manifest()
    assert not manifest.test_key and manifest.threshold_key.bits == 512


def test_manifest_with_key_validates_key_consistency(keyed: Workspace) -> None:
    manifest = ElectionDirectory(keyed.election).read_manifest()
    data = manifest.to_dict()
    data["threshold"] = 3
    with pytest.raises(ManifestError, match="public_key: key threshold 2, manifest says 3"):
        Manifest.from_dict(data)
    data = manifest.to_dict()
    data["key_bits"] = 1024
    with pytest.raises(ManifestError, match="public_key"):
        Manifest.from_dict(data)
    data = manifest.to_dict()
    data["public_key"]["verification_keys"] = data["public_key"]["verification_keys"][:2]
    with pytest.raises(ManifestError, match="verification_keys"):
        Manifest.from_dict(data)


def test_collector_certificates_are_carried(workspace: Workspace) -> None:
    (workspace.root / "collector.pem").write_bytes(make_ca("ivote collector", ca=False))
    workspace.write_definition(
        DEFINITION.replace(
            'eid_ca_certificates = ["ca.pem"]',
            'eid_ca_certificates = ["ca.pem"]\ncollector_certificates = ["collector.pem"]',
        )
    )
    assert workspace.init().exit_code == 0
    manifest = ElectionDirectory(workspace.election).read_manifest()
    assert [c.subject.rfc4514_string() for c in manifest.trust.collectors()] == [
        "CN=ivote collector"
    ]
    store = manifest.trust.eid_trust_store(require_crl=False)
    assert [c.subject.rfc4514_string() for c in store.roots] == ["CN=Test ID-card CA"]


def test_open_signed_manifest_needs_an_anchor(keyed: Workspace) -> None:
    election = ElectionDirectory(keyed.election)
    with pytest.raises(ValueError, match="pinned organiser certificate or fingerprint"):
        open_signed_manifest(election.signed_manifest)
    opened = open_signed_manifest(
        election.signed_manifest.read_bytes(),
        organiser_certificate=election.organiser_certificate.read_bytes(),
    )
    assert opened.certificate.subject.rfc4514_string().startswith("CN=ivote organiser")


# -- the key proofs ---------------------------------------------------------------------------


def _assert_key_proven(election: ElectionDirectory) -> None:
    """key-proofs.json is canonical, named by the signed manifest's hash, and its modulus
    proof verifies for the manifest's key under the election's context."""
    manifest = election.read_signed_manifest()
    data = election.key_proofs.read_bytes()
    document = parse_canonical(data)
    assert data == canonical_bytes(document) + b"\n"
    proofs = KeyProofs.from_dict(document)
    assert proofs.election_id == manifest.election_id
    assert manifest.key_proofs == proofs.hash == hashlib.sha256(data[:-1]).digest()
    context = {"election_id": manifest.election_id, "purpose": "election key"}
    verify_modulus(manifest.threshold_key.n, proofs.modulus_proof, context)
    # version 2: every trustee's own parameters document, each with its no-small-factor proof
    assert document["version"] == 2
    assert [entry.trustee for entry in proofs.trustees] == [1, 2, 3]
    for entry in proofs.trustees:
        assert entry.parameters.to_dict() == json.loads(
            election.trustee_parameters_file(entry.trustee).read_text()
        )
    assert key_proofs_problems(document, manifest) == []


def test_keygen_publishes_the_key_proofs_the_manifest_names(
    keyed: Workspace, safe_primes: dict
) -> None:
    election = ElectionDirectory(keyed.election)
    _assert_key_proven(election)
    assert f"(publish them with the manifest): {election.key_proofs}" in keyed.keygen_output
    # the factors are in no file the ceremony writes, nor in what it prints
    p, q = safe_primes[512]
    for secret in (format(p, "x"), format(q, "x"), str(p), str(q)):
        assert secret not in keyed.keygen_output
        for path in election.root.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path


def test_keygen_with_searched_primes_proves_its_key(workspace: Workspace) -> None:
    assert workspace.init().exit_code == 0
    assert workspace.keygen(primes=False).exit_code == 0
    _assert_key_proven(ElectionDirectory(workspace.election))


def test_a_failed_proof_leaves_no_manifest_with_a_key(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ceremonies.keygen

    def failing(*args: object) -> None:
        raise OSError("disk full")

    assert workspace.init().exit_code == 0
    draft = ElectionDirectory(workspace.election).manifest.read_bytes()
    monkeypatch.setattr(ceremonies.keygen, "write_canonical_json", failing)
    with pytest.raises(OSError, match="disk full"):
        workspace.keygen()
    election = ElectionDirectory(workspace.election)
    assert election.manifest.read_bytes() == draft  # still the draft
    assert not election.signed_manifest.exists() and not election.key_proofs.exists()


def test_the_manifest_key_proofs_field(keyed: Workspace) -> None:
    manifest = ElectionDirectory(keyed.election).read_manifest()
    assert manifest.key_proofs is not None
    # left out when unset: a manifest from before it keeps its bytes and hash
    older = replace(manifest, key_proofs=None)
    assert "key_proofs" not in older.to_dict()
    assert Manifest.from_bytes(older.canonical()).key_proofs is None
    data = manifest.to_dict()
    data["key_proofs"] = "AAAA"
    with pytest.raises(ManifestError, match="key_proofs: not a SHA-256 hash"):
        Manifest.from_dict(data)
    data = ElectionDirectory(keyed.election).read_manifest().to_dict()
    data["public_key"] = None
    with pytest.raises(ManifestError, match="key_proofs: a draft manifest has no key"):
        Manifest.from_dict(data)
