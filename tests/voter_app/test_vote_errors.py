"""Bad input and bad collectors: each a clear one-line message, never a traceback."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from support.collector_process import free_port
from test_vote_cli import cast_args
from voter_helpers import (
    EXPIRED,
    REVOKED,
    CollectorProcess,
    FakeCollector,
    VoterElection,
    run_vote,
)

from canonical.encoding import DOMAINS, canonical_bytes, object_hash, parse_canonical
from ceremonies.pki import make_official, make_root_ca
from formats.manifest import format_time
from formats.signed import sign_object


def assert_clean_failure(result, *fragments: str) -> None:  # type: ignore[no-untyped-def]
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def test_unknown_candidate(
    collector: CollectorProcess, election: VoterElection, pin_file: Path, tmp_path: Path
) -> None:
    before = collector.log_size()
    args = cast_args(collector, election, "38001010001", pin_file, tmp_path)
    for choice, message in (("Nobody", "has no candidate 'Nobody'"), ("999", "number 999")):
        result = run_vote(*args, "--choice", choice, data_dir=tmp_path)
        assert_clean_failure(result, message)
    assert collector.log_size() == before


def test_wrong_pin(collector: CollectorProcess, election: VoterElection, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong-pin"
    wrong.write_text("00000\n")
    args = cast_args(collector, election, "38001010001", wrong, tmp_path)
    assert_clean_failure(run_vote(*args, "--choice", "101", data_dir=tmp_path), "wrong PIN")


def test_revoked_eid_is_refused_by_the_collector(
    collector: CollectorProcess, election: VoterElection, pin_file: Path, tmp_path: Path
) -> None:
    args = cast_args(collector, election, REVOKED, pin_file, tmp_path)
    result = run_vote(*args, "--choice", "101", data_dir=tmp_path)
    assert_clean_failure(result, "Your e-ID certificate is revoked")


def test_expired_eid_is_refused_before_sending(
    collector: CollectorProcess, election: VoterElection, pin_file: Path, tmp_path: Path
) -> None:
    before = collector.log_size()
    args = cast_args(collector, election, EXPIRED, pin_file, tmp_path)
    result = run_vote(*args, "--choice", "101", data_dir=tmp_path)
    assert_clean_failure(result, "Your e-ID certificate has expired")
    assert collector.log_size() == before


def _resigned_manifest(election: VoterElection, signer, **changes) -> tuple[bytes, str]:  # type: ignore[no-untyped-def]
    payload = election.manifest.to_dict()
    payload.update(changes)
    document = sign_object(signer, DOMAINS["manifest"], payload)
    return canonical_bytes(document), object_hash(payload).hex()


def _serve_manifest(body: bytes):  # type: ignore[no-untyped-def]
    def tamper(method: str, path: str, status: int, content: bytes) -> tuple[int, bytes] | None:
        return (200, body) if path == "/v1/manifest" else None

    return tamper


@pytest.mark.parametrize("when", ["not_open", "over"])
def test_election_not_open_or_over(
    when: str, collector: CollectorProcess, election: VoterElection, pin_file: Path, tmp_path: Path
) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    if when == "not_open":
        period = {
            "start": format_time(now + dt.timedelta(days=1)),
            "end": format_time(now + dt.timedelta(days=2)),
        }
        message = "has not started yet"
    else:
        period = {
            "start": format_time(now - dt.timedelta(days=2)),
            "end": format_time(now - dt.timedelta(days=1)),
        }
        message = "is over"
    body, fingerprint = _resigned_manifest(election, election.organiser, period=period)
    with FakeCollector(collector.url, _serve_manifest(body)) as fake:
        args = cast_args(collector, election, "38001010001", pin_file, tmp_path)
        args[args.index("--collector") + 1] = fake.url
        args[args.index("--fingerprint") + 1] = fingerprint
        result = run_vote(*args, "--choice", "101", data_dir=tmp_path)
    assert_clean_failure(result, message)


def test_manifest_signed_by_someone_else(
    collector: CollectorProcess, election: VoterElection, pin_file: Path, tmp_path: Path
) -> None:
    impostor = make_official(make_root_ca("Impostor CA"), "organiser")
    # another election (its own key, say) signed by someone else: not the fingerprint told
    body, _ = _resigned_manifest(election, impostor, name="Voter app test election (copy)")
    with FakeCollector(collector.url, _serve_manifest(body)) as fake:
        args = cast_args(collector, election, "38001010001", pin_file, tmp_path)
        args[args.index("--collector") + 1] = fake.url
        result = run_vote(*args, "--choice", "101", data_dir=tmp_path)
    assert_clean_failure(result, "fingerprint is not the one you were told")

    # the very same manifest re-signed by someone else than the organiser seen before
    same, _ = _resigned_manifest(election, impostor)
    with FakeCollector(collector.url) as fake:
        args = cast_args(collector, election, "38001010001", pin_file, tmp_path)
        args[args.index("--collector") + 1] = fake.url
        args.remove("--yes")
        args += ["--audit"]  # first contact pins the organiser; nothing is cast
        assert run_vote(*args, "--choice", "101", data_dir=tmp_path).returncode == 0
        fake.tamper = _serve_manifest(same)
        result = run_vote(*args, "--choice", "101", data_dir=tmp_path)
    assert_clean_failure(result, "signed by someone other than the organiser")


def test_invalid_receipts(
    collector: CollectorProcess, election: VoterElection, pin_file: Path, tmp_path: Path
) -> None:
    impostor = make_official(make_root_ca("Impostor CA"), "collector")

    def foreign_signature(method: str, path: str, status: int, body: bytes):  # type: ignore[no-untyped-def]
        if method != "POST" or path != "/v1/ballots" or status != 200:
            return None
        receipt = parse_canonical(body)
        return 200, canonical_bytes(sign_object(impostor, DOMAINS["receipt"], receipt["payload"]))

    def wrong_index(method: str, path: str, status: int, body: bytes):  # type: ignore[no-untyped-def]
        if method != "POST" or path != "/v1/ballots" or status != 200:
            return None
        payload = parse_canonical(body)["payload"]
        # a receipt signed with the real key, but for a leaf that is not this ballot's
        payload["log_index"] = (payload["log_index"] + 1) % payload["log_head"]["payload"]["size"]
        return 200, canonical_bytes(sign_object(election.collector, DOMAINS["receipt"], payload))

    def garbage(method: str, path: str, status: int, body: bytes):  # type: ignore[no-untyped-def]
        return (200, b'{"version": 1}') if method == "POST" and path == "/v1/ballots" else None

    cases = (
        (foreign_signature, "not by a collector the manifest names"),
        (wrong_index, "not in the log the receipt's head signs"),
        (garbage, "receipt"),
    )
    for tamper, message in cases:
        with FakeCollector(collector.url, tamper) as fake:
            args = cast_args(collector, election, "38001010002", pin_file, tmp_path)
            args[args.index("--collector") + 1] = fake.url
            result = run_vote(*args, "--choice", "102", data_dir=tmp_path)
        assert_clean_failure(result, message)


def test_lost_answer_is_retried_with_the_same_ballot(
    collector: CollectorProcess, election: VoterElection, pin_file: Path, tmp_path: Path
) -> None:
    before = collector.log_size()
    with FakeCollector(collector.url) as fake:
        fake.drops["/v1/ballots"] = 1
        args = cast_args(collector, election, "38001010004", pin_file, tmp_path)
        args[args.index("--collector") + 1] = fake.url
        result = run_vote(*args, "--choice", "102", data_dir=tmp_path)
        casts = [body for method, path, body in fake.requests if path == "/v1/ballots"]
    assert result.returncode == 0, result.stderr
    assert "retry" in result.stderr
    assert len(casts) == 2 and casts[0] == casts[1]  # the same signed ballot, resent
    assert collector.log_size() == before + 1  # one ballot, one receipt


def test_collector_unreachable(election: VoterElection, pin_file: Path, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = run_vote(
        "cast", "--collector", url, "--eid", str(election.eid_files["38001010001"]),
        "--pin-file", str(pin_file), "--fingerprint", election.fingerprint, "--retries", "2",
        "--choice", "101", "--yes", "--data-dir", str(tmp_path), data_dir=tmp_path,
    )  # fmt: skip
    assert_clean_failure(result, "could not be reached after 2 attempts")


def test_cast_stays_unanswered(
    collector: CollectorProcess, election: VoterElection, pin_file: Path, tmp_path: Path
) -> None:
    """Every answer lost: a clear message, and the signed ballot kept sealed on disk."""
    with FakeCollector(collector.url) as fake:
        fake.drops["/v1/ballots"] = 10
        args = cast_args(collector, election, "38001010004", pin_file, tmp_path)
        args[args.index("--collector") + 1] = fake.url
        result = run_vote(*args, "--choice", "102", "--retries", "2", data_dir=tmp_path)
    assert_clean_failure(result, "could not be reached after 2 attempts", "may or may not")
    assert len(list((tmp_path / "ballots").glob("*.sealed"))) == 1


def test_first_contact_needs_the_fingerprint(
    collector: CollectorProcess, election: VoterElection, pin_file: Path, tmp_path: Path
) -> None:
    args = cast_args(collector, election, "38001010001", pin_file, tmp_path)
    at = args.index("--fingerprint")
    del args[at : at + 2]
    result = run_vote(*args, "--choice", "101", data_dir=tmp_path)
    assert_clean_failure(result, "fingerprint was not confirmed", "--fingerprint")


def test_a_test_election_is_refused_without_allow_test_key(
    collector: CollectorProcess, election: VoterElection, pin_file: Path, tmp_path: Path
) -> None:
    """The suite's election is dealt from the public fixture primes: a voter's app refuses it
    unless told it is a test, and sends nothing."""
    from support.collector_process import run_ivote
    from voter_helpers import voter_env

    before = collector.log_size()
    args = cast_args(collector, election, "38001010001", pin_file, tmp_path)
    result = run_ivote("vote", *args, "--choice", "101", env=voter_env(tmp_path))
    assert_clean_failure(result, "this is a TEST election", "Do not vote here")
    assert collector.log_size() == before
