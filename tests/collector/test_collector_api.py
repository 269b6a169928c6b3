"""The collector over real HTTP against `ivote collector serve` (SQLite and PostgreSQL): every
refusal in its order, receipts and their proofs, resends, the vote check, close and export."""

from __future__ import annotations

import copy
import json
import zipfile
from typing import Any

import pytest
import sqlalchemy as sa
from collector_helpers import (
    EXPIRED,
    NORTH,
    PASSPHRASE,
    REVOKED,
    SOUTH,
    STRANGER,
    Client,
    CollectorElection,
    Server,
    random_challenge,
    refusal,
    run_cli,
)

from canonical.encoding import DOMAINS, b64url, canonical_bytes, hex_int, parse_b64url
from crypto import merkle, paillier
from crypto.eid import sign
from formats.ballot import ballot_hash, choices_in, parse_ballot, verification_code
from formats.ballotbox import BallotBoxError, read_ballot_box
from formats.receipt import LatestStatement, LogHead, entry_leaf_hash
from formats.signed import open_signed, sign_object


def head_of(election: CollectorElection, document: dict[str, Any]) -> LogHead:
    payload, _, _ = open_signed(
        document, DOMAINS["log_head"], expected_cert=election.pki.collector.certificate
    )
    return LogHead.from_dict(payload)


def latest_of(election: CollectorElection, document: dict[str, Any]) -> LatestStatement:
    payload, _, _ = open_signed(
        document, DOMAINS["latest_ballot"], expected_cert=election.pki.collector.certificate
    )
    return LatestStatement.from_dict(payload)


def log_size(client: Client) -> int:
    return client.json("/v1/health")["size"]


def resign(election: CollectorElection, voter: str, payload: dict[str, Any]) -> dict[str, Any]:
    return sign_object(election.pki.eids[voter], DOMAINS["ballot"], payload)


def test_receipts_proofs_resend_and_vote_check(election: CollectorElection, client: Client) -> None:
    manifest = client.json("/v1/manifest")
    assert manifest["payload"]["election_id"] == election.manifest.election_id
    assert client.get("/openapi.json").status_code == 200
    first = head_of(election, client.json("/v1/log/head"))
    assert first.size == 0

    casts = []
    for voter, choice in [(NORTH[0], 102), (NORTH[1], 103), (SOUTH[0], 204), (NORTH[0], 101)]:
        district = election.pki.voters[voter].district
        contest_choices = {"council": choice} | ({"mayor": 112} if district == "north" else {})
        signed, randomness = election.ballot(voter, client.challenge(), contest_choices)
        response = client.cast(signed)
        assert response.status_code == 200, response.text
        casts.append((voter, signed, randomness, contest_choices, response.content))

    latest = head_of(election, client.json("/v1/log/head"))
    assert latest.size == 4
    for index, (_, signed, _, _, receipt_bytes) in enumerate(casts):
        receipt = election.open_receipt(client.cast(signed).json())  # resend: same receipt
        assert canonical_bytes(client.cast(signed).json()) == receipt_bytes
        assert receipt["log_index"] == index
        assert parse_b64url(receipt["ballot_hash"], "h") == ballot_hash(signed)
        head = head_of(election, receipt["log_head"])
        assert head.size > index and head.timestamp >= receipt["received"]
        leaf = entry_leaf_hash(ballot_hash(signed), receipt["received"])
        for size, root in ((head.size, head.root_hash), (latest.size, latest.root_hash)):
            proof = client.json("/v1/log/inclusion", index=index, size=size)
            assert parse_b64url(proof["leaf_hash"], "leaf") == leaf
            merkle.verify_inclusion(
                leaf, index, size, [parse_b64url(p, "p") for p in proof["proof"]], root
            )
        by_hash = client.json("/v1/log/inclusion", ballot_hash=b64url(ballot_hash(signed)), size=4)
        assert by_hash["index"] == index
        consistency = client.json("/v1/log/consistency", old=head.size, new=latest.size)
        merkle.verify_consistency(
            head.size,
            latest.size,
            head.root_hash,
            latest.root_hash,
            [parse_b64url(p, "p") for p in consistency["proof"]],
        )
        assert head_of(election, client.json(f"/v1/log/heads/{head.size}")) == head
    assert log_size(client) == 4  # the resends made no new entries
    leaves = client.json("/v1/log/leaves", start=0, end=4)["leaf_hashes"]
    assert merkle.root_hash([parse_b64url(x, "l") for x in leaves]) == latest.root_hash

    # the vote check by a 7-byte prefix of the ballot hash: three fetches within the window,
    # then refused; the randomness shows which candidates the stored ballot holds, and the
    # collector's signed statement says it is the voter's latest ballot
    voter, signed, randomness, chosen, _ = casts[1]
    digest = ballot_hash(signed)
    prefix = b64url(digest[:7])
    for _ in range(3):
        [fetched] = client.json(f"/v1/ballots/{prefix}")["ballots"]
        assert fetched["ballot"] == signed
        assert fetched["verification_code"] == verification_code(digest)
        stored = parse_ballot(election.manifest, fetched["ballot"]["payload"])
        assert choices_in(election.manifest, stored, randomness) == chosen
        statement = latest_of(election, fetched["latest"])
        assert (statement.ballot_hash, statement.log_index) == (digest, 1)
        assert statement.is_latest and statement.log_size == 4
        assert fetched["newer"] is None
    assert refusal(client.get(f"/v1/ballots/{prefix}")) == "check_limit_reached"
    assert refusal(client.get(f"/v1/ballots/{b64url(digest)}")) == "check_limit_reached"
    # the first voter's first ballot is not their latest: the newer one (index 3) comes along
    [fetched] = client.json(f"/v1/ballots/{b64url(ballot_hash(casts[0][1]))}")["ballots"]
    statement = latest_of(election, fetched["latest"])
    assert (statement.log_index, statement.latest_index) == (0, 3) and not statement.is_latest
    assert fetched["newer"]["ballot"] == casts[3][1]
    assert canonical_bytes(fetched["newer"]["receipt"]) == casts[3][4]
    assert refusal(client.get(f"/v1/ballots/{b64url(bytes(7))}")) == "not_found"
    assert refusal(client.get(f"/v1/ballots/{b64url(digest[:6])}")) == "bad_request"
    assert refusal(client.get("/v1/ballots/not-a-hash")) == "bad_request"
    assert refusal(client.get("/v1/log/inclusion", index=9, size=4)) == "bad_request"
    assert refusal(client.get("/v1/log/consistency", old=3, new=7)) == "bad_request"


def test_every_refusal_in_order(
    election: CollectorElection, client: Client, server: Server, db_url: str
) -> None:
    pki = election.pki
    voter, other = NORTH[2], NORTH[3]

    # 1. size
    response = client.cast(b"{" + b" " * (4 * 1024 * 1024) + b"}")
    assert response.status_code == 413 and refusal(response) == "too_large"
    # 2. structure: not JSON, not an envelope, a payload missing a contest, a bad ciphertext
    assert refusal(client.cast(b"not json")) == "malformed"
    assert refusal(client.cast({"version": 1, "payload": {}})) == "malformed"
    signed, _ = election.ballot(voter, client.challenge())
    payload = copy.deepcopy(signed["payload"])
    del payload["contests"]["mayor"]
    response = client.cast(resign(election, voter, payload))
    assert refusal(response) == "malformed" and "mayor" in response.json()["detail"]["message"]
    payload = copy.deepcopy(signed["payload"])
    payload["contests"]["council"]["ciphertexts"][0] = "0"
    response = client.cast(resign(election, voter, payload))
    assert (
        refusal(response) == "malformed" and "ciphertexts" in response.json()["detail"]["message"]
    )
    payload = copy.deepcopy(signed["payload"])
    payload["election_id"] = "another-election"
    assert refusal(client.cast(resign(election, voter, payload))) == "wrong_election"
    # ... and structure comes before the challenge: a malformed ballot with a bad challenge
    payload["challenge"] = b64url(random_challenge())
    assert refusal(client.cast(resign(election, voter, payload))) == "wrong_election"

    # 4. challenge: unknown, expired, used by another ballot
    unknown, _ = election.ballot(voter, random_challenge())
    assert refusal(client.cast(unknown)) == "challenge_unknown"
    challenge = client.challenge()
    engine = sa.create_engine(db_url)
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE challenges SET expires = 0 WHERE challenge = :c"), {"c": challenge}
        )
    engine.dispose()
    expired, _ = election.ballot(voter, challenge)
    assert refusal(client.cast(expired)) == "challenge_expired"
    shared = client.challenge()
    accepted, _ = election.ballot(other, shared)
    assert client.cast(accepted).status_code == 200
    reused, _ = election.ballot(voter, shared)
    assert refusal(client.cast(reused)) == "challenge_used"
    # the challenge check comes before the signature check
    bad_signature, _ = election.ballot(voter, random_challenge())
    bad_signature["signature"]["value"] = b64url(
        sign(pki.eids[voter], DOMAINS["ballot"], {"something": "else"})
    )
    assert refusal(client.cast(bad_signature)) == "challenge_unknown"

    # 5. signature and certificate
    bad_signature, _ = election.ballot(voter, client.challenge())
    bad_signature["signature"]["value"] = b64url(
        sign(pki.eids[voter], DOMAINS["ballot"], {"something": "else"})
    )
    assert refusal(client.cast(bad_signature)) == "signature_invalid"
    untrusted, _ = election.ballot(NORTH[0], client.challenge(), signer=pki.eids["untrusted"])
    assert refusal(client.cast(untrusted)) == "certificate_untrusted"
    expired_eid, _ = election.ballot(EXPIRED, client.challenge())
    assert refusal(client.cast(expired_eid)) == "certificate_expired"
    revoked, _ = election.ballot(REVOKED, client.challenge())
    assert refusal(client.cast(revoked)) == "certificate_revoked"
    # 6. eligibility and district
    stranger, _ = election.ballot(voter, client.challenge(), signer=pki.eids[STRANGER])
    assert refusal(client.cast(stranger)) == "not_eligible"
    wrong_district, _ = election.ballot(voter, client.challenge(), district="south")
    assert refusal(client.cast(wrong_district)) == "wrong_district"

    # 7. proofs: a ciphertext changed to hold 1 more, its proof left as it was
    signed, _ = election.ballot(voter, client.challenge())
    payload = copy.deepcopy(signed["payload"])
    key = election.manifest.threshold_key.public_key
    c = int(payload["contests"]["council"]["ciphertexts"][0], 16)
    payload["contests"]["council"]["ciphertexts"][0] = hex_int(
        c * paillier.g_power(key, 1) % key.n_squared
    )
    # ... and eligibility comes before proofs: the same bad proof from a stranger
    assert (
        refusal(client.cast(sign_object(pki.eids[STRANGER], DOMAINS["ballot"], payload)))
        == "not_eligible"
    )
    assert refusal(client.cast(resign(election, voter, payload))) == "proof_invalid"

    # 8. copying: another voter's accepted contests, under my signature and challenge
    payload = copy.deepcopy(accepted["payload"])
    payload["challenge"] = b64url(client.challenge())
    assert refusal(client.cast(resign(election, voter, payload))) == "ballot_copied"

    # nothing refused was stored; the refused voter can still vote
    assert log_size(client) == 1
    good, _ = election.ballot(voter, client.challenge())
    assert client.cast(good).status_code == 200
    assert log_size(client) == 2


@pytest.mark.parametrize("which", ["future", "past"])
def test_election_not_open(
    which: str,
    future_election: CollectorElection,
    past_election: CollectorElection,
    tmp_path: Any,
) -> None:
    chosen = future_election if which == "future" else past_election
    server = Server(chosen.directory, f"sqlite:///{tmp_path / 'c.sqlite'}", workers=1).start()
    client = Client(server.url)
    try:
        signed, _ = chosen.ballot(NORTH[0], client.challenge())
        expected = "election_not_open" if which == "future" else "election_over"
        assert refusal(client.cast(signed)) == expected
        # the election check comes before the challenge check
        unknown, _ = chosen.ballot(NORTH[0], random_challenge())
        assert refusal(client.cast(unknown)) == expected
        assert log_size(client) == 0
    finally:
        client.close()
        server.stop()


def test_close_and_export(
    election: CollectorElection, client: Client, server: Server, db_url: str, tmp_path: Any
) -> None:
    casts = []
    for voter in (NORTH[5], SOUTH[1], NORTH[5]):
        signed, _ = election.ballot(voter, client.challenge())
        assert client.cast(signed).status_code == 200
        casts.append(signed)
    pending, _ = election.ballot(NORTH[6], client.challenge())
    out = tmp_path / "box.zip"
    refused = run_cli(
        "export", "--election", str(election.directory), "--db", db_url, "--out", str(out)
    )
    assert refused.returncode != 0 and "close" in refused.stderr and not out.exists()
    closed = run_cli("close", "--election", str(election.directory), "--db", db_url)
    assert closed.returncode == 0, closed.stderr
    assert refusal(client.cast(pending)) == "election_closed"
    assert refusal(client.http.post("/v1/challenges")) == "election_closed"
    final = head_of(election, client.json("/v1/log/head"))
    assert final.size == 3
    # a summary for people: ballots, voters, the final head in full, what to publish, next step
    summary = closed.stdout
    assert "is closed: the collector accepts no more ballots" in summary
    assert "Ballots received: 3  (from 2 voters)" in summary
    assert f"size 3\n    root hash {final.root_hash.hex()}\n" in summary
    assert "Publish the size and root hash now" in summary
    assert f"ivote collector export --election {election.directory} --db URL" in summary
    # closing again changes nothing and says so; --json is the signed head for scripts
    again = run_cli("close", "--election", str(election.directory), "--db", db_url, "--json")
    assert again.returncode == 0, again.stderr
    assert head_of(election, json.loads(again.stdout)) == final
    repeat = run_cli("close", "--election", str(election.directory), "--db", db_url)
    assert "was already closed" in repeat.stdout and final.root_hash.hex() in repeat.stdout
    exported = run_cli(
        "export", "--election", str(election.directory), "--db", db_url, "--out", str(out)
    )
    assert exported.returncode == 0, exported.stderr
    assert f"Wrote {out}: 3 ballots." in exported.stdout
    assert "ivote tally process" in exported.stdout
    box = read_ballot_box(out, election.manifest)
    assert box.head == final
    assert [e.ballot for e in box.entries] == casts
    assert box.voter_lists[-1].list_version == 1
    assert box.collector_certificate == election.pki.collector.certificate
    # an earlier export is never overwritten
    before = out.read_bytes()
    again = run_cli(
        "export", "--election", str(election.directory), "--db", db_url, "--out", str(out)
    )
    assert again.returncode == 1 and "already exists; choose another --out" in again.stderr
    assert out.read_bytes() == before

    # a box with a changed entries file, or checked against another signer, does not open
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(out) as source, zipfile.ZipFile(forged, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "entries.jsonl":
                data = data.replace(b"\n", b"\n\n", 1)
            target.writestr(item, data)
    with pytest.raises(BallotBoxError, match=r"entries\.jsonl"):
        read_ballot_box(forged, election.manifest)
    with pytest.raises(BallotBoxError, match="collector"):
        read_ballot_box(out, election.manifest, [election.pki.organiser.certificate])


def test_bad_cli_input_is_one_line(election: CollectorElection, tmp_path: Any) -> None:
    result = run_cli("close", "--election", str(tmp_path), "--db", f"sqlite:///{tmp_path}/x")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "manifest" in result.stderr
    wrong = run_cli(
        "close", "--election", str(election.directory), "--passphrase-file", str(tmp_path / "none")
    )
    assert wrong.returncode != 0 and "Traceback" not in wrong.stderr
    # a database that cannot be opened, or a URL no driver knows: one line, exit status 1
    for url in (f"sqlite:///{tmp_path}/no/such/dir/c.sqlite", "nosuchdriver://host/db"):
        for command in ("close", "export"):
            extra = ("--out", str(tmp_path / "box.zip")) if command == "export" else ()
            result = run_cli(command, "--election", str(election.directory), "--db", url, *extra)
            assert result.returncode == 1, result.stderr
            assert "Traceback" not in result.stderr and f"database {url}: " in result.stderr


def test_a_test_election_is_refused_without_allow_test_key(
    election: CollectorElection, db_url: str
) -> None:
    """The suite's elections are dealt from the public fixture primes at 512 bits: a
    collector started on one without --allow-test-key refuses, saying why."""
    result = run_cli(
        "close", "--election", str(election.directory), "--db", db_url, allow_test_key=False
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "a TEST election: its key was dealt from fixed public test primes" in result.stderr
    assert "--allow-test-key" in result.stderr


def test_a_mistyped_collector_passphrase_may_be_typed_again(
    election: CollectorElection, tmp_path: Any
) -> None:
    from click.testing import CliRunner

    from collector.cli import PASSPHRASE_ENV
    from ivote.cli import main

    arguments = [
        "collector", "close", "--election", str(election.directory), "--allow-test-key",
        "--db", f"sqlite:///{tmp_path / 'c.sqlite'}", "--json",
    ]  # fmt: skip
    runner = CliRunner()
    unset = {PASSPHRASE_ENV: None}
    typed = runner.invoke(main, arguments, input=f"typo\n{PASSPHRASE}\n", env=unset)
    assert typed.exit_code == 0, typed.output
    assert "Wrong passphrase (or a modified file); please try again." in typed.output
    assert head_of(election, json.loads(typed.output.splitlines()[-1])).size == 0
    wrong = runner.invoke(main, arguments, input="one\ntwo\nthree\n", env=unset)
    assert wrong.exit_code == 1 and "collector.p12: wrong PIN or passphrase" in wrong.output
    assert wrong.output.count("Collector key passphrase: ") == 3
