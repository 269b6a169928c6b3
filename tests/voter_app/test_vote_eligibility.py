"""voter_app.voting.check_eligibility against a real collector (its own database), and against a
collector that lies: every lie is refused before the voter is shown anything."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from voter_helpers import (
    EXPIRED,
    REVOKED,
    CollectorProcess,
    FakeCollector,
    VoterElection,
)

from canonical.encoding import DOMAINS, b64url, canonical_bytes, parse_canonical
from ceremonies.pki import make_eid, make_root_ca
from formats.signed import sign_object
from formats.voters import Voter
from voter_app.transport import CollectorClient, CollectorMisbehaved, RetryPolicy
from voter_app.voting import (
    Eligibility,
    NotEligible,
    cast_ballot,
    check_eligibility,
    fetch_election,
    prepare_ballot,
)


@pytest.fixture(scope="module")
def own_collector(
    election: VoterElection, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CollectorProcess]:
    """A collector of its own, so that which voters have a ballot is this module's doing."""
    running = CollectorProcess(
        election.directory, tmp_path_factory.mktemp("eligibility-db") / "ballots.sqlite"
    ).start()
    try:
        yield running
    finally:
        running.stop()


def client_of(url: str) -> CollectorClient:
    return CollectorClient(url, RetryPolicy(attempts=1))


def ask(url: str, election: VoterElection, signer: Any) -> Eligibility:
    with client_of(url) as client:
        the_election = fetch_election(client, fingerprint=election.fingerprint, allow_test_key=True)
        return check_eligibility(client, the_election, signer)


def test_an_eligible_voter_gets_their_district_and_then_has_a_ballot(
    own_collector: CollectorProcess, election: VoterElection
) -> None:
    signer = election.eids["48001010005"]
    found = ask(own_collector.url, election, signer)
    assert found.district.id == "south" and str(found.district.name) == "South"
    assert [c.id for c in found.district.contests] == ["council"]
    assert found.status == "open" and found.has_ballot is False
    assert (found.voter.personal_code, found.voter.given_name) == ("48001010005", "Kati")
    assert found.document["signature"]["domain"] == DOMAINS["eligibility"]
    with client_of(own_collector.url) as client:
        the_election = fetch_election(client, fingerprint=election.fingerprint, allow_test_key=True)
        prepared = prepare_ballot(client, the_election, found.district.id, {"council": 201})
        cast_ballot(client, prepared, signer)
    assert ask(own_collector.url, election, signer).has_ballot is True


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("stranger", "not_eligible"),
        (REVOKED, "certificate_revoked"),
        (EXPIRED, "certificate_expired"),
        ("untrusted", "certificate_untrusted"),
    ],
)
def test_a_voter_who_cannot_vote_here_is_told_why(
    who: str, code: str, own_collector: CollectorProcess, election: VoterElection
) -> None:
    if who == "stranger":
        signer = election.pki.issue_eid(Voter("39999999999", "Not", "Listed", "north"))
    elif who == "untrusted":
        signer = make_eid(make_root_ca("Someone else's CA"), election.voters["38001010004"])
    else:
        signer = election.eids[who]
    with pytest.raises(NotEligible) as raised:
        ask(own_collector.url, election, signer)
    assert raised.value.code == code
    assert "vote" in str(raised.value)


def _lying(election: VoterElection, change: dict[str, Any], resign: bool = True):  # type: ignore[no-untyped-def]
    """A tamper for FakeCollector: the eligibility answer changed, re-signed with the real
    collector's key (a lying collector signs its lie) unless `resign` is false."""

    def tamper(method: str, path: str, status: int, body: bytes) -> tuple[int, bytes] | None:
        if path != "/v1/eligibility" or status != 200:
            return None
        document = parse_canonical(body)
        payload = {**document["payload"], **change}
        if not resign:
            document["payload"] = payload
            return status, canonical_bytes(document)
        return status, canonical_bytes(
            sign_object(election.collector, DOMAINS["eligibility"], payload)
        )

    return tamper


@pytest.mark.parametrize(
    ("change", "resign", "message"),
    [
        ({"district": "nowhere"}, True, "district this election does not have"),
        ({"personal_code": "38001010001"}, True, "another voter"),
        ({"challenge": b64url(bytes(32))}, True, "not the answer to this request"),
        ({"status": "over"}, True, "does not allow"),
        ({"district": "south"}, False, "not validly signed"),
    ],
)
def test_a_lying_collector_is_caught(
    change: dict[str, Any],
    resign: bool,
    message: str,
    own_collector: CollectorProcess,
    election: VoterElection,
) -> None:
    with (
        FakeCollector(own_collector.url, _lying(election, change, resign)) as fake,
        pytest.raises(CollectorMisbehaved, match=message),
    ):
        ask(fake.url, election, election.eids["38001010004"])


def test_a_closed_collector_says_so(election: VoterElection, tmp_path: Path) -> None:
    from support.collector_process import run_ivote
    from voter_helpers import voter_env

    server = CollectorProcess(election.directory, tmp_path / "closed.sqlite").start()
    try:
        closed = run_ivote(
            "collector", "close", "--election", str(election.directory),
            "--db", server.db_url, "--allow-test-key", env=voter_env(),
        )  # fmt: skip
        assert closed.returncode == 0, closed.stderr
        with pytest.raises(NotEligible) as raised:
            ask(server.url, election, election.eids["38001010004"])
        assert raised.value.code == "election_closed"
        assert "closed" in str(raised.value)
    finally:
        server.stop()
