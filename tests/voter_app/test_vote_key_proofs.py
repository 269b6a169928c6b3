"""The voter app and the key-proofs document (docs/spec.md, "Trusting the election"): before the
first ballot it fetches `GET /v1/key-proofs`, checks it against the signed manifest
(formats.keyproofs) and refuses to encrypt a ballot under a key its proofs do not prove well
formed, naming the failure; a check that passed is remembered per election, so it runs once.
End to end with `ivote vote cast` over real HTTP (a fake collector in front of the real one
serves the tampered documents), and the function itself with a counting client."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from test_vote_cli import cast_args
from voter_helpers import CollectorProcess, FakeCollector, VoterElection, run_vote

from canonical.encoding import b64url, canonical_bytes
from i18n import language
from voter_app.store import VoterStore
from voter_app.transport import CollectorRefused
from voter_app.voting import Election, KeyNotProven, check_key_proofs, prepare_ballot

VOTER = "38001010003"
CHECKING = "Checking that the election key is well formed…"


def published(election: VoterElection) -> dict[str, Any]:
    return json.loads((election.directory / "key-proofs.json").read_bytes())


def tampered(document: dict[str, Any]) -> dict[str, Any]:
    """Round 0's x replaced by round 1's: the proof fails, and so does the hash."""
    changed = json.loads(json.dumps(document))
    changed["modulus_proof"]["x"][0] = changed["modulus_proof"]["x"][1]
    return changed


def serve_key_proofs(status: int, body: bytes):  # type: ignore[no-untyped-def]
    def tamper(method: str, path: str, _status: int, _body: bytes):  # type: ignore[no-untyped-def]
        return (status, body) if path == "/v1/key-proofs" else None

    return tamper


def requests_to(fake: FakeCollector, path: str) -> int:
    return sum(1 for _, requested, _ in fake.requests if requested.startswith(path))


@pytest.mark.parametrize("case", ["tampered", "missing"])
def test_cast_refuses_a_key_whose_proofs_fail(
    collector: CollectorProcess,
    election: VoterElection,
    pin_file: Path,
    tmp_path: Path,
    case: str,
) -> None:
    """The collector serves a tampered document (or none: an older collector's 404): the cast
    stops before the PIN, in one line naming the failure; nothing is encrypted or sent and
    nothing is remembered."""
    if case == "tampered":
        tamper = serve_key_proofs(200, canonical_bytes(tampered(published(election))))
        expected = [
            "the key-proofs document's hash ",
            "the modulus proof does not verify for the election key: ",
        ]
    else:
        body = b'{"detail":{"code":"not_found","message":"not found"}}'
        tamper = serve_key_proofs(404, body)
        expected = ["the key-proofs document (hash ", ") is missing"]
    before = collector.log_size()
    with FakeCollector(collector.url, tamper) as fake:
        args = cast_args(collector, election, VOTER, pin_file, tmp_path)
        args[args.index("--collector") + 1] = fake.url
        result = run_vote(*args, "--choice", "103", data_dir=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("Error: no ballot is encrypted under this election's key: ")
    for text in expected:
        assert text in errors[0], errors[0]
    assert "Do not vote here" in errors[0]
    assert CHECKING in result.stdout
    # nothing asked of the collector after the key's proofs: no eligibility, no challenge
    assert requests_to(fake, "/v1/key-proofs") == 1
    assert requests_to(fake, "/v1/eligibility") == 0
    assert requests_to(fake, "/v1/challenges") == 0
    assert collector.log_size() == before
    assert VoterStore(tmp_path).verified_key_proofs(election.manifest.fingerprint) is None


def test_the_check_runs_once_per_election(
    collector: CollectorProcess, election: VoterElection, pin_file: Path, tmp_path: Path
) -> None:
    """The first cast fetches and checks the document and remembers its hash; a second cast
    (a revote) neither fetches nor checks it again."""
    with FakeCollector(collector.url) as fake:
        args = cast_args(collector, election, VOTER, pin_file, tmp_path)
        args[args.index("--collector") + 1] = fake.url
        first = run_vote(*args, "--choice", "101", data_dir=tmp_path)
        assert first.returncode == 0, first.stderr
        assert CHECKING in first.stdout
        assert requests_to(fake, "/v1/key-proofs") == 1
        remembered = VoterStore(tmp_path).verified_key_proofs(election.manifest.fingerprint)
        assert remembered == b64url(election.manifest.key_proofs or b"")
        second = run_vote(*args, "--choice", "102", data_dir=tmp_path)
        assert second.returncode == 0, second.stderr
        assert CHECKING not in second.stdout
        assert requests_to(fake, "/v1/key-proofs") == 1
        assert requests_to(fake, "/v1/ballots") == 2


# --- check_key_proofs itself, with a client that counts ---------------------------------------


class CountingClient:
    """Answers GET /v1/key-proofs with `document` (None: the collector's 404), counting; any
    other request fails the test (nothing but the key's proofs may be asked)."""

    base_url = "http://collector.invalid"

    def __init__(self, document: dict[str, Any] | None) -> None:
        self.document = document
        self.fetches = 0

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        assert path == "/v1/key-proofs", path
        self.fetches += 1
        if self.document is None:
            raise CollectorRefused(404, "not_found", "not found")
        return self.document

    def post(self, path: str, body: Any = None) -> Any:
        raise AssertionError(f"POST {path} before the key's proofs passed")


def trusted(election: VoterElection, **changes: Any) -> Election:
    manifest = replace(election.manifest, **changes)
    return Election(manifest, election.pki.organiser.certificate, ())


def test_a_check_that_passed_is_remembered_by_manifest_fingerprint(
    election: VoterElection, tmp_path: Path
) -> None:
    store = VoterStore(tmp_path)
    client = CountingClient(published(election))
    said: list[str] = []
    check_key_proofs(client, trusted(election), store, checking=lambda: said.append("checking"))  # type: ignore[arg-type]
    assert (client.fetches, said) == (1, ["checking"])
    check_key_proofs(client, trusted(election), store, checking=lambda: said.append("again"))  # type: ignore[arg-type]
    assert (client.fetches, said) == (1, ["checking"])  # remembered: not fetched, not checked
    # another hash remembered for this election (a store from elsewhere): checked again
    fingerprint = election.manifest.fingerprint
    store.remember_key_proofs(fingerprint, b64url(bytes(32)))
    check_key_proofs(client, trusted(election), store)  # type: ignore[arg-type]
    assert client.fetches == 2
    assert store.verified_key_proofs(fingerprint) == b64url(election.manifest.key_proofs or b"")
    # without a store, every call checks
    for expected in (3, 4):
        check_key_proofs(client, trusted(election))  # type: ignore[arg-type]
        assert client.fetches == expected
    assert (tmp_path / "verified-keys.json").stat().st_mode & 0o777 == 0o600


def test_failures_are_named_and_never_remembered(election: VoterElection, tmp_path: Path) -> None:
    store = VoterStore(tmp_path)
    fingerprint = election.manifest.fingerprint
    with pytest.raises(KeyNotProven) as refused:
        check_key_proofs(CountingClient(tampered(published(election))), trusted(election), store)  # type: ignore[arg-type]
    assert any("modulus proof does not verify" in p for p in refused.value.problems)
    with pytest.raises(KeyNotProven, match=r"\) is missing"):
        check_key_proofs(CountingClient(None), trusted(election), store)  # type: ignore[arg-type]
    other = {**published(election), "election_id": "another-election"}
    with pytest.raises(KeyNotProven, match="is for election another-election"):
        check_key_proofs(CountingClient(other), trusted(election), store)  # type: ignore[arg-type]
    # a manifest that names no key proofs: refused without asking the collector
    client = CountingClient(published(election))
    with pytest.raises(KeyNotProven, match="the manifest names no key proofs"):
        check_key_proofs(client, trusted(election, key_proofs=None), store)  # type: ignore[arg-type]
    assert client.fetches == 0
    assert store.verified_key_proofs(fingerprint) is None
    # in Thai, the refusal and its problems are Thai
    with language("th"), pytest.raises(KeyNotProven) as thai:
        check_key_proofs(CountingClient(None), trusted(election), store)  # type: ignore[arg-type]
    assert "no ballot" not in str(thai.value) and "missing" not in str(thai.value)


def test_prepare_ballot_encrypts_nothing_under_a_key_not_proven(election: VoterElection) -> None:
    """However it is called: no challenge is asked and nothing is encrypted. An election
    that check_key_proofs returned is proven: its ballots are not checked again."""
    client = CountingClient(tampered(published(election)))
    with pytest.raises(KeyNotProven):
        prepare_ballot(client, trusted(election), "north", {"council": 101})  # type: ignore[arg-type]
    assert client.fetches == 1
    client = CountingClient(published(election))
    proven = check_key_proofs(client, trusted(election))  # type: ignore[arg-type]
    assert proven.key_proven and not trusted(election).key_proven
    assert proven.manifest.hash == election.manifest.hash and client.fetches == 1
    with pytest.raises(AssertionError, match="POST /v1/challenges before"):
        prepare_ballot(client, proven, "north", {"council": 101})  # type: ignore[arg-type]
    assert client.fetches == 1  # straight to the challenge: not fetched or checked again
