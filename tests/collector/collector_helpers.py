"""The collector tests' election (tests/support/election.py): two districts, 50 voters, one
e-ID revoked by the CRL, one expired, one of a stranger not on the list and one from an
untrusted CA; `ivote collector serve` subprocesses (tests/support/collector_process.py) and an
HTTP client for them."""

from __future__ import annotations

import datetime as dt
import secrets
import subprocess
from pathlib import Path
from typing import Any

import httpx
from support.collector_process import CollectorProcess, collector_env, run_ivote
from support.election import (
    ElectionPki,
    ElectionSpec,
    SmallElection,
    build_election,
    list_voters,
    make_pki,
)

from canonical.encoding import canonical_bytes, parse_b64url, parse_canonical
from ceremonies.pki import make_eid, make_root_ca
from formats.voters import Voter

PASSPHRASE = "collector test passphrase"

DISTRICTS: dict[str, dict[str, list[int]]] = {
    "north": {"council": [101, 102, 103], "mayor": [111, 112]},
    "south": {"council": [201, 202, 203, 204]},
}
NORTH = [f"3800101{i:04d}" for i in range(1, 41)]
SOUTH = [f"4800101{i:04d}" for i in range(1, 11)]
REVOKED = NORTH[-1]  # on the list, e-ID revoked
EXPIRED = NORTH[-2]  # on the list, e-ID expired
STRANGER = "39999999999"  # valid e-ID, not on the list

# The names the collector's tests know the shared election's types by.
Pki = ElectionPki
CollectorElection = SmallElection


def collector_pki(now: dt.datetime) -> ElectionPki:
    """The voters' e-IDs, and the stranger's and one from someone else's CA."""
    pki = make_pki(list_voters({"north": NORTH, "south": SOUTH}), now, expired=[EXPIRED])
    pki.eids[STRANGER] = pki.issue_eid(Voter(STRANGER, "Not", "Listed", "north"))
    other_root = make_root_ca("Someone else's CA", now=now - dt.timedelta(days=10))
    pki.eids["untrusted"] = make_eid(other_root, pki.voters[NORTH[0]])
    return pki


def make_election(
    root: Path,
    pki: ElectionPki,
    primes: tuple[int, int],
    election_id: str,
    start: dt.datetime,
    end: dt.datetime,
) -> SmallElection:
    """The election, its CRL revoking REVOKED an hour ago, and the collector's key file."""
    spec = ElectionSpec(election_id, "Collector test election", DISTRICTS)
    revoked = {REVOKED: pki.issued - dt.timedelta(hours=1)}
    election = build_election(root, spec, pki, primes, start, end, revoked)
    election.write_collector_key(PASSPHRASE)
    return election


def run_cli(*args: str, allow_test_key: bool = True) -> subprocess.CompletedProcess[str]:
    """`ivote collector ARGS`; the suite's elections are test elections (small keys)."""
    flag = ("--allow-test-key",) if allow_test_key else ()
    return run_ivote("collector", *args, *flag, env=collector_env(PASSPHRASE))


class Server(CollectorProcess):
    """`ivote collector serve` of a test election on a free loopback port."""

    def __init__(self, election: Path, db_url: str, workers: int = 2) -> None:
        super().__init__(election, db_url, PASSPHRASE, workers=workers)


class Client:
    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=60)

    def challenge(self) -> bytes:
        response = self.http.post("/v1/challenges")
        assert response.status_code == 200, response.text
        return parse_b64url(response.json()["challenge"], "challenge")

    def cast(self, signed: dict[str, Any] | bytes) -> httpx.Response:
        body = signed if isinstance(signed, bytes) else canonical_bytes(signed)
        return self.http.post(
            "/v1/ballots", content=body, headers={"content-type": "application/json"}
        )

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params)

    def json(self, path: str, **params: Any) -> Any:
        response = self.get(path, **params)
        assert response.status_code == 200, response.text
        return parse_canonical(response.content)

    def close(self) -> None:
        self.http.close()


def refusal(response: httpx.Response) -> str:
    assert response.status_code >= 400, response.text
    return response.json()["detail"]["code"]


def random_challenge() -> bytes:
    return secrets.token_bytes(32)
