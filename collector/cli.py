"""`ivote collector`: the online ballot collector (serve) and the officials' close and export."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import click

from canonical.encoding import FormatError
from collector.connections import ConnectionLimits
from collector.limits import Rate, RateLimits
from crypto.errors import CryptoError
from ivote.cli_support import allow_test_key_option, election_option, read_secret_file

PASSPHRASE_ENV = "IVOTE_COLLECTOR_PASSPHRASE"  # noqa: S105 (the name of the variable)
CONNECTIONS = ConnectionLimits()  # the defaults of serve's timeouts and connection cap


def default_key(election: Path) -> Path:
    """ELECTION/collector.key (the sealed key `ivote pki officials` writes) when it is there,
    else ELECTION/collector.p12."""
    sealed = election / "collector.key"
    return sealed if sealed.exists() else election / "collector.p12"


def _settings(
    election: Path,
    db: str | None,
    key: Path | None,
    passphrase_file: Path | None,
    crl: tuple,
    allow_test_key: bool = False,
    **tuning: Any,
) -> Any:
    from collector.db import default_url
    from collector.service import Settings

    if passphrase_file is not None:
        passphrase = read_secret_file(passphrase_file, "collector key passphrase")
    elif os.environ.get(PASSPHRASE_ENV):
        passphrase = os.environ[PASSPHRASE_ENV]
    else:
        passphrase = click.prompt("Collector key passphrase", hide_input=True)
    return Settings(
        election_dir=election,
        db_url=db or default_url(election),
        key_path=key or default_key(election),
        passphrase=passphrase,
        crl_paths=tuple(crl),
        allow_test_key=allow_test_key,
        **tuning,
    )


def _rate(_: click.Context, parameter: click.Parameter, value: str) -> Rate:
    try:
        return Rate.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param=parameter) from exc


def _rate_option(name: str, default: Rate, help: str) -> Any:
    return click.option(
        name,
        default=str(default),
        show_default=True,
        callback=_rate,
        help=f"{help} N/SECONDS, or 'off'.",
    )


def _open(settings: Any) -> Any:
    from collector.service import ConfigurationError, Election

    try:
        return Election(settings)
    except (ConfigurationError, FormatError, CryptoError) as exc:
        raise click.ClickException(str(exc)) from exc


def _common(function: Any) -> Any:
    options = [
        election_option("The election directory (signed manifest, voter lists, crls/)."),
        click.option(
            "--db",
            default=None,
            help="SQLAlchemy URL; default: a SQLite file in the election directory. "
            "postgresql+psycopg://... for several collector processes.",
        ),
        click.option(
            "--key",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="The collector's signing key: the sealed collector.key that `ivote pki "
            "officials` writes, or a PKCS#12 file (default ELECTION/collector.key if there, "
            "else ELECTION/collector.p12).",
        ),
        click.option(
            "--passphrase-file",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help=f"File holding the key's passphrase (else ${PASSPHRASE_ENV}, else a prompt).",
        ),
        click.option(
            "--crl",
            multiple=True,
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="e-ID CA CRL file (repeatable); default every file in ELECTION/crls/.",
        ),
        allow_test_key_option,
    ]
    for option in reversed(options):
        function = option(function)
    return function


@click.group(name="collector")
def collector() -> None:
    """The online ballot collector."""


@collector.command()
@_common
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8420, show_default=True, type=int)
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(1, 64),
    help="Worker processes (default: one per CPU).",
)
@click.option(
    "--batch-wait-ms",
    default=None,
    type=click.FloatRange(0, 10_000),
    help="At most how long a cast waits for others to share its batched proof check "
    "(default 100; it waits only for as many casts as the previous batch had).",
)
@click.option(
    "--challenge-ttl",
    default=600,
    show_default=True,
    type=click.IntRange(30, 86_400),
    help="Seconds a challenge stays usable; unused ones are deleted after that.",
)
@_rate_option(
    "--challenges-per-address",
    RateLimits.challenges_per_address,
    "At most N challenges per SECONDS from one client address (an IPv6 /64). Counted across "
    "all workers and collector processes of the database.",
)
@_rate_option(
    "--casts-per-address",
    RateLimits.casts_per_address,
    "At most N ballots per SECONDS from one client address.",
)
@_rate_option(
    "--casts-per-voter",
    RateLimits.casts_per_voter,
    "At most N of one voter's ballots received in any SECONDS.",
)
@click.option(
    "--trusted-proxy",
    multiple=True,
    help="Address of a reverse proxy (TLS termination) whose X-Forwarded-For names the "
    "client (repeatable); without one, the address the connection comes from is the client.",
)
@click.option(
    "--header-timeout",
    default=CONNECTIONS.header_timeout_s,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Seconds from a request's first byte to the end of its headers; "
    "a slower request is answered 408 and its connection closed.",
)
@click.option(
    "--body-timeout",
    default=CONNECTIONS.body_timeout_s,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Seconds from the end of a request's headers to the end of its body; "
    "a slower request is answered 408 and its connection closed.",
)
@click.option(
    "--idle-timeout",
    default=CONNECTIONS.idle_timeout_s,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Seconds a connection may stay open without a request (a new one, or one kept "
    "alive after a response) before it is closed.",
)
@click.option(
    "--max-connections",
    default=CONNECTIONS.max_connections,
    show_default=True,
    type=click.IntRange(1),
    help="Open connections per worker process; one more is answered 503 and closed.",
)
@click.option("--log-level", default="info", show_default=True)
def serve(
    election: Path,
    db: str | None,
    key: Path | None,
    passphrase_file: Path | None,
    crl: tuple,
    allow_test_key: bool,
    host: str,
    port: int,
    workers: int | None,
    batch_wait_ms: float | None,
    challenge_ttl: int,
    challenges_per_address: Rate,
    casts_per_address: Rate,
    casts_per_voter: Rate,
    trusted_proxy: tuple[str, ...],
    header_timeout: float,
    body_timeout: float,
    idle_timeout: float,
    max_connections: int,
    log_level: str,
) -> None:
    """Serve the collector's /v1 API (OpenAPI at /docs) under uvicorn."""
    import sqlalchemy.exc

    from collector.server import serve as run
    from collector.service import default_worker_count

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"
    )
    tuning: dict[str, Any] = {
        "challenge_ttl_s": challenge_ttl,
        "limits": RateLimits(challenges_per_address, casts_per_address, casts_per_voter),
        "trusted_proxies": trusted_proxy,
    }
    if batch_wait_ms is not None:
        tuning["batch_wait_ms"] = batch_wait_ms
    settings = _settings(election, db, key, passphrase_file, crl, allow_test_key, **tuning)
    opened = _open(settings)
    connections = ConnectionLimits(header_timeout, body_timeout, idle_timeout, max_connections)
    try:
        run(opened, settings.db_url, host, port, workers or default_worker_count(), connections)
    except sqlalchemy.exc.SQLAlchemyError as exc:
        problem = exc.args[0] if exc.args else exc.__class__.__name__
        raise click.ClickException(f"database {settings.db_url}: {problem}") from exc
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from exc


@collector.command()
@_common
def close(
    election: Path,
    db: str | None,
    key: Path | None,
    passphrase_file: Path | None,
    crl: tuple,
    allow_test_key: bool,
) -> None:
    """Close the ballot log: no more ballots; sign and print the final log head."""
    from collector.db import Database
    from collector.log import BallotLog

    opened = _open(_settings(election, db, key, passphrase_file, crl, allow_test_key))
    database = Database(opened.settings.db_url)
    try:
        database.migrate()
        document = BallotLog(database, opened.manifest.election_id, opened.sign).close()
    finally:
        database.dispose()
    click.echo(document.decode("utf-8"))


@collector.command()
@_common
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The zip file."
)
def export(
    election: Path,
    db: str | None,
    key: Path | None,
    passphrase_file: Path | None,
    crl: tuple,
    allow_test_key: bool,
    out: Path,
) -> None:
    """Write the signed ballot box of a closed log (every ballot in log order)."""
    from collector.export import ExportError, export_ballot_box

    opened = _open(_settings(election, db, key, passphrase_file, crl, allow_test_key))
    try:
        count = export_ballot_box(opened, opened.settings.db_url, out)
    except (ExportError, FormatError, CryptoError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"wrote {out}: {count} ballots")
