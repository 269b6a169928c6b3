"""Running the collector: uvicorn in one process, or several worker processes on one socket.

The parent opens the election (manifest, voter list, CRLs, the collector's key: the passphrase
is asked once, never passed on through the environment), applies the database migrations and
binds the socket; then it forks the workers, which share the socket and the database. Each
worker dies with the parent (PR_SET_PDEATHSIG), so that killing the server kills it whole, and
a worker that dies is replaced.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time

import uvicorn

from collector.app import create_app
from collector.connections import ConnectionLimits
from collector.db import Database
from collector.limits import RateStore
from collector.log import BallotLog
from collector.service import Election
from collector.transport import fit_open_files, http_protocol

log = logging.getLogger("ivote.collector")


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def prepare(election: Election, database_url: str) -> None:
    """Migrations, a signed head for a new log and the rate counters' table, before any worker
    takes a request."""
    database = Database(database_url)
    try:
        database.migrate()
        BallotLog(database, election.manifest.election_id, election.sign).ensure_head()
    finally:
        database.dispose()
    counters = RateStore(database_url)
    try:
        counters.create()
    finally:
        counters.dispose()


def _config(
    election: Election, database_url: str, host: str, port: int, connections: ConnectionLimits
) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(election, database_url),
        host=host,
        port=port,
        log_config=None,  # our logging setup (the CLI's) stays in charge
        access_log=False,  # collector.app logs each request, without secrets
        timeout_graceful_shutdown=5,
        # the client's address (rate limits) comes from X-Forwarded-For only when a trusted
        # proxy sends it; uvicorn would otherwise trust any local process
        proxy_headers=bool(election.settings.trusted_proxies),
        forwarded_allow_ips=list(election.settings.trusted_proxies) or None,
        backlog=2048,
        http=http_protocol(connections),  # deadlines for headers, body and idle; the connection cap
        ws="none",  # no WebSocket: an upgraded connection would escape those deadlines
    )


def _worker(
    election: Election,
    database_url: str,
    connections: ConnectionLimits,
    sock: socket.socket,
    parent: int,
) -> None:
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before we could ask to die with it
        os._exit(1)
    config = _config(election, database_url, "", 0, connections)
    uvicorn.Server(config).run(sockets=[sock])


def _listening_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """One listening socket per worker on the same port (SO_REUSEPORT): the kernel spreads new
    connections over them, where one shared socket lets whichever worker wakes first accept a
    whole burst. The parent keeps them open, so a worker's replacement takes over its queue."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if port:
        # SO_REUSEPORT would also share the port with a collector already running there (the
        # same user's): binding once without it first fails as a busy port should.
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            port = sock.getsockname()[1]  # the same port for all, also when asked for any
            sock.listen(2048)
            sock.set_inheritable(True)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def serve(
    election: Election,
    database_url: str,
    host: str,
    port: int,
    workers: int,
    connections: ConnectionLimits | None = None,
) -> None:
    prepare(election, database_url)
    connections = fit_open_files(connections or ConnectionLimits())  # the workers inherit it
    if workers <= 1:
        uvicorn.Server(_config(election, database_url, host, port, connections)).run()
        return
    sockets = _listening_sockets(host, port, workers)
    log.info("collector on http://%s:%d with %d workers", host, port, workers)
    context = multiprocessing.get_context("fork")
    parent = os.getpid()
    children: list[multiprocessing.process.BaseProcess] = []
    stopping = False

    def start_one(slot: int) -> multiprocessing.process.BaseProcess:
        child = context.Process(
            target=_worker, args=(election, database_url, connections, sockets[slot], parent)
        )
        child.start()
        return child

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    children = [start_one(slot) for slot in range(workers)]
    try:
        while not stopping:
            time.sleep(0.2)
            for slot, child in enumerate(children):
                if not child.is_alive() and not stopping:
                    log.error("worker %s exited (%s); starting another", child.pid, child.exitcode)
                    children[slot] = start_one(slot)
    finally:
        for child in children:
            if child.is_alive() and child.pid:
                os.kill(child.pid, signal.SIGTERM)
        for child in children:
            child.join(10)
            if child.is_alive() and child.pid:
                os.kill(child.pid, signal.SIGKILL)
        for sock in sockets:
            sock.close()
    sys.exit(0)
