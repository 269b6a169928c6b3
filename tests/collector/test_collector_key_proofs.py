"""The collector and the key-proofs document (docs/spec.md, "Collector API", "Key proofs"):
`ivote collector serve` checks ELECTION/key-proofs.json at start and refuses, in one line
naming the problem, an election whose document fails; `GET /v1/key-proofs` serves the
document's bytes as published. Real processes, as the other start tests."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from collector_helpers import PASSPHRASE, Client, CollectorElection
from support.collector_process import CollectorProcess

from canonical.encoding import DOMAINS, b64url, canonical_bytes
from canonical.files import write_canonical_json
from formats.signed import sign_object


def copy_election(election: CollectorElection, root: Path) -> Path:
    """A copy of the election directory (manifest, key proofs, voters, CRLs, collector key)."""
    return Path(shutil.copytree(election.directory, root / "election"))


def serve_refused(directory: Path) -> str:
    """`ivote collector serve` on `directory` must exit non-zero without serving: its output."""
    server = CollectorProcess(directory, f"sqlite:///{directory.parent / 'c.sqlite'}", PASSPHRASE)
    server.start(wait=False)
    assert server.process is not None
    try:
        code = server.process.wait(90)
    except subprocess.TimeoutExpired:
        server.stop()
        pytest.fail(f"the collector served an election it should refuse: {server.log.read_text()}")
    output = server.log.read_text()
    assert code != 0, output
    assert "Traceback" not in output, output
    return output


def error_line(output: str) -> str:
    """The one line of the refusal ("Error: ..."), the only one that says Error."""
    lines = [line for line in output.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, output
    return lines[0]


def test_get_key_proofs_answers_the_document_as_published(
    election: CollectorElection, tmp_path: Path
) -> None:
    published = election.directory / "key-proofs.json"
    server = CollectorProcess(election.directory, f"sqlite:///{tmp_path / 'c.sqlite'}", PASSPHRASE)
    server.start()
    client = Client(server.url)
    try:
        answer = client.get("/v1/key-proofs")
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/json"
        # the file's bytes without its newline: the canonical document the manifest names
        assert answer.content == published.read_bytes().rstrip(b"\n")
        assert hashlib.sha256(answer.content).digest() == election.manifest.key_proofs
        assert answer.json()["election_id"] == election.manifest.election_id
        # the route takes no other method
        assert client.http.post("/v1/key-proofs").status_code == 405
    finally:
        client.close()
        server.stop()


def _tamper_round(document: dict) -> None:
    """Round 0's x replaced by round 1's: the proof no longer verifies, nor does the hash."""
    document["modulus_proof"]["x"][0] = document["modulus_proof"]["x"][1]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (
            "tampered",
            [
                "the key-proofs document's hash ",
                "the modulus proof does not verify for the election key: ",
                "round 0",
            ],
        ),
        ("missing", ["the key-proofs document (hash ", ") is missing"]),
        ("not-canonical", ["key-proofs.json is not in canonical encoding"]),
        ("not-json", ["key-proofs.json is not JSON"]),
    ],
)
def test_serve_refuses_a_key_proofs_document_that_fails(
    election: CollectorElection, tmp_path: Path, case: str, expected: list[str]
) -> None:
    directory = copy_election(election, tmp_path)
    path = directory / "key-proofs.json"
    document = json.loads(path.read_bytes())
    if case == "tampered":
        _tamper_round(document)
        write_canonical_json(path, document)
    elif case == "missing":
        path.unlink()
    elif case == "not-canonical":  # the same document, indented: not the bytes it hashes to
        path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    else:
        path.write_bytes(path.read_bytes()[:-200])
    line = error_line(serve_refused(directory))
    assert line.startswith(
        f"Error: refusing to serve election {election.manifest.election_id}: "
    ), line
    for text in expected:
        assert text in line, line
    if case == "missing":
        assert b64url(election.manifest.key_proofs or b"") in line


def test_serve_refuses_the_key_proofs_of_another_election(
    election: CollectorElection, future_election: CollectorElection, tmp_path: Path
) -> None:
    """Another election's document (on the same fixture key): its id, hash and proof context
    are not this election's; each is named."""
    directory = copy_election(election, tmp_path)
    shutil.copyfile(future_election.directory / "key-proofs.json", directory / "key-proofs.json")
    line = error_line(serve_refused(directory))
    theirs, ours = future_election.manifest.election_id, election.manifest.election_id
    assert f"the key-proofs document is for election {theirs}, not {ours}" in line
    assert "is not the " in line and "the manifest names" in line
    assert "the modulus proof does not verify for the election key" in line


def test_serve_refuses_a_manifest_that_names_no_key_proofs(
    election: CollectorElection, tmp_path: Path
) -> None:
    """A manifest made before the key proofs (no `key_proofs` field), signed by the organiser:
    its key is not proven well formed, and the collector does not serve it."""
    directory = copy_election(election, tmp_path)
    older = replace(election.manifest, key_proofs=None)
    signed = sign_object(election.pki.organiser, DOMAINS["manifest"], older.to_dict())
    (directory / "manifest.signed.json").write_bytes(canonical_bytes(signed) + b"\n")
    (directory / "manifest.json").write_bytes(older.canonical() + b"\n")
    line = error_line(serve_refused(directory))
    assert "the election key is not proven well formed: the manifest names no key proofs" in line


def test_close_and_export_do_not_need_the_key_proofs(
    election: CollectorElection, tmp_path: Path
) -> None:
    """Only serving checks the document: officials can always close and export what was
    collected (the tally and the verifier check the proofs again)."""
    from collector_helpers import run_cli

    directory = copy_election(election, tmp_path)
    (directory / "key-proofs.json").unlink()
    db = f"sqlite:///{tmp_path / 'c.sqlite'}"
    closed = run_cli("close", "--election", str(directory), "--db", db, "--json")
    assert closed.returncode == 0, closed.stderr


def test_the_openapi_schema_takes_the_document_and_later_versions(
    election: CollectorElection, tmp_path: Path
) -> None:
    """GET /v1/key-proofs's schema takes the published document (version 2, every trustee's
    parameters and no-small-factor proof) and refuses one without its modulus proof, with a
    round missing, of another version or with a malformed trustee entry."""
    import jsonschema_rs

    from collector.app import create_app
    from collector.service import Election, Settings

    settings = Settings(
        election.directory,
        f"sqlite:///{tmp_path / 'unused.sqlite'}",
        election.directory / "collector.p12",
        PASSPHRASE,
        allow_test_key=True,
    )
    document = create_app(Election(settings), settings.db_url).openapi()
    validator = jsonschema_rs.validator_for(document["components"]["schemas"]["KeyProofs"])
    published = json.loads((election.directory / "key-proofs.json").read_bytes())
    assert validator.is_valid(published)
    assert published["version"] == 2 and len(published["trustees"]) == election.manifest.trustees
    assert not validator.is_valid({**published, "version": 1})
    assert not validator.is_valid({**published, "trustees": [{"n": "ff"}]})
    negative_zero = json.loads(json.dumps(published))
    negative_zero["trustees"][0]["no_small_factor_proof"]["sigma"] = "-0"
    assert not validator.is_valid(negative_zero)
    assert not validator.is_valid({k: v for k, v in published.items() if k != "modulus_proof"})
    short = json.loads(json.dumps(published))
    del short["modulus_proof"]["x"][-1]
    assert not validator.is_valid(short)
