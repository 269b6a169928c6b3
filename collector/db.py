"""The collector's database: tables, engines for SQLite and PostgreSQL, migrations on start.

SQLite (the embedded default) runs in WAL mode with synchronous=FULL, so that a committed
receipt survives a crash, and every write transaction starts with BEGIN IMMEDIATE, so that
log appends by several worker processes are serialised by the database itself. PostgreSQL
serialises appends with a row lock on the single log_state row (see collector.log). On both,
reads are single statements outside any explicit transaction (each one a snapshot of its own).
"""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant: the advisory lock that serialises schema upgrades of processes starting at once.
_MIGRATION_LOCK = 0x1F0_7E_C0

metadata = sa.MetaData()

# One row (id = 1): the log's size, its Merkle frontier and whether officials closed it.
log_state = sa.Table(
    "log_state",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("frontier", sa.LargeBinary, nullable=False),  # concatenated 32-byte hashes
    sa.Column("last_received", sa.BigInteger, nullable=False),  # ms; log times never go back
    sa.Column("closed_at", sa.BigInteger, nullable=True),
    sa.Column("final_head", sa.LargeBinary, nullable=True),  # canonical signed closing head
)

# The log itself: one row per accepted ballot, in log order. Never updated except `receipt`
# (written in the same transaction) and the vote-check fetch counter.
entries = sa.Table(
    "entries",
    metadata,
    sa.Column("log_index", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("ballot_hash", sa.LargeBinary(32), nullable=False, unique=True),
    sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("voter", sa.String(64), nullable=False, index=True),
    sa.Column("district", sa.String(200), nullable=False),
    sa.Column("received", sa.BigInteger, nullable=False),
    sa.Column("ballot", sa.LargeBinary, nullable=False),  # canonical signed ballot
    sa.Column("receipt", sa.LargeBinary, nullable=False),  # canonical signed receipt
    sa.Column("fetches", sa.Integer, nullable=False, server_default="0"),
)

# The ballot that counts for each voter (the latest), kept in the append transaction.
latest = sa.Table(
    "latest",
    metadata,
    sa.Column("voter", sa.String(64), primary_key=True),
    sa.Column("log_index", sa.BigInteger, nullable=False),
)

# Every ciphertext ever accepted, with its voter: a ciphertext under a second voter is a copy.
ciphertexts = sa.Table(
    "ciphertexts",
    metadata,
    sa.Column("digest", sa.LargeBinary(32), primary_key=True),
    sa.Column("voter", sa.String(64), nullable=False),
)

# One-time challenges; `ballot_hash` is set when a ballot carrying the challenge is accepted.
challenges = sa.Table(
    "challenges",
    metadata,
    sa.Column("challenge", sa.LargeBinary(32), primary_key=True),
    sa.Column("expires", sa.BigInteger, nullable=False, index=True),
    sa.Column("ballot_hash", sa.LargeBinary(32), nullable=True),
)

# Every signed log head, by size (one per append transaction, plus the closing head).
heads = sa.Table(
    "heads",
    metadata,
    sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Column("document", sa.LargeBinary, nullable=False),  # canonical signed head
)


def is_sqlite(url: str | sa.URL) -> bool:
    return sa.make_url(url).get_backend_name() == "sqlite"


def default_url(election_dir: Path) -> str:
    return f"sqlite:///{(election_dir / 'collector.sqlite').resolve()}"


def sqlite_engine(url: str, immediate: bool, durable: bool = True) -> Engine:
    """A SQLite engine in WAL mode; `immediate`: every transaction takes the write lock at
    BEGIN; `durable`: every commit is fsynced (the log's), else never (scratch counts)."""
    engine = sa.create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Let SQLAlchemy's "begin" below decide how transactions start (pysqlite would not).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # a receipt is only sent after fsync
        cursor.execute(f"PRAGMA synchronous={'FULL' if durable else 'OFF'}")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    if immediate:

        @sa.event.listens_for(engine, "begin")
        def _on_begin(connection) -> None:  # type: ignore[no-untyped-def]
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    # Without the hook, each statement is a transaction of its own (SQLite's autocommit):
    # every read of collector.log is one statement, so it still sees one snapshot.
    return engine


class Database:
    """A writer engine (serialised transactions on SQLite) and a reader engine."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = is_sqlite(url)
        if self.sqlite:
            self.writer = sqlite_engine(url, immediate=True)
            self.reader = sqlite_engine(url, immediate=False)
        else:
            self.writer = sa.create_engine(url, pool_pre_ping=True)
            # Reads are single statements: no transaction to open and roll back around each.
            self.reader = sa.create_engine(url, pool_pre_ping=True, isolation_level="AUTOCOMMIT")

    def dispose(self) -> None:
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()

    def migrate(self) -> None:
        """Bring the schema to the newest migration (several processes may start at once)."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        # Alembic would otherwise reconfigure logging for the whole process.
        config.attributes["configure_logger"] = False
        with self.writer.begin() as connection:
            if not self.sqlite:
                connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        logging.getLogger("ivote.collector").info("database schema is current")
