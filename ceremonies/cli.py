"""`ivote ceremony`: Officials' offline ceremonies.

init (definition + voter list -> draft manifest), trustee-params (each trustee's parameters
for the key proofs, on the trustee's machine), keygen (threshold key, sealed trustee shares,
the key proofs, signed manifest), show (what officials read out and publish), voters (change lists).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from i18n import _, format_datetime
from ivote.cli_support import (
    election_option,
    new_secret,
    open_with_secret,
    organiser_key_options,
)

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


@click.group(name="ceremony", help=_("Officials' offline ceremonies."))
def ceremony() -> None:
    pass


WHEN_HELP = _(
    "RFC 3339 date-time with offset (2027-10-09T09:00:00+03:00), \"now\", or \"+N\" "
    "minutes, hours or days (+30m, +12h, +7d)"
)


@ceremony.command(
    name="init",
    help=_(
        "Validate the definition and voter list; write the draft manifest and voter list v1. "
        "The voting period is the definition's, or the one --start and --end set."
    ),
)
@click.option(
    "--definition",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help=_("The election definition (TOML; see examples/election.toml)."),
)
@click.option(
    "--voters",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help=_("The voter list (CSV: personal_code,given_name,surname,district)."),
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help=_("The election directory to create."),
)
@click.option(
    "--start",
    metavar="WHEN",
    help=_("When voting opens, instead of the definition's start: {forms}; +N is after now.")
    .format(forms=WHEN_HELP),
)
@click.option(
    "--end",
    metavar="WHEN",
    help=_("When voting closes, instead of the definition's end: {forms}; +N is after the start.")
    .format(forms=WHEN_HELP),
)
@_clean_errors
def init(
    definition: Path, voters: Path, out: Path, start: str | None, end: str | None
) -> None:
    from ceremonies.election import init_election

    loaded = init_election(definition, voters, out, start=start, end=end)
    for warning in loaded.warnings:
        click.echo(_("warning: {warning}").format(warning=warning), err=True)
    manifest = loaded.manifest
    contests = sum(len(district.contests) for district in manifest.districts)
    click.echo(
        _("Election {id}: {districts} districts, {contests} contests, {voters} voters.").format(
            id=manifest.election_id,
            districts=len(manifest.districts),
            contests=contests,
            voters=len(loaded.voter_list),
        )
    )
    click.echo(
        _("Voting opens {start} and closes {end}.").format(
            start=format_datetime(manifest.period.start), end=format_datetime(manifest.period.end)
        )
    )
    click.echo(
        _("Wrote {path} (draft: no key yet) and the voter list version 1.").format(
            path=out / "manifest.json"
        )
    )
    click.echo(
        _(
            "Next: each trustee I runs ivote ceremony trustee-params --election {out} "
            "--trustee I; then ivote ceremony keygen --election {out} --organiser-key DIR"
        ).format(out=out)
    )


@ceremony.command(
    name="trustee-params",
    help=_(
        "A trustee's step before the key ceremony, on the trustee's own machine: make and "
        "prove the trustee's ring-Pedersen parameters (ELECTION/trustee-parameters/"
        "trustee-I.json) and print their fingerprint to write down."
    ),
)
@election_option(_("The election directory made by `ivote ceremony init` (a copy will do)."))
@click.option(
    "--trustee",
    required=True,
    type=int,
    help=_("Your trustee number, 1 to the number of trustees."),
)
@_clean_errors
def trustee_params(election: Path, trustee: int) -> None:
    from ceremonies.trustee_params import make_trustee_parameters
    from formats.manifest import ElectionDirectory

    document = make_trustee_parameters(election, trustee)
    path = ElectionDirectory(election).trustee_parameters_file(trustee)
    click.echo(
        _(
            "Trustee {index}: {bits}-bit ring-Pedersen parameters made and proven; their "
            "secret factors are already forgotten."
        ).format(index=trustee, bits=document.bits)
    )
    click.echo(_("Wrote {path}; bring it to the key ceremony.").format(path=path))
    click.echo(
        _(
            "Fingerprint of your parameters (write it down; after the key ceremony "
            "`ivote ceremony show` must print the same):"
        )
    )
    click.echo(f"  {document.fingerprint_groups}")


def _ask_passphrases(trustees: int) -> list[str]:
    passphrases = []
    click.echo(
        _("Each of the {trustees} trustees now chooses a passphrase for their share file.")
        .format(trustees=trustees)
    )
    for index in range(1, trustees + 1):
        label = _("Trustee {index} of {trustees}, passphrase").format(
            index=index, trustees=trustees
        )
        passphrases.append(new_secret(None, label, _("the trustee's passphrase")))
    return passphrases


def _load_organiser(key: Path, passphrase_file: Path | None) -> Any:
    """The organiser's signer from the `pki officials` directory (organiser.key + .pem); a
    wrong passphrase is refused at once (at the prompt, after three tries)."""
    from ceremonies.pki import load_official

    directory = key if key.is_dir() else key.parent
    return open_with_secret(
        passphrase_file,
        _("Organiser key passphrase ({path})").format(path=directory / "organiser.key"),
        _("the organiser's passphrase"),
        lambda passphrase: load_official(directory, "organiser", passphrase),
    )


@ceremony.command(
    name="keygen",
    help=_(
        "The key ceremony: checks every trustee's parameters (made with trustee-params), then "
        "the threshold key, one sealed share per trustee, the key proofs, the signed manifest."
    ),
)
@election_option(_("The election directory made by `ivote ceremony init`."))
@click.option(
    "--trustees", type=int, help=_("Number of trustees (must match the definition).")
)
@click.option("--threshold", type=int, help=_("Trustees needed to decrypt (must match)."))
@click.option(
    "--passphrase-file",
    "passphrase_files",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help=_(
        "A trustee's passphrase in a file, once per trustee in order (automation); "
        "without it each trustee is asked in turn."
    ),
)
@organiser_key_options
@click.option(
    "--test-primes",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help=_(
        "TESTS AND DEMOS ONLY: deal the key from fixed public safe primes (JSON p, q in hex, "
        "or tests/fixtures/safe_primes.json) instead of searching; the manifest says test_key."
    ),
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
    from ceremonies.keygen import (
        check_passphrases,
        check_ready,
        load_test_primes,
        run_keygen,
    )
    from ceremonies.trustee_params import read_trustee_parameters
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
                _("--{name} {given} differs from the definition's {name} = {expected}").format(
                    name=name, given=given, expected=expected
                )
            )
    if passphrase_files and len(passphrase_files) != manifest.trustees:
        raise click.ClickException(
            _("{count} passphrases for {trustees} trustees").format(
                count=len(passphrase_files), trustees=manifest.trustees
            )
        )
    primes = load_test_primes(test_primes, manifest.key_bits) if test_primes else None
    # every trustee's parameters checked before anyone types a passphrase
    click.echo(
        _("Checking the parameters of {trustees} trustees...").format(trustees=manifest.trustees),
        err=True,
    )
    parameters = read_trustee_parameters(directory, manifest)
    signer = _load_organiser(organiser_key, organiser_passphrase_file)
    if passphrase_files:
        passphrases = [
            new_secret(path, "", _("the trustee's passphrase")) for path in passphrase_files
        ]
    else:
        passphrases = _ask_passphrases(manifest.trustees)
    check_passphrases(passphrases, manifest.trustees)
    if primes is not None:
        click.echo(
            _("warning: dealing from fixed TEST primes; this key is not secret"), err=True
        )
        final = run_keygen(
            election,
            passphrases,
            signer,
            test_primes=primes,
            scrypt_cost=scrypt_cost or DEFAULT_SCRYPT_N,
            trustee_parameters=parameters,
        )
    else:
        final = _keygen_with_progress(
            election,
            passphrases,
            signer,
            manifest.key_bits,
            scrypt_cost or DEFAULT_SCRYPT_N,
            parameters,
        )
    click.echo(
        _(
            "Wrote {count} sealed share files to {path}; give each trustee their own file."
        ).format(count=final.trustees, path=directory.trustees)
    )
    click.echo(_("Signed manifest: {path}").format(path=directory.signed_manifest))
    click.echo(
        _("Proofs that the key is well formed (publish them with the manifest): {path}").format(
            path=directory.key_proofs
        )
    )
    click.echo(_("Manifest fingerprint (publish it; voters' apps check it):"))
    click.echo(f"  {final.fingerprint_groups}")
    click.echo(_("Next: ivote ceremony show --election {election}").format(election=election))


def _keygen_with_progress(
    election: Path,
    passphrases: list[str],
    signer: Any,
    key_bits: int,
    scrypt_cost: int,
    parameters: Any,
) -> Any:
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from ceremonies.keygen import run_keygen

    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        TextColumn(_("{tested} candidates tested").replace("{tested}", "{task.fields[tested]:,}")),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as progress:
        task = progress.add_task(
            _("Searching two {bits}-bit safe primes").format(bits=key_bits // 2), tested=0
        )

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
            trustee_parameters=parameters,
        )
        progress.update(task, description=_("Key dealt, shares sealed, manifest signed"))
    return final


@ceremony.command(
    name="show", help=_("What officials read out and publish, with the manifest fingerprint.")
)
@election_option(_("The election directory."))
@_clean_errors
def show(election: Path) -> None:
    from ceremonies.show import render_election

    render_election(election)


@ceremony.group(
    name="voters",
    help=_("The voter list: apply change lists (each makes a new, hash-chained version)."),
)
def voters() -> None:
    pass


@voters.command(name="apply", help=_("Apply a change list to the latest voter list version."))
@election_option(_("The election directory."))
@click.option(
    "--changes",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help=_(
        "Change list CSV: action(add|remove|move),personal_code,given_name,surname,district."
    ),
)
@_clean_errors
def voters_apply(election: Path, changes: Path) -> None:
    from ceremonies.election import update_voters

    previous, updated = update_voters(election, changes)
    click.echo(
        _("Voter list version {version}: {count} voters (was {previous} in version {old}).")
        .format(
            version=updated.list_version,
            count=len(updated),
            previous=len(previous),
            old=previous.list_version,
        )
    )
    click.echo(
        _("Hash {hash} chains to {previous}.").format(
            hash=updated.hash.hex(), previous=previous.hash.hex()
        )
    )


@voters.command(
    name="list",
    help=_("Every voter list version with its voters per district and its hash (chain checked)."),
)
@election_option(_("The election directory."))
@_clean_errors
def voters_list(election: Path) -> None:
    from formats.manifest import ElectionDirectory

    directory = ElectionDirectory(election)
    manifest = directory.read_manifest()
    for version in directory.voter_lists(manifest):
        counts = ", ".join(f"{d}: {c}" for d, c in sorted(version.district_counts().items()))
        click.echo(
            _("version {version}: {count} voters ({districts})").format(
                version=version.list_version, count=len(version), districts=counts
            )
        )
        click.echo("  " + _("hash {hash}").format(hash=version.hash.hex()))


@ceremony.command(
    name="paper-voters",
    help=_(
        "Sign the list of voters who voted on paper (their i-votes are cancelled), for this "
        "election and its newest voter list; every unknown or malformed code is refused."
    ),
)
@election_option(_("The election directory (signed manifest, organiser.pem, voter lists)."))
@click.option(
    "--list",
    "codes_file",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help=_(
        "Personal codes of the voters who voted on paper: one per line (# comments), or a "
        "CSV with a personal_code column. An empty list is fine: nobody voted on paper."
    ),
)
@organiser_key_options
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help=_("The signed list to write (give it to the tallier and the auditors)."),
)
@_clean_errors
def paper_voters(
    election: Path,
    codes_file: Path,
    organiser_key: Path,
    organiser_passphrase_file: Path | None,
    out: Path,
) -> None:
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
        raise click.ClickException(
            _("{path}: cannot read ({reason})").format(path=codes_file, reason=exc.strerror)
        ) from exc
    codes = parse_paper_voter_input(
        data, str(codes_file), voter_list, manifest.personal_code_scheme
    )
    if out.exists():  # before the passphrase is typed
        raise click.ClickException(_("{path} exists; refusing to overwrite it").format(path=out))
    signer = _load_organiser(organiser_key, organiser_passphrase_file)
    pinned = parse_certificate(directory.organiser_certificate.read_bytes(), "organiser.pem")
    if signer.certificate != pinned:
        raise click.ClickException(
            _("this organiser key is not the one that signed the manifest ({path})").format(
                path=directory.organiser_certificate
            )
        )
    write_canonical_json(out, sign_paper_voters(manifest, voter_list, codes, signer))
    click.echo(
        _(
            "Signed the paper-voter list of {election} (voters who voted on paper: {count}) "
            "for voter list version {version}; written to {out}."
        ).format(
            election=manifest.election_id,
            count=len(codes),
            version=voter_list.list_version,
            out=out,
        )
    )
    click.echo(_("Give it to the tallier with the ballot box: ivote tally process ..."))


from ceremonies.pki_cli import pki  # noqa: E402

ceremony.add_command(pki)
from ceremonies.decrypt_cli import decrypt  # noqa: E402

ceremony.add_command(decrypt)
