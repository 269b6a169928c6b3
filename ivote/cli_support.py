"""What every role's command line shares: progress bars, secret files and prompts, pinned
certificates. One home, so that `ivote tally`, `ivote verify` and `ivote ceremony` behave
alike. Imports no role."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

if TYPE_CHECKING:
    from cryptography import x509

_err = Console(stderr=True)


@contextmanager
def progress_bars(enabled: bool = True) -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    """A factory of rich progress bars on stderr: factory(description, total) -> advance."""
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=_err,
        transient=False,
        disable=not enabled,
    )

    def factory(description: str, total: int) -> Callable[[int], None]:
        task = progress.add_task(description, total=total)
        return lambda advance: progress.advance(task, advance)

    with progress:
        yield factory


def read_secret_file(path: Path, what: str) -> str:
    """A passphrase kept in a file (automation): its first line, which must not be empty."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"{path}: cannot read the {what}: {exc.strerror}") from exc
    secret = text.rstrip("\r\n")
    if not secret:
        raise click.ClickException(f"{path}: the {what} file is empty")
    return secret


def secret_from(path: Path | None, prompt: str, what: str) -> str:
    """The secret in `path`, else asked at the terminal without echo."""
    if path is not None:
        return read_secret_file(path, what)
    return click.prompt(prompt, hide_input=True, err=True)


def read_certificate_file(path: Path, what: str) -> x509.Certificate:
    """An x509.Certificate from a PEM or DER file; a bad file is a one-line error."""
    from crypto.eid import EidError, parse_certificate

    try:
        return parse_certificate(path.read_bytes(), what)
    except OSError as exc:
        raise click.ClickException(f"{path}: cannot read the {what}: {exc.strerror}") from exc
    except EidError as exc:
        raise click.ClickException(f"{path}: not a certificate: {exc}") from exc


# ------------------------------------------------------------------ shared options

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def _stack(*options: Decorator) -> Decorator:
    def apply(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            command = option(command)
        return command

    return apply


def election_option(help: str = "The election directory.") -> Decorator:
    """--election DIR: an existing election directory."""
    return click.option(
        "--election",
        required=True,
        type=click.Path(file_okay=False, exists=True, path_type=Path),
        help=help,
    )


organiser_key_options = _stack(
    click.option(
        "--organiser-key",
        required=True,
        type=click.Path(exists=True, path_type=Path),
        help="The directory `ivote ceremony pki officials` wrote (organiser.key, organiser.pem).",
    ),
    click.option(
        "--organiser-passphrase-file",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        help="The organiser key's passphrase in a file (otherwise asked).",
    ),
)

manifest_pin_options = _stack(
    click.option(
        "--fingerprint",
        help="The manifest fingerprint the officials published (hex): pins the manifest.",
    ),
    click.option(
        "--organiser-cert",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        help="The organiser's certificate (PEM or DER): pins the manifest's signer.",
    ),
)


def audit_input_options(required: bool) -> Decorator:
    """--ballot-box, --paper-voters, --crl: the signed inputs of the cleansing, which auditors
    and trustees check a tally against."""
    return _stack(
        click.option(
            "--ballot-box",
            required=required,
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            help="The collector-signed ballot box (ballotbox.zip) the tally was made from.",
        ),
        click.option(
            "--paper-voters",
            required=required,
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            help="The organiser-signed paper-voter list the tally used.",
        ),
        click.option(
            "--crl",
            "crl_paths",
            multiple=True,
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            help="A CRL the tally used (default: crls/ next to the tally or record).",
        ),
    )


allow_test_key_option = click.option(
    "--allow-test-key",
    is_flag=True,
    help="Accept a TEST election (a key from the public fixture primes, or under 3072 bits): "
    "for tests and demos only; such an election keeps no ballot secret.",
)
