"""Casts checked and appended together: refusals inside a batch of simultaneous casts reach
only their own requests; one collector per port; the officials' sealed collector key."""

from __future__ import annotations

import copy
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from collector_helpers import NORTH, PASSPHRASE, Client, CollectorElection, Server, refusal
from support.collector_process import CollectorProcess

from canonical.encoding import DOMAINS, b64url, canonical_bytes, hex_int
from crypto import paillier
from crypto.eid import OFFICIAL_KEY_PURPOSES, seal_signer
from formats.ballot import ballot_hash
from formats.signed import sign_object


def with_bad_proof(election: CollectorElection, voter: str, challenge: bytes) -> dict[str, Any]:
    """The voter's ballot with its first ciphertext holding one more, its proof unchanged."""
    signed, _ = election.ballot(voter, challenge)
    payload = copy.deepcopy(signed["payload"])
    key = election.manifest.threshold_key.public_key
    c = int(payload["contests"]["council"]["ciphertexts"][0], 16)
    payload["contests"]["council"]["ciphertexts"][0] = hex_int(
        c * paillier.g_power(key, 1) % key.n_squared
    )
    return sign_object(election.eids[voter], DOMAINS["ballot"], payload)


def cast_all_at_once(url: str, ballots: list[dict[str, Any]]) -> list[httpx.Response]:
    """Every ballot from its own connection, released together."""
    start = threading.Barrier(len(ballots))

    def cast(signed: dict[str, Any]) -> httpx.Response:
        with httpx.Client(base_url=url, timeout=60) as http:
            body = canonical_bytes(signed)
            start.wait()
            return http.post(
                "/v1/ballots", content=body, headers={"content-type": "application/json"}
            )

    with ThreadPoolExecutor(len(ballots)) as pool:
        return list(pool.map(cast, ballots))


def test_refusals_inside_a_batch_reach_only_their_casts(
    election: CollectorElection, server: Server, client: Client
) -> None:
    good = [election.ballot(voter, client.challenge())[0] for voter in NORTH[:8]]
    bad = [with_bad_proof(election, voter, client.challenge()) for voter in NORTH[8:12]]
    # a copy of the first good ballot's contests under another voter, sent at the same time
    copied = copy.deepcopy(good[0]["payload"])
    copied["challenge"] = b64url(client.challenge())
    copy_of_first = sign_object(election.eids[NORTH[12]], DOMAINS["ballot"], copied)
    # the same bytes twice at once (an app resending while the first is in flight)
    twice = good[1]
    ballots = [*good, *bad, copy_of_first, twice]

    responses = cast_all_at_once(server.url, ballots)

    accepted: dict[bytes, dict[str, Any]] = {}
    for signed, response in zip(ballots, responses, strict=True):
        if response.status_code == 200:
            receipt = election.open_receipt(response.json())
            assert accepted.setdefault(ballot_hash(signed), receipt) == receipt
    for response in responses[len(good) : len(good) + len(bad)]:
        assert response.status_code == 422 and refusal(response) == "proof_invalid"
    # the original and its copy came together: whichever the log took first stands
    original, copy_response = responses[0], responses[len(good) + len(bad)]
    assert sorted([original.status_code, copy_response.status_code]) == [200, 409]
    refused = copy_response if copy_response.status_code == 409 else original
    assert refusal(refused) == "ballot_copied"
    for response in responses[1 : len(good)]:
        assert response.status_code == 200, response.text
    assert responses[-1].status_code == 200  # the resend got the same receipt (setdefault)

    indices = sorted(receipt["log_index"] for receipt in accepted.values())
    assert indices == list(range(len(good)))
    assert server.log_size() == len(good)
    # the refused voters can still vote
    retry = election.ballot(NORTH[8], client.challenge())[0]
    assert client.cast(retry).status_code == 200


def test_a_busy_port_is_refused(election: CollectorElection, server: Server, db_url: str) -> None:
    """A second collector on the port of a running one must not share its connections."""
    second = CollectorProcess(election.directory, db_url, PASSPHRASE, workers=2, port=server.port)
    second.start(wait=False)
    assert second.process is not None
    try:
        assert second.process.wait(60) != 0
    finally:
        second.stop()
    assert "cannot listen on" in second.log.read_text()
    assert server.log_size() == 0


def test_the_officials_sealed_key_is_the_default(
    election: CollectorElection, tmp_path: Path
) -> None:
    """`ivote pki officials` writes collector.key, sealed; serve opens it without --key."""
    directory = tmp_path / "election"
    shutil.copytree(election.directory, directory)
    (directory / "collector.p12").unlink()
    (directory / "collector.key").write_bytes(
        seal_signer(
            election.collector, PASSPHRASE, OFFICIAL_KEY_PURPOSES["collector"], cost=1 << 10
        )
    )
    server = Server(directory, f"sqlite:///{tmp_path / 'c.sqlite'}", workers=1).start()
    client = Client(server.url)
    try:
        signed, _ = election.ballot(NORTH[0], client.challenge())
        response = client.cast(signed)
        assert response.status_code == 200, response.text
        assert election.open_receipt(response.json())["ballot_hash"] == b64url(ballot_hash(signed))
    finally:
        client.close()
        server.stop()
