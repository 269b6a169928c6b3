"""`ivote ceremony trustee-params` (each trustee's step before the key ceremony), keygen's
check of every trustee's parameters document (each bad document refused in one line naming
the trustee and the problem, before anything is written), `show`'s fingerprints, and the
document's format (strict, round-trips)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import gmpy2
import pytest
from ceremony_helpers import Workspace
from hypothesis import given, settings
from hypothesis import strategies as st

from canonical.encoding import FormatError, canonical_bytes, hex_int, parse_canonical
from crypto.keyproofs import (
    RingPedersen,
    RingPedersenProof,
    make_ring_pedersen,
    prove_ring_pedersen,
    verify_ring_pedersen,
)
from formats.keyproofs import KeyProofs, TrusteeParameters, ring_pedersen_context
from formats.manifest import ElectionDirectory

FINGERPRINT = re.compile(r"\n  ([0-9a-f]{4}(?: [0-9a-f]{4}){15})\n")


@pytest.fixture
def initialised(workspace: Workspace) -> Workspace:
    result = workspace.init()
    assert result.exit_code == 0, result.output
    return workspace


def _document(space: Workspace, trustee: int) -> dict[str, Any]:
    path = ElectionDirectory(space.election).trustee_parameters_file(trustee)
    return json.loads(path.read_text())


def _write(space: Workspace, trustee: int, document: dict[str, Any]) -> None:
    path = ElectionDirectory(space.election).trustee_parameters_file(trustee)
    path.write_bytes(canonical_bytes(document) + b"\n")


# -- the command ------------------------------------------------------------------------------


def test_a_trustee_makes_proves_and_fingerprints_parameters(
    initialised: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ceremonies.trustee_params as module

    secrets_made: list[int] = []

    def recording(bits: int) -> tuple[RingPedersen, int, int]:
        params, lam, phi = make_ring_pedersen(bits)
        secrets_made.extend((lam, phi))
        return params, lam, phi

    monkeypatch.setattr(module, "make_ring_pedersen", recording)
    result = initialised.trustee_params(2)
    assert result.exit_code == 0, result.output
    election = ElectionDirectory(initialised.election)
    path = election.trustee_parameters_file(2)
    data = path.read_bytes()
    document = parse_canonical(data)
    assert data == canonical_bytes(document) + b"\n"  # canonical, as the key proofs carry it
    parsed = TrusteeParameters.from_dict(document)
    assert (parsed.election_id, parsed.trustee, parsed.bits) == ("test-2099", 2, 512)
    assert document["version"] == 1
    verify_ring_pedersen(parsed.ring_pedersen, parsed.proof, ring_pedersen_context("test-2099", 2))
    printed = FINGERPRINT.search(result.output)
    assert printed is not None and printed.group(1) == parsed.fingerprint_groups
    assert parsed.hash.hex() == printed.group(1).replace(" ", "")
    assert str(path) in result.output
    # lambda and phi(N^) are neither written nor printed
    for secret in secrets_made:
        for spelling in (hex_int(secret), str(secret)):
            assert spelling not in result.output and spelling.encode() not in data
    assert not election.trustee_parameters_file(1).exists()


@pytest.mark.parametrize("trustee", ["0", "4", "-1"])
def test_a_trustee_out_of_range_is_refused(initialised: Workspace, trustee: str) -> None:
    result = initialised.run(
        "trustee-params", "--election", str(initialised.election), "--trustee", trustee
    )
    assert result.exit_code == 1
    assert f"trustee {trustee} does not exist: this election has trustees 1 to 3" in result.output
    assert not ElectionDirectory(initialised.election).trustee_parameters.exists()


def test_an_existing_file_is_never_overwritten(initialised: Workspace) -> None:
    assert initialised.trustee_params(1).exit_code == 0
    path = ElectionDirectory(initialised.election).trustee_parameters_file(1)
    before = path.read_bytes()
    result = initialised.trustee_params(1)
    assert result.exit_code == 1
    assert f"{path} exists: trustee 1 has made parameters already" in result.output
    assert path.read_bytes() == before


def test_an_election_not_initialised_or_already_keyed_is_refused(
    tmp_path: Path, keyed_space: Workspace
) -> None:
    empty = tmp_path / "EMPTY"
    empty.mkdir()
    result = keyed_space.run("trustee-params", "--election", str(empty), "--trustee", "1")
    assert result.exit_code == 1
    assert "is not an initialised election (no manifest.json" in result.output
    result = keyed_space.run(
        "trustee-params", "--election", str(keyed_space.election), "--trustee", "1"
    )
    assert result.exit_code == 1 and "already has an election key" in result.output


@pytest.fixture
def keyed_space(tmp_path: Path, initialised: Workspace) -> Workspace:
    result = initialised.keygen()
    assert result.exit_code == 0, result.output
    return initialised


# -- keygen checks every trustee's parameters --------------------------------------------------


def _other_elections(space: Workspace) -> None:
    document = _document(space, 2)
    document["election_id"] = "another-2099"
    _write(space, 2, document)


def _another_trustees(space: Workspace) -> None:
    election = ElectionDirectory(space.election)
    shutil.copy(election.trustee_parameters_file(1), election.trustee_parameters_file(2))


def _missing(space: Workspace) -> None:
    ElectionDirectory(space.election).trustee_parameters_file(3).unlink()


def _tampered_proof(space: Workspace) -> None:
    document = _document(space, 2)
    responses = document["proof"]["responses"]
    responses[7] = hex_int(int(responses[7], 16) ^ 1)
    _write(space, 2, document)


def _too_small(space: Workspace) -> None:
    """A valid proof of parameters smaller than the key (384 < 512 bits)."""
    params, lam, phi = make_ring_pedersen(384)
    proof = prove_ring_pedersen(params, lam, phi, ring_pedersen_context("test-2099", 2))
    _write(space, 2, TrusteeParameters("test-2099", 2, params, proof).to_dict())


def _malformed(space: Workspace) -> None:
    document = _document(space, 2)
    document["ring_pedersen"]["s"] = "1"
    _write(space, 2, document)


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (_other_elections, "trustee 2's parameters ("),
        (_another_trustees, "are refused: the parameters are trustee 1's, not trustee 2's"),
        (_missing, "trustee 3 has no parameters ("),
        (_tampered_proof, "are refused: the parameters' proof does not verify: round 7"),
        (_too_small, "are refused: the parameters' modulus has 384 bits; it must have from "
                     "the key's 512"),
        (_malformed, "trustee-2.json) are malformed: "
                     "trustee_parameters.ring_pedersen.s: not a unit"),
    ],
    ids=["another election", "another trustee", "missing", "tampered proof", "too small",
         "malformed"],
)  # fmt: skip
def test_keygen_refuses_a_bad_parameters_document(
    initialised: Workspace, spoil: Any, message: str
) -> None:
    initialised.all_trustee_params()
    spoil(initialised)
    result = initialised.keygen(params=False)
    assert result.exit_code == 1, result.output
    error = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(error) == 1 and message in error[0], result.output
    if spoil is _other_elections:
        assert "the parameters are for election another-2099, not test-2099" in error[0]
    election = ElectionDirectory(initialised.election)
    assert election.read_manifest().is_draft  # nothing written, nobody asked a passphrase
    assert not election.key_proofs.exists() and not election.trustees.exists()


def test_run_keygen_refuses_parameters_out_of_order(initialised: Workspace) -> None:
    from ceremonies.election import CeremonyError
    from ceremonies.keygen import run_keygen
    from ceremonies.trustee_params import read_trustee_parameters

    initialised.all_trustee_params()
    election = ElectionDirectory(initialised.election)
    documents = read_trustee_parameters(election, election.read_manifest())
    with pytest.raises(CeremonyError, match="every trustee's parameters are needed"):
        run_keygen(
            initialised.election,
            [f"trustee {i} passphrase" for i in (1, 2, 3)],
            None,
            test_primes=(5, 7),
            trustee_parameters=[documents[1], documents[0], documents[2]],
        )


# -- the key proofs carry each trustee's document; show prints the fingerprints ----------------


def test_the_key_proofs_carry_every_trustees_document_and_show_its_fingerprint(
    initialised: Workspace,
) -> None:
    printed = {}
    for trustee in (1, 2, 3):
        result = initialised.trustee_params(trustee)
        match = FINGERPRINT.search(result.output)
        assert match is not None
        printed[trustee] = match.group(1)
    draft = initialised.run("show", "--election", str(initialised.election))
    assert draft.exit_code == 0, draft.output
    for trustee, groups in printed.items():
        assert f"trustee {trustee}: {groups}" in draft.output
    result = initialised.keygen(params=False)
    assert result.exit_code == 0, result.output
    election = ElectionDirectory(initialised.election)
    proofs = KeyProofs.from_dict(json.loads(election.key_proofs.read_text()))
    assert [entry.trustee for entry in proofs.trustees] == [1, 2, 3]
    for entry in proofs.trustees:  # the trustee's own document, byte for byte
        assert canonical_bytes(entry.parameters.to_dict()) + b"\n" == (
            election.trustee_parameters_file(entry.trustee).read_bytes()
        )
    shown = initialised.run("show", "--election", str(initialised.election))
    assert shown.exit_code == 0, shown.output
    assert "Key proofs: verified" in shown.output
    for trustee, groups in printed.items():
        assert f"trustee {trustee}: {groups}" in shown.output
    # a changed document is shown as not verified, with the problem
    document = json.loads(election.key_proofs.read_text())
    document["trustees"][1]["no_small_factor_proof"]["z1"] = "1"
    election.key_proofs.write_text(json.dumps(document))
    shown = initialised.run("show", "--election", str(initialised.election))
    assert "Key proofs: NOT VERIFIED" in shown.output
    assert "trustee 2: the no-small-factor proof does not verify" in shown.output


# -- the format -------------------------------------------------------------------------------

@st.composite
def trustee_documents(draw: st.DrawFn) -> TrusteeParameters:
    """Any well-formed document: n coprime to 6 (so 2 and 3 are units to fall back on), s and
    t units other than 1, any 128 commitments and responses (the format does not check the
    proof), any election id and trustee index."""
    n = 6 * draw(st.integers(min_value=3, max_value=1 << 600)) + draw(st.sampled_from((1, 5)))

    def unit(fallback: int) -> int:
        value = draw(st.integers(min_value=2, max_value=n - 1))
        return value if gmpy2.gcd(value, n) == 1 else fallback

    values = st.lists(st.integers(min_value=0, max_value=1 << 700), min_size=128, max_size=128)
    return TrusteeParameters(
        draw(st.text(max_size=40)),
        draw(st.integers(min_value=1, max_value=255)),
        RingPedersen(n, unit(2), unit(3)),
        RingPedersenProof(tuple(draw(values)), tuple(draw(values))),
    )


@settings(max_examples=40, deadline=None)
@given(trustee_documents())
def test_the_parameters_document_round_trips(document: TrusteeParameters) -> None:
    data = canonical_bytes(document.to_dict())
    parsed = TrusteeParameters.from_dict(parse_canonical(data))
    assert parsed == document
    assert canonical_bytes(parsed.to_dict()) == data and parsed.hash == document.hash
    assert parsed.fingerprint_groups.replace(" ", "") == document.hash.hex()


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        (lambda d: {**d, "version": 2}, "trustee_parameters.version", "unsupported version 2"),
        (lambda d: {**d, "trustee": 0}, "trustee_parameters.trustee", "in 1..255"),
        (lambda d: {**d, "trustee": True}, "trustee_parameters.trustee", "expected an integer"),
        (lambda d: {**d, "extra": 1}, "trustee_parameters.extra", "unknown field"),
        (lambda d: {k: v for k, v in d.items() if k != "proof"}, "trustee_parameters.proof",
         "missing"),
        (lambda d: {**d, "proof": {**d["proof"], "responses": []}},
         "trustee_parameters.proof.responses", "expected 128 integers"),
        (lambda d: {**d, "ring_pedersen": {**d["ring_pedersen"], "n": "0a"}},
         "trustee_parameters.ring_pedersen.n", "lower-case hex"),
        (lambda d: [d], "trustee_parameters", "expected an object"),
    ],
)  # fmt: skip
def test_the_parameters_document_parses_strictly_naming_the_field(
    initialised: Workspace, change: Any, field: str, problem: str
) -> None:
    assert initialised.trustee_params(1).exit_code == 0
    document = _document(initialised, 1)
    with pytest.raises(FormatError) as raised:
        TrusteeParameters.from_dict(change(document))
    assert raised.value.field == field and problem in raised.value.problem
