"""POST /v1/eligibility over real HTTP against `ivote collector serve` (SQLite and PostgreSQL):
the signed answer (district, status, whether a ballot is in the log), every refusal, the
one-use challenge, the request's own signing domain, the period and the closed collector, and
the per-address limit it shares with casts."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
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
from support.collector_process import CollectorProcess
from test_collector_hostile import assert_no_traceback

from canonical.encoding import DOMAINS, b64url, canonical_bytes
from formats.eligibility import EligibilityAnswer, EligibilityRequest
from formats.receipt import open_by_collector
from formats.signed import sign_object

JSON = {"content-type": "application/json"}


def request_for(
    election: CollectorElection,
    voter: str,
    challenge: bytes,
    domain: str = DOMAINS["eligibility_request"],
    **changes: Any,
) -> dict[str, Any]:
    payload = EligibilityRequest.for_manifest(election.manifest, challenge).to_dict()
    payload.update(changes)
    return sign_object(election.pki.eids[voter], domain, payload)


def ask(client: Client, signed: dict[str, Any] | bytes) -> httpx.Response:
    body = signed if isinstance(signed, bytes) else canonical_bytes(signed)
    return client.http.post("/v1/eligibility", content=body, headers=JSON)


def answer_of(election: CollectorElection, response: httpx.Response) -> EligibilityAnswer:
    """The answer, its signature by a collector the manifest names checked."""
    assert response.status_code == 200, response.text
    payload = open_by_collector(
        response.json(),
        DOMAINS["eligibility"],
        election.manifest.trust.collector_certificates,
        "eligibility",
    )
    return EligibilityAnswer.from_dict(payload)


def eligibility(election: CollectorElection, client: Client, voter: str) -> EligibilityAnswer:
    challenge = client.challenge()
    answer = answer_of(election, ask(client, request_for(election, voter, challenge)))
    assert answer.challenge == challenge
    return answer


def test_an_eligible_voter_learns_district_status_and_ballot(
    election: CollectorElection, client: Client, server: Server
) -> None:
    for voter, district in ((NORTH[10], "north"), (SOUTH[3], "south")):
        answer = eligibility(election, client, voter)
        assert (answer.personal_code, answer.district) == (voter, district)
        assert answer.status == "open" and answer.has_ballot is False
        assert answer.election_id == election.manifest.election_id
        assert answer.manifest_hash == election.manifest.hash
    size = client.json("/v1/health")["size"]
    signed, _ = election.ballot(NORTH[10], client.challenge())
    assert client.cast(signed).status_code == 200
    assert eligibility(election, client, NORTH[10]).has_ballot is True
    assert eligibility(election, client, SOUTH[3]).has_ballot is False
    assert client.json("/v1/health")["size"] == size + 1  # asking adds nothing to the log
    assert_no_traceback(server)


@pytest.mark.parametrize(
    ("voter", "code"),
    [
        (STRANGER, "not_eligible"),
        (REVOKED, "certificate_revoked"),
        (EXPIRED, "certificate_expired"),
        ("untrusted", "certificate_untrusted"),
    ],
)
def test_a_voter_who_cannot_vote_is_refused(
    voter: str, code: str, election: CollectorElection, client: Client
) -> None:
    response = ask(client, request_for(election, voter, client.challenge()))
    assert response.status_code == 403
    assert refusal(response) == code


def test_the_challenge_is_used_once(election: CollectorElection, client: Client) -> None:
    challenge = client.challenge()
    signed = request_for(election, NORTH[11], challenge)
    first = answer_of(election, ask(client, signed))
    # the same request again (an answer lost on the way) is answered again
    assert answer_of(election, ask(client, signed)).district == first.district
    # no other request and no ballot can use it
    assert refusal(ask(client, request_for(election, NORTH[12], challenge))) == "challenge_used"
    ballot, _ = election.ballot(NORTH[11], challenge)
    assert refusal(client.cast(ballot)) == "challenge_used"
    # and a ballot's challenge cannot be used for a request
    used = client.challenge()
    cast, _ = election.ballot(NORTH[13], used)
    assert client.cast(cast).status_code == 200
    assert refusal(ask(client, request_for(election, NORTH[13], used))) == "challenge_used"
    unknown = request_for(election, NORTH[11], random_challenge())
    assert refusal(ask(client, unknown)) == "challenge_unknown"


def test_no_other_signed_object_is_a_request(election: CollectorElection, client: Client) -> None:
    # a signed ballot sent as an eligibility request, and the other way round
    ballot, _ = election.ballot(NORTH[14], client.challenge())
    response = ask(client, ballot)
    assert refusal(response) == "malformed" and "domain" in response.json()["detail"]["message"]
    request = request_for(election, NORTH[14], client.challenge())
    assert refusal(client.cast(request)) == "malformed"
    # the request's payload signed under the ballot's domain
    as_ballot = request_for(election, NORTH[14], client.challenge(), DOMAINS["ballot"])
    assert refusal(ask(client, as_ballot)) == "malformed"
    # another manifest, a tampered signature, extra fields, a body too large, not JSON
    other = request_for(election, NORTH[14], client.challenge(), manifest_hash=b64url(bytes(32)))
    assert refusal(ask(client, other)) == "wrong_election"
    tampered = request_for(election, NORTH[14], client.challenge())
    tampered["payload"]["challenge"] = b64url(random_challenge())
    assert refusal(ask(client, tampered)) in {"signature_invalid", "challenge_unknown"}
    extra = request_for(election, NORTH[14], client.challenge(), district="north")
    assert refusal(ask(client, extra)) == "malformed"
    assert refusal(ask(client, b" " * 30_000)) == "too_large"
    assert refusal(ask(client, b"{")) == "malformed"
    as_text = client.http.post(
        "/v1/eligibility", content=canonical_bytes(request), headers={"content-type": "text/plain"}
    )
    assert refusal(as_text) == "unsupported_media_type"


def test_a_signature_made_for_another_challenge_does_not_verify(
    election: CollectorElection, client: Client
) -> None:
    request = request_for(election, NORTH[15], client.challenge())
    fresh = client.challenge()
    request["payload"]["challenge"] = b64url(fresh)  # issued, unused: the signature fails
    assert refusal(ask(client, request)) == "signature_invalid"
    # the challenge is still unused: a good request takes it
    assert answer_of(election, ask(client, request_for(election, NORTH[15], fresh)))


@pytest.mark.parametrize("which", ["future", "past"])
def test_the_status_follows_the_period(
    which: str,
    future_election: CollectorElection,
    past_election: CollectorElection,
    tmp_path: Any,
) -> None:
    chosen = future_election if which == "future" else past_election
    server = Server(chosen.directory, f"sqlite:///{tmp_path / 'c.sqlite'}", workers=1).start()
    client = Client(server.url)
    try:
        answer = eligibility(chosen, client, SOUTH[0])
        assert answer.status == ("not_open" if which == "future" else "over")
        assert answer.district == "south"
    finally:
        client.close()
        server.stop()


def test_closed_by_the_officials(
    election: CollectorElection, client: Client, db_url: str
) -> None:
    challenge = client.challenge()
    signed, _ = election.ballot(SOUTH[4], client.challenge())
    assert client.cast(signed).status_code == 200
    closed = run_cli("close", "--election", str(election.directory), "--db", db_url)
    assert closed.returncode == 0, closed.stderr
    answer = answer_of(election, ask(client, request_for(election, SOUTH[4], challenge)))
    assert (answer.status, answer.district, answer.has_ballot) == ("closed", "south", True)
    # no new challenge once closed: the voter app says the election is closed
    assert refusal(client.http.post("/v1/challenges")) == "election_closed"


def test_counted_like_a_cast_per_address(election: CollectorElection, db_url: str) -> None:
    server = CollectorProcess(
        election.directory,
        db_url,
        PASSPHRASE,
        options=("--challenges-per-address", "off", "--casts-per-address", "2/3600"),
    ).start()
    client = Client(server.url)
    try:
        # a window may turn meanwhile: at most two windows' worth pass
        for _ in range(5):
            response = ask(client, request_for(election, NORTH[16], client.challenge()))
            if response.status_code != 200:
                break
        assert refusal(response) == "rate_limited"
        assert int(response.headers["retry-after"]) >= 1
        # and casts count against the same limit
        ballot, _ = election.ballot(NORTH[16], client.challenge())
        assert refusal(client.cast(ballot)) == "rate_limited"
    finally:
        client.close()
        server.stop()
