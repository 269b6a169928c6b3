"""A small real election for the collector's tests, made with the ceremonies' own code (test
PKI, election init, key ceremony on fixture primes), a collector key, a CRL revoking one voter,
and e-IDs that fail in every way the collector must notice; plus a running
`ivote collector serve` subprocess and an HTTP client for it."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.serialization import Encoding

from ceremonies.election import init_election
from ceremonies.keygen import run_keygen
from ceremonies.pki import (
    Revocation,
    make_crl,
    make_eid,
    make_intermediate_ca,
    make_official,
    make_root_ca,
)
from crypto.eid import KeySigner, pkcs12_bytes
from formats.ballot import build_ballot
from formats.canonical import DOMAINS, canonical_bytes, parse_b64url, parse_canonical
from formats.manifest import Manifest
from formats.signed import open_signed, sign_object
from formats.voters import Voter

PASSPHRASE = "collector test passphrase"
IVOTE = str(Path(sys.executable).parent / "ivote")

DISTRICTS: dict[str, dict[str, list[int]]] = {
    "north": {"council": [101, 102, 103], "mayor": [111, 112]},
    "south": {"council": [201, 202, 203, 204]},
}
NORTH = [f"3800101{i:04d}" for i in range(1, 41)]
SOUTH = [f"4800101{i:04d}" for i in range(1, 11)]
REVOKED = NORTH[-1]  # on the list, e-ID revoked
EXPIRED = NORTH[-2]  # on the list, e-ID expired
STRANGER = "39999999999"  # valid e-ID, not on the list


def definition_toml(election_id: str, start: dt.datetime, end: dt.datetime) -> str:
    lines = [
        "[election]",
        f'id = "{election_id}"',
        'name = "Collector test election"',
        f"start = {start.isoformat(timespec='seconds')}",
        f"end = {end.isoformat(timespec='seconds')}",
        "max_voters = 1000",
        "key_bits = 512",
        "trustees = 2",
        "threshold = 1",
        "",
        "[trust]",
        'eid_ca_certificates = ["root.pem", "issuing.pem"]',
        'collector_certificates = ["collector.pem"]',
        "",
    ]
    for district, contests in DISTRICTS.items():
        lines += ["[[districts]]", f'id = "{district}"', f'name = "{district.title()}"', ""]
        for contest, numbers in contests.items():
            lines += ["[[districts.contests]]", f'id = "{contest}"', f'name = "{contest}"']
            for number in numbers:
                lines += [
                    "[[districts.contests.candidates]]",
                    f"number = {number}",
                    f'name = "Candidate {number}"',
                ]
            lines.append("")
    return "\n".join(lines)


@dataclass
class Pki:
    root: KeySigner
    issuing: KeySigner
    organiser: KeySigner
    collector: KeySigner
    voters: dict[str, Voter]
    eids: dict[str, KeySigner]


def make_pki(now: dt.datetime) -> Pki:
    before = now - dt.timedelta(days=10)
    root = make_root_ca(now=before)
    issuing = make_intermediate_ca(root, now=before)
    voters = {code: Voter(code, "Given", f"Surname{code[-3:]}", "north") for code in NORTH}
    voters |= {code: Voter(code, "Given", f"Surname{code[-3:]}", "south") for code in SOUTH}
    eids = {
        code: make_eid(issuing, voter, not_before=now - dt.timedelta(days=5))
        for code, voter in voters.items()
    }
    eids[EXPIRED] = make_eid(
        issuing,
        voters[EXPIRED],
        not_before=now - dt.timedelta(days=30),
        not_after=now - dt.timedelta(days=1),
    )
    eids[STRANGER] = make_eid(issuing, Voter(STRANGER, "Not", "Listed", "north"))
    other_root = make_root_ca("Someone else's CA", now=before)
    eids["untrusted"] = make_eid(other_root, voters[NORTH[0]])
    return Pki(
        root,
        issuing,
        make_official(root, "organiser", now=before),
        make_official(root, "collector", now=before),
        voters,
        eids,
    )


@dataclass
class CollectorElection:
    directory: Path
    manifest: Manifest
    pki: Pki

    def ballot(
        self,
        voter: str,
        challenge: bytes,
        choices: dict[str, int] | None = None,
        district: str | None = None,
        signer: KeySigner | None = None,
    ) -> tuple[dict[str, Any], dict[str, tuple[int, ...]]]:
        district = district or self.pki.voters[voter].district
        choices = choices or {c: numbers[0] for c, numbers in DISTRICTS[district].items()}
        payload, randomness = build_ballot(self.manifest, district, choices, challenge)
        signed = sign_object(signer or self.pki.eids[voter], DOMAINS["ballot"], payload)
        return signed, randomness

    def open_receipt(self, document: dict[str, Any]) -> dict[str, Any]:
        payload, _, _ = open_signed(
            document, DOMAINS["receipt"], expected_cert=self.pki.collector.certificate
        )
        return payload


def make_election(
    root: Path,
    pki: Pki,
    primes: tuple[int, int],
    election_id: str,
    start: dt.datetime,
    end: dt.datetime,
) -> CollectorElection:
    root.mkdir(parents=True, exist_ok=True)
    for name, signer in (
        ("root", pki.root),
        ("issuing", pki.issuing),
        ("collector", pki.collector),
    ):
        (root / f"{name}.pem").write_bytes(signer.certificate.public_bytes(Encoding.PEM))
    (root / "election.toml").write_text(definition_toml(election_id, start, end))
    rows = ["personal_code,given_name,surname,district"]
    rows += [
        f"{v.personal_code},{v.given_name},{v.surname},{v.district}" for v in pki.voters.values()
    ]
    (root / "voters.csv").write_text("\n".join(rows) + "\n")
    directory = root / "election"
    init_election(
        root / "election.toml", root / "voters.csv", directory, now=start - dt.timedelta(days=1)
    )
    manifest = run_keygen(
        directory,
        ["trustee one passphrase", "trustee two passphrase"],
        pki.organiser,
        test_primes=primes,
        scrypt_cost=1024,
    )
    (directory / "collector.p12").write_bytes(
        pkcs12_bytes(pki.collector, PASSPHRASE, 1000, "collector")
    )
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    crl = make_crl(
        pki.issuing,
        [Revocation(pki.eids[REVOKED].certificate.serial_number, now - dt.timedelta(hours=1))],
        number=1,
        this_update=now - dt.timedelta(days=1),
        next_update=now + dt.timedelta(days=30),
    )
    (directory / "crls").mkdir()
    (directory / "crls" / "issuing.crl").write_bytes(crl.public_bytes(Encoding.PEM))
    return CollectorElection(directory, manifest, pki)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli_env() -> dict[str, str]:
    return {**os.environ, "IVOTE_COLLECTOR_PASSPHRASE": PASSPHRASE}


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [IVOTE, "collector", *args], env=cli_env(), capture_output=True, text=True, timeout=120
    )


class Server:
    """`ivote collector serve` in a subprocess on a free loopback port."""

    def __init__(self, election: Path, db_url: str, workers: int = 2) -> None:
        self.election = election
        self.db_url = db_url
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = election.parent / f"server-{self.port}.log"

    def start(self) -> Server:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.election.parent / f"server-{self.port}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    IVOTE,
                    "collector",
                    "serve",
                    "--election",
                    str(self.election),
                    "--db",
                    self.db_url,
                    "--port",
                    str(self.port),
                    "--workers",
                    str(self.workers),
                    "--log-level",
                    "warning",
                ],
                env=cli_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"collector exited: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"collector did not start: {self.log.read_text()}")

    def kill(self) -> None:
        """kill -9 the server (the workers die with it)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        # the workers die with their parent (PR_SET_PDEATHSIG); wait for the port to free
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/v1/health", timeout=0.5)
            except httpx.TransportError:
                return
            time.sleep(0.1)
        raise RuntimeError("collector workers outlived their parent")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


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


def copy_election(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def random_challenge() -> bytes:
    return secrets.token_bytes(32)
