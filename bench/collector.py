"""`ivote bench collector`: cast throughput of a real collector process over real HTTP.

A 3072-bit election (one district, one 1-of-10 contest) is made with the ceremonies' code in a
temporary directory, from safe primes generated once and cached under ~/.cache/ivote/bench
(public benchmark primes: never an election's). `ivote collector serve` runs on a loopback
port with SQLite or PostgreSQL; every voter's ballot is encrypted, proved and signed before the
clock starts (each with its own challenge from the collector); then `--concurrency` clients
cast them all, with every check including the proofs. The last line is JSON with
ballots_per_s, p50_ms and p99_ms.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import os
import secrets
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import click
import httpx

from bench.common import emit, machine

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ivote" / "bench"
PASSPHRASE = "bench collector passphrase"  # noqa: S105 (a throwaway bench key)
POSTGRES_ADMIN = os.environ.get(
    "IVOTE_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
CANDIDATES = 10
VOTERS_PER_ADDRESS = 20

# Set before the ballot-building processes fork (they inherit them).
_BUILD: dict[str, Any] = {}


def cached_primes(key_bits: int) -> Path:
    """A file {bits: {p, q}} of safe primes for the bench key, generated on first use."""
    path = CACHE / f"primes-{key_bits}.json"
    if path.exists():
        return path
    from canonical.files import write_atomic
    from crypto.primitives.safeprimes import generate_safe_prime

    click.echo(f"generating {key_bits}-bit benchmark primes once (cached in {path})...", err=True)
    p = generate_safe_prime(key_bits // 2)
    q = p
    while q == p:
        q = generate_safe_prime(key_bits // 2)
    data = {str(key_bits): {"p": format(p, "x"), "q": format(q, "x")}}
    write_atomic(path, json.dumps(data).encode())
    return path


def make_election(root: Path, voters: int, key_bits: int) -> tuple[Path, list[str], dict]:
    from cryptography.hazmat.primitives.serialization import Encoding

    from ceremonies.election import init_election
    from ceremonies.keygen import load_test_primes, run_keygen
    from ceremonies.pki import (
        make_crl,
        make_eid,
        make_intermediate_ca,
        make_official,
        make_root_ca,
    )
    from ceremonies.trustee_params import make_trustee_parameters
    from crypto.eid import pkcs12_bytes
    from formats.voters import Voter

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    before = now - dt.timedelta(days=10)
    root_ca = make_root_ca(now=before)
    issuing = make_intermediate_ca(root_ca, now=before)
    organiser = make_official(root_ca, "organiser", now=before)
    collector = make_official(root_ca, "collector", now=before)
    for name, signer in (("root", root_ca), ("issuing", issuing), ("collector", collector)):
        (root / f"{name}.pem").write_bytes(signer.certificate.public_bytes(Encoding.PEM))
    start, end = now - dt.timedelta(days=1), now + dt.timedelta(days=2)
    lines = [
        "[election]",
        'id = "bench"',
        'name = "Collector benchmark"',
        f"start = {start.isoformat(timespec='seconds')}",
        f"end = {end.isoformat(timespec='seconds')}",
        "max_voters = 1000000",
        f"key_bits = {key_bits}",
        "trustees = 3",
        "threshold = 2",
        "",
        "[trust]",
        'eid_ca_certificates = ["root.pem", "issuing.pem"]',
        'collector_certificates = ["collector.pem"]',
        "",
        "[[districts]]",
        'id = "d1"',
        'name = "District"',
        "",
        "[[districts.contests]]",
        'id = "c1"',
        'name = "Contest"',
    ]
    for number in range(1, CANDIDATES + 1):
        lines += ["[[districts.contests.candidates]]", f"number = {number}", f'name = "C{number}"']
    (root / "election.toml").write_text("\n".join(lines) + "\n")
    codes = [f"3{i:010d}" for i in range(1, voters + 1)]
    rows = ["personal_code,given_name,surname,district"] + [f"{c},Bench,Voter,d1" for c in codes]
    (root / "voters.csv").write_text("\n".join(rows) + "\n")
    directory = root / "election"
    init_election(root / "election.toml", root / "voters.csv", directory, now=start)
    primes = load_test_primes(cached_primes(key_bits), key_bits)
    for trustee in (1, 2, 3):
        make_trustee_parameters(directory, trustee)
    run_keygen(
        directory,
        ["bench trustee one", "bench trustee two", "bench trustee three"],
        organiser,
        test_primes=primes,
        scrypt_cost=1024,
    )
    (directory / "collector.p12").write_bytes(
        pkcs12_bytes(collector, PASSPHRASE, 1000, "collector")
    )
    (directory / "crls").mkdir()
    crl = make_crl(issuing, [], 1, now - dt.timedelta(days=1), now + dt.timedelta(days=7))
    (directory / "crls" / "issuing.crl").write_bytes(crl.public_bytes(Encoding.PEM))
    eids = {
        c: make_eid(issuing, Voter(c, "Bench", "Voter", "d1"), not_before=before) for c in codes
    }
    return directory, codes, eids


def _build_one(job: tuple[str, bytes]) -> bytes:
    from canonical.encoding import DOMAINS, canonical_bytes
    from formats.ballot import build_ballot
    from formats.signed import sign_object

    code, challenge = job
    manifest = _BUILD["manifest"]
    choice = 1 + secrets.randbelow(CANDIDATES)
    payload, _ = build_ballot(manifest, "d1", {"c1": choice}, challenge)
    return canonical_bytes(sign_object(_BUILD["eids"][code], DOMAINS["ballot"], payload))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise click.ClickException(f"the collector exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/v1/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise click.ClickException("the collector did not start in time")


def _address(number: int) -> str:
    """The `number`-th loopback address the bench's clients come from (127.0.0.0/8 is all
    loopback on Linux)."""
    number += 1
    return f"127.{100 + number // 65_536}.{number // 256 % 256}.{number % 256}"


async def _cast_all(url: str, bodies: list[bytes], concurrency: int) -> tuple[list[float], float]:
    """Cast every body from `concurrency` clients, each with its own connection (as voters'
    apps are), taking the next ballot as it is free; returns the latencies and the wall-clock
    time. Voters come from many addresses, as a national election's do: each client moves to
    a new address (a new connection) every VOTERS_PER_ADDRESS ballots, so that the collector's
    default per-address limits stay on and throttle no honest client."""
    latencies: list[float] = []
    failures: list[str] = []
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    addresses = itertools.count(10_000)  # apart from the challenges' (_challenges)
    # One client per connection: httpx's pool scans all its connections on every event, which
    # would make a shared 16-connection pool cost the bench more CPU than the requests.
    tls = ssl.create_default_context()  # unused on http://, but each client would load one

    def connect() -> httpx.AsyncClient:
        transport = httpx.AsyncHTTPTransport(
            local_address=_address(next(addresses)),
            verify=tls,
            limits=httpx.Limits(max_connections=1),
        )
        return httpx.AsyncClient(base_url=url, timeout=120, transport=transport)

    async def client() -> None:
        http = connect()
        cast = 0
        try:
            while not queue.empty():
                body = queue.get_nowait()
                if cast and cast % VOTERS_PER_ADDRESS == 0:
                    await http.aclose()
                    http = connect()
                cast += 1
                start = time.perf_counter()
                response = await http.post(
                    "/v1/ballots", content=body, headers={"content-type": "application/json"}
                )
                latencies.append(time.perf_counter() - start)
                if response.status_code != 200:
                    failures.append(response.text[:300])
        finally:
            await http.aclose()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    if failures:
        raise click.ClickException(f"{len(failures)} casts refused, e.g. {failures[0]}")
    return latencies, elapsed


def _challenges(url: str, voters: int) -> list[bytes]:
    """One challenge per voter, VOTERS_PER_ADDRESS of them from each address."""
    from canonical.encoding import parse_b64url

    challenges: list[bytes] = []
    for first in range(0, voters, VOTERS_PER_ADDRESS):
        transport = httpx.HTTPTransport(local_address=_address(first // VOTERS_PER_ADDRESS))
        with httpx.Client(base_url=url, timeout=60, transport=transport) as http:
            for _ in range(min(VOTERS_PER_ADDRESS, voters - first)):
                answer = http.post("/v1/challenges").json()
                challenges.append(parse_b64url(answer["challenge"], "challenge"))
    return challenges


@click.command(name="collector")
@click.option("--db", "backend", type=click.Choice(["sqlite", "postgres"]), default="sqlite")
@click.option("--voters", default=500, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--concurrency", default=16, show_default=True, type=click.IntRange(1, 512))
@click.option("--workers", default=None, type=int, help="Collector worker processes.")
@click.option("--key-bits", default=3072, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print only the JSON line.")
def bench_collector(
    backend: str, voters: int, concurrency: int, workers: int | None, key_bits: int, as_json: bool
) -> None:
    """Cast throughput and latency of `ivote collector serve` over loopback HTTP."""
    import sqlalchemy as sa

    from formats.manifest import ElectionDirectory

    workers = workers or os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="ivote-bench-collector-") as temporary:
        root = Path(temporary)
        directory, codes, eids = make_election(root, voters, key_bits)
        database = None
        if backend == "sqlite":
            url_db = f"sqlite:///{root / 'collector.sqlite'}"
        else:
            database = f"ivote_bench_{secrets.token_hex(6)}"
            admin = sa.create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{database}"'))
            url_db = POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{database}"
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        log = root / "collector.log"
        env = {**os.environ, "IVOTE_COLLECTOR_PASSPHRASE": PASSPHRASE}
        ivote = str(Path(sys.executable).parent / "ivote")
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    ivote,
                    "collector",
                    "serve",
                    "--election",
                    str(directory),
                    "--db",
                    url_db,
                    "--port",
                    str(port),
                    "--workers",
                    str(workers),
                    "--log-level",
                    "warning",
                    "--allow-test-key",  # dealt from the cached benchmark primes (test_key)
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            _wait_ready(url, process, log)
            jobs = list(zip(codes, _challenges(url, voters), strict=True))
            _BUILD["manifest"] = ElectionDirectory(directory).read_manifest()
            _BUILD["eids"] = eids
            build_start = time.perf_counter()
            with ProcessPoolExecutor(os.cpu_count(), mp_context=get_context("fork")) as pool:
                bodies = list(pool.map(_build_one, jobs, chunksize=8))
            build_s = time.perf_counter() - build_start
            latencies, elapsed = asyncio.run(_cast_all(url, bodies, concurrency))
            size = httpx.get(f"{url}/v1/health", timeout=30).json()["size"]
            if size != voters:
                raise click.ClickException(f"the log has {size} ballots, {voters} were cast")
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
            if database is not None:
                with admin.connect() as connection:
                    connection.execute(
                        sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
                    )
                admin.dispose()
    ordered = sorted(latencies)
    emit(
        {
            "bench": "collector",
            "db": backend,
            "key_bits": key_bits,
            "candidates": CANDIDATES,
            "voters": voters,
            "concurrency": concurrency,
            "workers": workers,
            "prebuild_s": round(build_s, 1),
            "ballots_per_s": round(voters / elapsed, 1),
            "p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
            **machine(),
        },
        as_json,
    )
