"""An election with Thai citizen IDs (formats.personal_codes) against a real `ivote collector
serve` on SQLite and PostgreSQL: a listed voter casts and asks eligibility; an e-ID whose
personal code does not fit the scheme is refused `not_eligible` saying so, before the list is
looked at; a well-formed code not on the list gets the ordinary not-on-the-list refusal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from collector_helpers import PASSPHRASE, Client, Server, refusal
from support.election import (
    ElectionSpec,
    SmallElection,
    build_election,
    list_voters,
    make_pki,
    utc_now,
)
from test_collector_eligibility import ask, request_for

from formats.personal_codes import THAI_CITIZEN_ID, thai_check_digit
from formats.voters import Voter


def thai(first12: str) -> str:
    return first12 + str(thai_check_digit(first12))


VOTERS = [thai(f"31005{i:07d}") for i in range(1, 4)]
NOT_LISTED = thai("310059999999")  # a valid Thai ID, not on the list
BAD_CHECK = VOTERS[0][:12] + str((int(VOTERS[0][12]) + 1) % 10)  # one digit off a voter's ID
NOT_THAI = "38001010001"  # an Estonian-looking code: 11 digits


@pytest.fixture(scope="module")
def thai_election(
    safe_primes: dict, tmp_path_factory: pytest.TempPathFactory
) -> SmallElection:
    now = utc_now()
    pki = make_pki(list_voters({"bangkok": VOTERS}), now)
    for code in (NOT_LISTED, BAD_CHECK, NOT_THAI):  # the test CA issues any code it is given
        pki.eids[code] = pki.issue_eid(Voter(code, "Somchai", "Jaidee", "bangkok"))
    spec = ElectionSpec(
        "thai-codes",
        "Thai personal codes",
        {"bangkok": {"constituency": [1, 2, 3]}},
        personal_code_scheme=THAI_CITIZEN_ID,
    )
    election = build_election(
        tmp_path_factory.mktemp("thai"),
        spec,
        pki,
        safe_primes[512],
        now - dt.timedelta(days=1),
        now + dt.timedelta(days=5),
    )
    election.write_collector_key(PASSPHRASE)
    return election


@pytest.fixture
def client(thai_election: SmallElection, db_url: str) -> Iterator[Client]:
    server = Server(thai_election.directory, db_url).start()
    c = Client(server.url)
    try:
        yield c
    finally:
        c.close()
        server.stop()


def test_the_manifest_carries_the_scheme(thai_election: SmallElection) -> None:
    assert thai_election.manifest.personal_code_scheme == THAI_CITIZEN_ID
    assert thai_election.manifest.to_dict()["personal_code_scheme"] == THAI_CITIZEN_ID


def test_a_code_that_does_not_fit_the_scheme_is_refused(
    thai_election: SmallElection, client: Client
) -> None:
    signed, _ = thai_election.ballot(VOTERS[1], client.challenge())
    assert client.cast(signed).status_code == 200
    scheme_message = "does not fit the election's personal-code scheme (thai-citizen-id)"
    for code in (BAD_CHECK, NOT_THAI):
        ballot, _ = thai_election.ballot(
            VOTERS[0], client.challenge(), signer=thai_election.eids[code]
        )
        response = client.cast(ballot)
        assert response.status_code == 403 and refusal(response) == "not_eligible"
        message = response.json()["detail"]["message"]
        assert scheme_message in message and code not in message
        asked = ask(client, request_for(thai_election, code, client.challenge()))
        assert asked.status_code == 403 and refusal(asked) == "not_eligible"
        assert scheme_message in asked.json()["detail"]["message"]
    stranger, _ = thai_election.ballot(
        VOTERS[0], client.challenge(), signer=thai_election.eids[NOT_LISTED]
    )
    response = client.cast(stranger)
    assert refusal(response) == "not_eligible"
    assert "is not on the voter list" in response.json()["detail"]["message"]
    assert client.json("/v1/health")["size"] == 1  # only the listed voter's ballot
