"""Rate limits: how many challenges and casts one client address may make in a window of time,
counted across every worker and every collector process of an election. (How many ballots one
voter may cast in a span of time is counted from the log itself, in its append transaction:
collector.log; the limit is kept here with the others.)

The counts live beside the ballot log, in storage every collector process shares: with
PostgreSQL an UNLOGGED table of the same database, with SQLite a side file next to the log's
(`collector.sqlite-limits`) written without fsync, so that counting never waits for the
log's durable commits. Losing the counts (a crash) only forgets who was slowed down.

Each limit is a fixed window: at most `count` requests per `seconds`, the windows aligned to
the epoch; a request over the limit is refused with 429 and Retry-After (the seconds to the
window's end). Counters are keyed by a hash of (limit, subject, window), so the table holds
no address, and rows of past windows are deleted as they go by. A worker that has seen a
subject over its limit answers it from memory until the window ends, so that a flood costs
the shared storage one write per window, not one per request.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from collector.db import is_sqlite, sqlite_engine
from collector.errors import Refusal

_metadata = sa.MetaData()
rate_counts = sa.Table(
    "rate_counts",
    _metadata,
    sa.Column("bucket", sa.LargeBinary(16), primary_key=True),
    sa.Column("expires", sa.BigInteger, nullable=False, index=True),  # ms: the window's end
    sa.Column("hits", sa.Integer, nullable=False),
)  # created by RateStore.create (UNLOGGED on PostgreSQL)
_CLEANUP_SECONDS = 30.0
_MEMORY_LIMIT = 100_000  # subjects remembered as over their limit, per worker
_FAILURE_LOG_SECONDS = 60.0  # at most one line this often while the counts cannot be kept

log = logging.getLogger("ivote.collector")


@dataclass(frozen=True)
class Rate:
    """At most `count` requests per `seconds` (count 0: no limit)."""

    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        """'N/SECONDS' (e.g. '60/60'), or 'off'."""
        if text.strip().lower() == "off":
            return UNLIMITED
        count, slash, seconds = text.partition("/")
        try:
            rate = cls(int(count), int(seconds))
        except ValueError:
            rate = cls(-1, 0)
        if not slash or rate.count < 1 or not 1 <= rate.seconds <= 86_400:
            raise ValueError(f"{text!r}: expected N/SECONDS (N >= 1, 1 to 86400 s) or 'off'")
        return rate

    def __str__(self) -> str:
        return f"{self.count}/{self.seconds}" if self.count else "off"


UNLIMITED = Rate(0, 1)


@dataclass(frozen=True)
class RateLimits:
    """The collector's limits. The defaults are for a national election, where many voters
    may share one address (carrier-grade NAT): an address may ask a challenge and cast about
    once a second on average; a voter may cast 10 ballots in 10 minutes (revoting is allowed;
    a short window keeps someone casting with a voter's e-ID from blocking the voter's own
    revote for long)."""

    challenges_per_address: Rate = Rate(60, 60)
    casts_per_address: Rate = Rate(60, 60)
    casts_per_voter: Rate = Rate(10, 600)


class RateLimited(Exception):
    """Over a limit: retry after `retry_after` seconds."""

    def __init__(self, what: str, rate: Rate, retry_after: int) -> None:
        super().__init__(f"at most {rate.count} {what} per {rate.seconds} s")
        self.retry_after = retry_after


def client_subject(address: str | None) -> str:
    """Whom a per-address limit counts: an IPv4 address, or an IPv6 address's /64 (one
    subscriber's network, any address of which it may use)."""
    if not address:
        return "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def limits_url(database_url: str) -> str:
    """Where the counts are kept: the same PostgreSQL database, or a SQLite side file."""
    url = sa.make_url(database_url)
    if is_sqlite(url) and url.database and url.database != ":memory:":
        return url.set(database=url.database + "-limits").render_as_string(hide_password=False)
    return database_url


def _engine(url: str) -> Engine:
    if not is_sqlite(url):
        # each count is one statement, committed without waiting for the disk
        return sa.create_engine(
            url,
            pool_pre_ping=True,
            isolation_level="AUTOCOMMIT",
            connect_args={"options": "-c synchronous_commit=off"},
        )
    return sqlite_engine(url, immediate=True, durable=False)


# One statement, atomic on both databases: count the request, answer the count so far.
_UPSERT = (
    "INSERT INTO rate_counts (bucket, expires, hits) VALUES ({0}, {0}, 1) "
    "ON CONFLICT (bucket) DO UPDATE SET hits = rate_counts.hits + 1 RETURNING hits"
)


class RateStore:
    """The shared counters: `hit` counts one request of a subject under a limit.

    Counting is on the path of every challenge and cast, so it is one statement on one
    DBAPI connection of this process (under a lock), in autocommit: through SQLAlchemy's
    pool and transaction it cost ten times as much CPU."""

    def __init__(self, database_url: str) -> None:
        self.url = limits_url(database_url)
        self.engine = _engine(self.url)
        self.sqlite = is_sqlite(self.url)
        self._upsert = _UPSERT.format("?" if self.sqlite else "%s")
        self._connection: Any = None  # the DBAPI connection of `hit`, opened on first use
        self._over: dict[bytes, int] = {}  # bucket -> window end (ms), over the limit here
        self._lock = threading.Lock()
        self._cleaned = time.monotonic()
        self._failure_logged = float("-inf")

    def create(self) -> None:
        """The table, if missing (several processes may start at once)."""
        with self.engine.begin() as connection:
            if not self.sqlite:
                connection.execute(sa.select(sa.func.pg_advisory_xact_lock(0x1F0_7E_C1)))
                connection.exec_driver_sql(
                    "CREATE UNLOGGED TABLE IF NOT EXISTS rate_counts ("
                    "bucket bytea PRIMARY KEY, expires bigint NOT NULL, hits integer NOT NULL)"
                )
                connection.exec_driver_sql(
                    "CREATE INDEX IF NOT EXISTS ix_rate_counts_expires ON rate_counts (expires)"
                )
            else:
                _metadata.create_all(connection, checkfirst=True)

    def dispose(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
        self.engine.dispose()

    def _count(self, bucket: bytes, window_end: int) -> int:
        with self._lock:
            if self._connection is None:
                # autocommit: on SQLite the engine's connect hook sets isolation_level None
                self._connection = self.engine.raw_connection()
                if not self.sqlite:
                    self._connection.driver_connection.autocommit = True
            try:
                cursor = self._connection.cursor()
                cursor.execute(self._upsert, (bucket, window_end))
                (hits,) = cursor.fetchone()
                cursor.close()
            except Exception:
                # a broken connection is not used again (the next hit opens another)
                self._connection.invalidate()
                self._connection = None
                raise
            return int(hits)

    def hit(self, limit: str, subject: str, rate: Rate, what: str, now_ms: int) -> None:
        """Count one request; RateLimited when it is over `rate` in the current window."""
        if not rate.count:
            return
        window_ms = rate.seconds * 1000
        window = now_ms // window_ms
        window_end = (window + 1) * window_ms
        bucket = hashlib.sha256(f"{limit}\x00{subject}\x00{window}".encode()).digest()[:16]
        retry_after = max(1, math.ceil((window_end - now_ms) / 1000))
        with self._lock:
            if self._over.get(bucket, 0) > now_ms:
                raise RateLimited(what, rate, retry_after)
        try:
            hits = self._count(bucket, window_end)
            self._clean_now_and_then(now_ms)
        except Exception as exc:  # whatever the DBAPI raises
            # The counts cannot be kept: the request goes through rather than a voter be
            # turned away for want of a counter (the database's own failure, if it is one,
            # is answered where the request needs it).
            self._failed(exc)
            return
        if hits > rate.count:
            with self._lock:
                if len(self._over) >= _MEMORY_LIMIT:
                    self._over = {b: end for b, end in self._over.items() if end > now_ms}
                self._over[bucket] = window_end
            raise RateLimited(what, rate, retry_after)

    def _failed(self, exc: Exception) -> None:
        moment = time.monotonic()
        if moment - self._failure_logged >= _FAILURE_LOG_SECONDS:
            self._failure_logged = moment
            log.error("rate limits not counted (requests let through): %s", exc)

    def _clean_now_and_then(self, now_ms: int) -> None:
        moment = time.monotonic()
        if moment - self._cleaned < _CLEANUP_SECONDS:
            return
        self._cleaned = moment
        with self.engine.begin() as connection:
            connection.execute(sa.delete(rate_counts).where(rate_counts.c.expires <= now_ms))
        with self._lock:
            self._over = {b: end for b, end in self._over.items() if end > now_ms}


class Limiter:
    """The collector's limits over one RateStore, by what is limited; a request over one is
    refused `rate_limited` (429) with Retry-After."""

    def __init__(self, store: RateStore, limits: RateLimits) -> None:
        self.store = store
        self.limits = limits

    def challenge(self, address: str, now_ms: int) -> None:
        rate = self.limits.challenges_per_address
        self._hit("challenge/address", address, rate, "challenges from one address", now_ms)

    def cast_from(self, address: str, now_ms: int) -> None:
        rate = self.limits.casts_per_address
        self._hit("cast/address", address, rate, "ballots from one address", now_ms)

    def _hit(self, limit: str, subject: str, rate: Rate, what: str, now_ms: int) -> None:
        try:
            self.store.hit(limit, subject, rate, what, now_ms)
        except RateLimited as limited:
            raise Refusal(
                "rate_limited", str(limited), {"Retry-After": str(limited.retry_after)}
            ) from limited
