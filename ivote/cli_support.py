"""What every role's command line shares: progress bars, secret files and prompts, pinned
certificates. One home, so that `ivote tally`, `ivote verify` and `ivote ceremony` behave
alike. Imports no role."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from i18n import _

if TYPE_CHECKING:
    from cryptography import x509

_err = Console(stderr=True)
T = TypeVar("T")
# every new passphrase (CA, officials' keys, trustees' shares) has at least this many characters
MIN_PASSPHRASE_LENGTH = 8
PASSPHRASE_ATTEMPTS = 3  # at the prompt; a passphrase file is tried once


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
    """A passphrase kept in a file (automation): its first line, which must not be empty.
    `what` names the secret for people ("the CA passphrase"), already translated."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(
            _("{path}: cannot read {what}: {reason}").format(
                path=path, what=what, reason=exc.strerror
            )
        ) from exc
    except UnicodeDecodeError as exc:
        raise click.ClickException(
            _("{path}: the file of {what} is not UTF-8 text").format(path=path, what=what)
        ) from exc
    lines = text.splitlines()
    secret = lines[0] if lines else ""
    if not secret:
        raise click.ClickException(
            _("{path}: the file of {what} is empty").format(path=path, what=what)
        )
    return secret


def ask_secret(label: str) -> str:
    """A secret typed at the terminal, without echo; `label` is the translated prompt."""
    return str(click.prompt(label, hide_input=True, err=True))


def secret_from(path: Path | None, prompt: str, what: str) -> str:
    """The secret in `path`, else asked at the terminal without echo."""
    if path is not None:
        return read_secret_file(path, what)
    return ask_secret(prompt)


def new_secret(
    path: Path | None, label: str, what: str, minimum: int = MIN_PASSPHRASE_LENGTH
) -> str:
    """A new passphrase: from `path`, else typed twice. Its length is checked before the
    confirmation is asked (and a file's at once), so nobody types a refused passphrase twice."""
    if path is not None:
        secret = read_secret_file(path, what)
        if len(secret) < minimum:
            raise click.ClickException(
                _("{path}: {what} must have at least {minimum} characters").format(
                    path=path, what=what, minimum=minimum
                )
            )
        return secret
    while True:
        secret = ask_secret(label)
        if len(secret) < minimum:
            click.echo(
                _("Too short: at least {minimum} characters. Please try again.").format(
                    minimum=minimum
                ),
                err=True,
            )
            continue
        if ask_secret(_("Type it again to confirm")) == secret:
            return secret
        click.echo(_("The two entries differ. Please try again."), err=True)


def open_with_secret(
    path: Path | None,
    label: str,
    what: str,
    opener: Callable[[str], T],
    wrong: tuple[type[Exception], ...] | None = None,
    attempts: int = PASSPHRASE_ATTEMPTS,
) -> T:
    """`opener(passphrase)` with the passphrase from `path` (tried once) or typed at the
    prompt (a wrong one may be typed again, `attempts` times in all). A wrong passphrase is
    the `wrong` errors (default: a sealed file that does not open); the last one is raised,
    so that the command refuses at once, before asking anything else."""
    if wrong is None:
        from crypto.eid import WrongPin
        from crypto.errors import SealError

        wrong = (SealError, WrongPin)
    tries = 1 if path is not None else max(1, attempts)
    for attempt in range(1, tries + 1):
        try:
            return opener(secret_from(path, label, what))
        except wrong:
            if attempt == tries:
                raise
            click.echo(_("Wrong passphrase (or a modified file); please try again."), err=True)
    raise AssertionError("unreachable")


def read_certificate_file(path: Path, what: str) -> x509.Certificate:
    """An x509.Certificate from a PEM or DER file; a bad file is a one-line error."""
    from crypto.eid import EidError, parse_certificate

    try:
        return parse_certificate(path.read_bytes(), what)
    except OSError as exc:
        raise click.ClickException(
            _("{path}: cannot read the {what}: {reason}").format(
                path=path, what=what, reason=exc.strerror
            )
        ) from exc
    except EidError as exc:
        raise click.ClickException(
            _("{path}: not a certificate: {problem}").format(path=path, problem=exc)
        ) from exc


# ------------------------------------------------------------------ shared options

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def _stack(*options: Decorator) -> Decorator:
    def apply(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            command = option(command)
        return command

    return apply


def election_option(help: str | None = None) -> Decorator:
    """--election DIR: an existing election directory."""
    return click.option(
        "--election",
        required=True,
        type=click.Path(file_okay=False, exists=True, path_type=Path),
        help=help or _("The election directory."),
    )


organiser_key_options = _stack(
    click.option(
        "--organiser-key",
        required=True,
        type=click.Path(exists=True, path_type=Path),
        help=_(
            "The directory `ivote ceremony pki officials` wrote (organiser.key, organiser.pem)."
        ),
    ),
    click.option(
        "--organiser-passphrase-file",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        help=_("The organiser key's passphrase in a file (otherwise asked)."),
    ),
)

manifest_pin_options = _stack(
    click.option(
        "--fingerprint",
        help=_("The manifest fingerprint the officials published (hex): pins the manifest."),
    ),
    click.option(
        "--organiser-cert",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        help=_("The organiser's certificate (PEM or DER): pins the manifest's signer."),
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
            help=_("The collector-signed ballot box (ballotbox.zip) the tally was made from."),
        ),
        click.option(
            "--paper-voters",
            required=required,
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            help=_("The organiser-signed paper-voter list the tally used."),
        ),
        click.option(
            "--crl",
            "crl_paths",
            multiple=True,
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            help=_("A CRL the tally used (default: crls/ next to the tally or record)."),
        ),
    )


allow_test_key_option = click.option(
    "--allow-test-key",
    is_flag=True,
    help=_(
        "Accept a TEST election (a key from the public fixture primes, or under 3072 bits): "
        "for tests and demos only; such an election keeps no ballot secret."
    ),
)
