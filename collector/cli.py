"""`ivote collector`: the online ballot collector (serve) and the officials' close and export."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from canonical.encoding import FormatError
from collector.connections import ConnectionLimits
from collector.limits import Rate, RateLimits
from crypto.errors import CryptoError
from i18n import _, format_datetime, ngettext
from ivote.cli_support import allow_test_key_option, election_option, open_with_secret

F = TypeVar("F", bound=Callable[..., Any])

PASSPHRASE_ENV = "IVOTE_COLLECTOR_PASSPHRASE"  # noqa: S105 (the name of the variable)
CONNECTIONS = ConnectionLimits()  # the defaults of serve's timeouts and connection cap


def default_key(election: Path) -> Path:
    """ELECTION/collector.key (the sealed key `ivote pki officials` writes) when it is there,
    else ELECTION/collector.p12."""
    sealed = election / "collector.key"
    return sealed if sealed.exists() else election / "collector.p12"


def _open_election(
    election: Path,
    db: str | None,
    key: Path | None,
    passphrase_file: Path | None,
    crl: tuple,
    allow_test_key: bool = False,
    **tuning: Any,
) -> Any:
    """The election the collector serves, its signing key opened with the passphrase from
    --passphrase-file, else $IVOTE_COLLECTOR_PASSPHRASE (each tried once), else typed at the
    prompt (a mistyped one may be typed again). Every refusal is a one-line message."""
    from collector.db import default_url
    from collector.service import ConfigurationError, Election, Settings
    from crypto.eid import WrongPin
    from crypto.errors import SealError

    def opener(passphrase: str) -> Any:
        settings = Settings(
            election_dir=election,
            db_url=db or default_url(election),
            key_path=key or default_key(election),
            passphrase=passphrase,
            crl_paths=tuple(crl),
            allow_test_key=allow_test_key,
            **tuning,
        )
        try:
            return Election(settings)
        except (SealError, WrongPin):
            raise  # a wrong passphrase: asked again at the prompt
        except (ConfigurationError, FormatError, CryptoError) as exc:
            raise click.ClickException(str(exc)) from exc

    try:
        if passphrase_file is None and os.environ.get(PASSPHRASE_ENV):
            return opener(os.environ[PASSPHRASE_ENV])
        return open_with_secret(
            passphrase_file,
            _("Collector key passphrase"),
            _("the collector key's passphrase"),
            opener,
        )
    except (SealError, WrongPin) as exc:
        raise click.ClickException(str(exc)) from exc


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
        help=_("{help} N/SECONDS, or 'off'.").format(help=help),
    )


def _database_errors(command: F) -> F:
    """A database that cannot be reached or a malformed --db URL is a one-line message and
    exit status 1, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import sqlalchemy.exc

        try:
            return command(*args, **kwargs)
        except sqlalchemy.exc.SQLAlchemyError as exc:
            problem = str(exc.orig) if getattr(exc, "orig", None) else str(exc).splitlines()[0]
            url = kwargs.get("db") or _("the election directory's SQLite file")
            raise click.ClickException(
                _("database {url}: {problem}").format(url=url, problem=problem)
            ) from exc

    return wrapper  # type: ignore[return-value]


def _common(function: Any) -> Any:
    options = [
        election_option(_("The election directory (signed manifest, voter lists, crls/).")),
        click.option(
            "--db",
            default=None,
            help=_(
                "SQLAlchemy URL; default: a SQLite file in the election directory. "
                "postgresql+psycopg://... for several collector processes."
            ),
        ),
        click.option(
            "--key",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help=_(
                "The collector's signing key: the sealed collector.key that `ivote ceremony pki "
                "officials` writes, or a PKCS#12 file (default ELECTION/collector.key if there, "
                "else ELECTION/collector.p12)."
            ),
        ),
        click.option(
            "--passphrase-file",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help=_(
                "File holding the key's passphrase (else ${variable}, else a prompt)."
            ).format(variable=PASSPHRASE_ENV),
        ),
        click.option(
            "--crl",
            multiple=True,
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help=_("e-ID CA CRL file (repeatable); default every file in ELECTION/crls/."),
        ),
        allow_test_key_option,
    ]
    for option in reversed(options):
        function = option(function)
    return function


@click.group(name="collector", help=_("The online ballot collector."))
def collector() -> None:
    pass


@collector.command(help=_("Serve the collector's /v1 API (OpenAPI at /docs) under uvicorn."))
@_common
@click.option("--host", default="127.0.0.1", show_default=True, help=_("Address to listen on."))
@click.option(
    "--port", default=8420, show_default=True, type=int, help=_("Port to listen on.")
)
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(1, 64),
    help=_("Worker processes (default: one per CPU)."),
)
@click.option(
    "--batch-wait-ms",
    default=None,
    type=click.FloatRange(0, 10_000),
    help=_(
        "At most how long a cast waits for others to share its batched proof check "
        "(default 100; it waits only for as many casts as the previous batch had)."
    ),
)
@click.option(
    "--challenge-ttl",
    default=600,
    show_default=True,
    type=click.IntRange(30, 86_400),
    help=_("Seconds a challenge stays usable; unused ones are deleted after that."),
)
@_rate_option(
    "--challenges-per-address",
    RateLimits.challenges_per_address,
    _(
        "At most N challenges per SECONDS from one client address (an IPv6 /64). Counted "
        "across all workers and collector processes of the database."
    ),
)
@_rate_option(
    "--casts-per-address",
    RateLimits.casts_per_address,
    _("At most N ballots per SECONDS from one client address."),
)
@_rate_option(
    "--casts-per-voter",
    RateLimits.casts_per_voter,
    _("At most N of one voter's ballots received in any SECONDS."),
)
@click.option(
    "--trusted-proxy",
    multiple=True,
    help=_(
        "Address of a reverse proxy (TLS termination) whose X-Forwarded-For names the "
        "client (repeatable); without one, the address the connection comes from is the client."
    ),
)
@click.option(
    "--header-timeout",
    default=CONNECTIONS.header_timeout_s,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help=_(
        "Seconds from a request's first byte to the end of its headers; "
        "a slower request is answered 408 and its connection closed."
    ),
)
@click.option(
    "--body-timeout",
    default=CONNECTIONS.body_timeout_s,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help=_(
        "Seconds from the end of a request's headers to the end of its body; "
        "a slower request is answered 408 and its connection closed."
    ),
)
@click.option(
    "--idle-timeout",
    default=CONNECTIONS.idle_timeout_s,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help=_(
        "Seconds a connection may stay open without a request (a new one, or one kept "
        "alive after a response) before it is closed."
    ),
)
@click.option(
    "--max-connections",
    default=CONNECTIONS.max_connections,
    show_default=True,
    type=click.IntRange(1),
    help=_("Open connections per worker process; one more is answered 503 and closed."),
)
@click.option(
    "--log-level", default="info", show_default=True, help=_("Level of the server's log.")
)
@_database_errors
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
    opened = _open_election(election, db, key, passphrase_file, crl, allow_test_key, **tuning)
    _refuse_unproven_key(opened)
    settings = opened.settings
    connections = ConnectionLimits(header_timeout, body_timeout, idle_timeout, max_connections)
    try:
        run(opened, settings.db_url, host, port, workers or default_worker_count(), connections)
    except sqlalchemy.exc.SQLAlchemyError as exc:
        problem = exc.args[0] if exc.args else exc.__class__.__name__
        raise click.ClickException(
            _("database {url}: {problem}").format(url=settings.db_url, problem=problem)
        ) from exc
    except OSError as exc:
        raise click.ClickException(
            _("cannot listen on {host}:{port}: {reason}").format(
                host=host, port=port, reason=exc.strerror
            )
        ) from exc


def _refuse_unproven_key(opened: Any) -> None:
    """No collector serves an election whose key-proofs document fails (docs/spec.md,
    "Collector API"): voters' ballots would be encrypted under a key not proven well formed.
    One line naming every problem; the check takes seconds at 3072 bits, once, before the
    workers start."""
    problems = opened.key_proofs_problems()
    if problems:
        raise click.ClickException(
            _("refusing to serve election {election}: {problems}").format(
                election=opened.manifest.election_id, problems="; ".join(problems)
            )
        )


@collector.command(
    help=_(
        "Close the ballot log when voting ends: no more ballots; sign the final log head and "
        "say what to publish and what comes next."
    )
)
@_common
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help=_("Print only the signed final log head (canonical JSON), for scripts."),
)
@_database_errors
def close(
    election: Path,
    db: str | None,
    key: Path | None,
    passphrase_file: Path | None,
    crl: tuple,
    allow_test_key: bool,
    as_json: bool,
) -> None:
    import sqlalchemy as sa

    from canonical.encoding import parse_canonical
    from collector.db import Database, entries
    from collector.log import BallotLog
    from formats.receipt import LogHead

    opened = _open_election(election, db, key, passphrase_file, crl, allow_test_key)
    database = Database(opened.settings.db_url)
    try:
        database.migrate()
        ballot_log = BallotLog(database, opened.manifest.election_id, opened.sign)
        already = ballot_log.final_head() is not None
        document = ballot_log.close()
        with database.reader.connect() as conn:
            voters = conn.execute(sa.select(sa.func.count(sa.distinct(entries.c.voter)))).scalar()
    finally:
        database.dispose()
    if as_json:
        click.echo(document.decode("utf-8"))
        return
    head = LogHead.from_dict(parse_canonical(document)["payload"])
    _print_close_summary(election, key, db, head, int(voters or 0), already)


def _print_close_summary(
    election: Path, key: Path | None, db: str | None, head: Any, voters: int, already: bool
) -> None:
    from datetime import UTC, datetime

    closed = datetime.fromtimestamp(head.timestamp / 1000, UTC)
    if already:
        click.echo(
            _("The ballot log of {election} was already closed; its final head:").format(
                election=head.election_id
            )
        )
    else:
        click.echo(
            _("The ballot log of {election} is closed: the collector accepts no more ballots.")
            .format(election=head.election_id)
        )
    click.echo(
        "  "
        + _("Ballots received: {count}").format(count=head.size)
        + "  "
        + ngettext("(from {voters} voter)", "(from {voters} voters)", voters).format(
            voters=voters
        )
    )
    click.echo(
        "  " + _("Final log head, signed {moment}:").format(moment=format_datetime(closed))
    )
    click.echo("    " + _("size {size}").format(size=head.size))
    click.echo("    " + _("root hash {hash}").format(hash=head.root_hash.hex()))
    click.echo(
        _(
            "Publish the size and root hash now: each voter's receipt and every log proof "
            "must lead to this head, and the election record will name it."
        )
    )
    options = f"--election {election}"
    if key is not None:
        options += f" --key {key}"
    if db is not None:
        options += " --db URL"
    click.echo(
        _(
            "Next: export the signed ballot box and carry it, with the organiser-signed "
            "paper-voter list, to the air-gapped tallier:"
        )
    )
    click.echo(f"  ivote collector export {options} --out ballotbox.zip")


@collector.command(
    help=_("Write the signed ballot box of a closed log (every ballot in log order).")
)
@_common
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help=_("The zip file."),
)
@_database_errors
def export(
    election: Path,
    db: str | None,
    key: Path | None,
    passphrase_file: Path | None,
    crl: tuple,
    allow_test_key: bool,
    out: Path,
) -> None:
    from collector.export import ExportError, export_ballot_box

    if out.exists():  # never over an earlier export (or any other file) an official may need
        raise click.ClickException(
            _("{path} already exists; choose another --out").format(path=out)
        )
    opened = _open_election(election, db, key, passphrase_file, crl, allow_test_key)
    try:
        count = export_ballot_box(opened, opened.settings.db_url, out)
    except (ExportError, FormatError, CryptoError) as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(
            _("{path}: cannot write ({reason})").format(path=out, reason=exc.strerror)
        ) from exc
    click.echo(
        ngettext("Wrote {out}: {count} ballot.", "Wrote {out}: {count} ballots.", count).format(
            out=out, count=count
        )
    )
    click.echo(
        _(
            "Carry it to the air-gapped tallier with the organiser-signed paper-voter list "
            "(ivote ceremony paper-voters), then: ivote tally process --election {election} "
            "--ballot-box {out} --paper-voters paper-voters.signed.json --out TALLY"
        ).format(election=election, out=out)
    )
