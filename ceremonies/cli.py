"""`ivote ceremony`: Officials' offline ceremonies.

init (definition + voter list -> draft manifest), keygen (threshold key, sealed trustee
shares, signed manifest), show (what officials read out and publish), voters (change lists).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ivote.cli_support import election_option, organiser_key_options, read_secret_file

F = TypeVar("F", bound=Callable[..., Any])


def _clean_errors(command: F) -> F:
    """The project's errors become a one-line (or one-line-per-problem) message, never a
    traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from canonical.encoding import FormatError
        from ceremonies.pki import PkiError
        from crypto.errors import CryptoError

        try:
            return command(*args, **kwargs)
        except (FormatError, CryptoError, PkiError, FileExistsError) as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


@click.group(name="ceremony")
def ceremony() -> None:
    """Officials' offline ceremonies."""


@ceremony.command(name="init")
@click.option(
    "--definition",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The election definition (TOML; see examples/election.toml).",
)
@click.option(
    "--voters",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The voter list (CSV: personal_code,given_name,surname,district).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The election directory to create.",
)
@_clean_errors
def init(definition: Path, voters: Path, out: Path) -> None:
    """Validate the definition and voter list; write the draft manifest and voter list v1."""
    from ceremonies.election import init_election

    loaded = init_election(definition, voters, out)
    for warning in loaded.warnings:
        click.echo(f"warning: {warning}", err=True)
    manifest = loaded.manifest
    contests = sum(len(district.contests) for district in manifest.districts)
    click.echo(
        f"Election {manifest.election_id}: {len(manifest.districts)} districts, {contests} "
        f"contests, {len(loaded.voter_list)} voters."
    )
    click.echo(f"Wrote {out}/manifest.json (draft: no key yet) and the voter list version 1.")
    click.echo(f"Next: ivote ceremony keygen --election {out} --organiser-key DIR")


def _ask_passphrases(trustees: int, minimum: int) -> list[str]:
    passphrases = []
    click.echo(f"Each of the {trustees} trustees now chooses a passphrase for their share file.")
    for index in range(1, trustees + 1):
        while True:
            passphrase = click.prompt(
                f"Trustee {index} of {trustees}, passphrase",
                hide_input=True,
                confirmation_prompt=True,
                err=True,
            )
            if len(passphrase) >= minimum:
                break
            click.echo(f"Too short: at least {minimum} characters.", err=True)
        passphrases.append(passphrase)
    return passphrases


def _load_organiser(key: Path, passphrase_file: Path | None) -> Any:
    """The organiser's signer from the `pki officials` directory (organiser.key + .pem)."""
    from ceremonies.pki import load_official

    directory = key if key.is_dir() else key.parent
    if passphrase_file is not None:
        passphrase = read_secret_file(passphrase_file, "organiser passphrase")
    else:
        passphrase = click.prompt(
            f"Organiser key passphrase ({directory / 'organiser.key'})", hide_input=True, err=True
        )
    return load_official(directory, "organiser", passphrase)


@ceremony.command(name="keygen")
@election_option("The election directory made by `ivote ceremony init`.")
@click.option("--trustees", type=int, help="Number of trustees (must match the definition).")
@click.option("--threshold", type=int, help="Trustees needed to decrypt (must match).")
@click.option(
    "--passphrase-file",
    "passphrase_files",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A trustee's passphrase in a file, once per trustee in order (automation); "
    "without it each trustee is asked in turn.",
)
@organiser_key_options
@click.option(
    "--test-primes",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="TESTS AND DEMOS ONLY: deal the key from fixed public safe primes (JSON p, q in hex, "
    "or tests/fixtures/safe_primes.json) instead of searching; the manifest says test_key.",
)
@click.option("--scrypt-cost", type=int, default=None, hidden=True)
@_clean_errors
def keygen(
    election: Path,
    trustees: int | None,
    threshold: int | None,
    passphrase_files: tuple[Path, ...],
    organiser_key: Path,
    organiser_passphrase_file: Path | None,
    test_primes: Path | None,
    scrypt_cost: int | None,
) -> None:
    """The key ceremony: threshold key, one sealed share per trustee, signed manifest."""
    from ceremonies.keygen import (
        MIN_PASSPHRASE_LENGTH,
        check_passphrases,
        check_ready,
        load_test_primes,
        run_keygen,
    )
    from crypto.sealing import DEFAULT_SCRYPT_N
    from formats.manifest import ElectionDirectory

    directory = ElectionDirectory(election)
    manifest = check_ready(directory)
    for given, expected, name in (
        (trustees, manifest.trustees, "trustees"),
        (threshold, manifest.threshold, "threshold"),
    ):
        if given is not None and given != expected:
            raise click.ClickException(
                f"--{name} {given} differs from the definition's {name} = {expected}"
            )
    primes = load_test_primes(test_primes, manifest.key_bits) if test_primes else None
    signer = _load_organiser(organiser_key, organiser_passphrase_file)
    if passphrase_files:
        passphrases = [read_secret_file(path, "passphrase") for path in passphrase_files]
    else:
        passphrases = _ask_passphrases(manifest.trustees, MIN_PASSPHRASE_LENGTH)
    check_passphrases(passphrases, manifest.trustees)
    if primes is not None:
        click.echo("warning: dealing from fixed TEST primes; this key is not secret", err=True)
        final = run_keygen(
            election,
            passphrases,
            signer,
            test_primes=primes,
            scrypt_cost=scrypt_cost or DEFAULT_SCRYPT_N,
        )
    else:
        final = _keygen_with_progress(
            election, passphrases, signer, manifest.key_bits, scrypt_cost or DEFAULT_SCRYPT_N
        )
    click.echo(
        f"Wrote {final.trustees} sealed share files to {directory.trustees}; give each "
        "trustee their own file."
    )
    click.echo(f"Signed manifest: {directory.signed_manifest}")
    click.echo("Manifest fingerprint (publish it; voters' apps check it):")
    click.echo(f"  {final.fingerprint_groups}")


def _keygen_with_progress(
    election: Path, passphrases: list[str], signer: Any, key_bits: int, scrypt_cost: int
) -> Any:
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from ceremonies.keygen import run_keygen

    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        TextColumn("{task.fields[tested]:,} candidates tested"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as progress:
        task = progress.add_task(f"Searching two {key_bits // 2}-bit safe primes", tested=0)

        def update(tested: int) -> None:
            progress.update(task, tested=tested)

        def stage(text: str) -> None:
            progress.update(task, description=text)

        final = run_keygen(
            election,
            passphrases,
            signer,
            progress=update,
            stage=stage,
            scrypt_cost=scrypt_cost,
        )
        progress.update(task, description="Key dealt, shares sealed, manifest signed")
    return final


@ceremony.command(name="show")
@election_option()
@_clean_errors
def show(election: Path) -> None:
    """What officials read out and publish, with the manifest fingerprint."""
    from ceremonies.show import render_election

    render_election(election)


@ceremony.group(name="voters")
def voters() -> None:
    """The voter list: apply change lists (each makes a new, hash-chained version)."""


@voters.command(name="apply")
@election_option()
@click.option(
    "--changes",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Change list CSV: action(add|remove|move),personal_code,given_name,surname,district.",
)
@_clean_errors
def voters_apply(election: Path, changes: Path) -> None:
    """Apply a change list to the latest voter list version."""
    from ceremonies.election import update_voters

    previous, updated = update_voters(election, changes)
    click.echo(
        f"Voter list version {updated.list_version}: {len(updated)} voters "
        f"(was {len(previous)} in version {previous.list_version})."
    )
    click.echo(f"Hash {updated.hash.hex()} chains to {previous.hash.hex()}.")


@voters.command(name="list")
@election_option()
@_clean_errors
def voters_list(election: Path) -> None:
    """Every voter list version with its voters per district and its hash (chain checked)."""
    from formats.manifest import ElectionDirectory

    directory = ElectionDirectory(election)
    manifest = directory.read_manifest()
    for version in directory.voter_lists(manifest):
        counts = ", ".join(f"{d}: {c}" for d, c in sorted(version.district_counts().items()))
        click.echo(f"version {version.list_version}: {len(version)} voters ({counts})")
        click.echo(f"  hash {version.hash.hex()}")


@ceremony.command(name="paper-voters")
@election_option("The election directory (signed manifest, organiser.pem, voter lists).")
@click.option(
    "--list",
    "codes_file",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Personal codes of the voters who voted on paper: one per line (# comments), or a "
    "CSV with a personal_code column. An empty list is fine: nobody voted on paper.",
)
@organiser_key_options
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The signed list to write (give it to the tallier and the auditors).",
)
@_clean_errors
def paper_voters(
    election: Path,
    codes_file: Path,
    organiser_key: Path,
    organiser_passphrase_file: Path | None,
    out: Path,
) -> None:
    """Sign the list of voters who voted on paper (their i-votes are cancelled), for this
    election and its newest voter list; every unknown or malformed code is refused."""
    from canonical.files import write_canonical_json
    from crypto.eid import parse_certificate
    from formats.manifest import ElectionDirectory
    from formats.paper import parse_paper_voter_input, sign_paper_voters

    directory = ElectionDirectory(election)
    manifest = directory.read_signed_manifest()
    voter_list = directory.voter_lists(manifest)[-1]
    try:
        data = codes_file.read_bytes()
    except OSError as exc:
        raise click.ClickException(f"{codes_file}: cannot read ({exc.strerror})") from exc
    codes = parse_paper_voter_input(data, str(codes_file), voter_list)
    signer = _load_organiser(organiser_key, organiser_passphrase_file)
    pinned = parse_certificate(directory.organiser_certificate.read_bytes(), "organiser.pem")
    if signer.certificate != pinned:
        raise click.ClickException(
            "this organiser key is not the one that signed the manifest "
            f"({directory.organiser_certificate})"
        )
    if out.exists():
        raise click.ClickException(f"{out} exists; refusing to overwrite it")
    write_canonical_json(out, sign_paper_voters(manifest, voter_list, codes, signer))
    click.echo(
        f"Signed the paper-voter list of {manifest.election_id} (voters who voted on paper: "
        f"{len(codes)}) for voter list version {voter_list.list_version}; written to {out}."
    )


from ceremonies.pki_cli import pki  # noqa: E402

ceremony.add_command(pki)
from ceremonies.decrypt_cli import decrypt  # noqa: E402

ceremony.add_command(decrypt)
