"""`ivote ceremony decrypt`: the trustees' part of the decryption ceremony.

Before anything is decrypted, the tally is verified with the verifier (verifier/, never the
tallier's code): the observers' checks on the tally and its bundle, and the auditors' checks,
which re-do the cleansing from the collector-signed ballot box and the organiser-signed
paper-voter list. So the totals a trustee decrypts are the products of exactly the latest
valid ballots of the signed box: a trustee who decrypted whatever they were handed would be a
decryption oracle (a bundle rebuilt around one voter's ballot would reveal that vote). The
manifest must be pinned (the organiser's certificate or the published fingerprint).

One session serves the trustees present: the verification runs once, then each trustee's
share file is opened in turn with that trustee's passphrase, and each gets their own shares
file. Only totals are decrypted, each trustee only with their own share: the private key is
never rebuilt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from canonical.encoding import FormatError
from crypto.errors import CryptoError
from i18n import _, ngettext
from ivote.cli_support import (
    allow_test_key_option,
    audit_input_options,
    manifest_pin_options,
)


def check_tally_before_decrypting(
    tally_path: Path,
    ballot_box: Path,
    paper_voters: Path,
    crl_paths: tuple[Path, ...],
    fingerprint: str | None,
    organiser_cert: Path | None,
    workers: int | None,
    allow_test_key: bool = False,
) -> Any:
    """Refuse to decrypt unless every check of the tally passes, the auditors' included.
    Returns the verified tally (formats.record.Tally): exactly the document that was checked
    is the one decrypted, never the file read again."""
    from canonical.files import read_json_file
    from formats.record import BUNDLE_FILE, TALLY_FILE, Tally
    from ivote.cli_support import progress_bars, read_certificate_file
    from verifier.audit import read_audit_material
    from verifier.record import verify_record

    directory = tally_path if tally_path.is_dir() else tally_path.parent
    document = read_json_file(directory / TALLY_FILE, "tally")
    bundle_path = directory / BUNDLE_FILE
    if not bundle_path.is_file():
        raise click.ClickException(
            _(
                "no observers' bundle ({file}) next to the tally: the totals cannot be "
                "checked against the ballots; refusing to decrypt"
            ).format(file=BUNDLE_FILE)
        )
    bundle = read_json_file(bundle_path, "observers_bundle")
    pinned = (
        read_certificate_file(organiser_cert, _("organiser's certificate"))
        if organiser_cert is not None
        else None
    )
    audit = read_audit_material(ballot_box, paper_voters, crl_paths, directory)
    with progress_bars() as factory:
        verdict = verify_record(
            document,
            bundle,
            workers=workers,
            expected_fingerprint=fingerprint,
            organiser_certificate=pinned,
            audit=audit,
            allow_test_key=allow_test_key,
            progress=factory,
        )
    refused = [
        f"{c.id}: {'; '.join(c.problems) or c.detail}" for c in verdict.blocking_decryption()
    ]
    if refused:
        raise click.ClickException(
            _(
                "the tally does not verify against the signed ballot box and paper-voter list; "
                "refusing to decrypt:"
            )
            + "\n  "
            + "\n  ".join(refused)
        )
    cleansing = verdict.check("cleansing").detail
    click.echo(
        _("The tally verifies ({cleansing}); decrypting its totals.").format(cleansing=cleansing),
        err=True,
    )
    return Tally.from_dict(document)


def _open_share(path: Path, passphrase_file: Path | None, manifest: Any) -> Any:
    """A trustee's key share: the passphrase from its file, else asked without echo (a
    mistyped one may be typed again)."""
    from formats.manifest import open_trustee_share
    from ivote.cli_support import open_with_secret

    return open_with_secret(
        passphrase_file,
        _("Passphrase of {path}").format(path=path),
        _("the share's passphrase"),
        lambda passphrase: open_trustee_share(path, passphrase, manifest),
    )


@click.command(
    name="decrypt",
    help=_(
        "Trustees: verify the tally against the signed ballot box, then write decryption "
        "shares with proofs for every encrypted total, one file per trustee present."
    ),
)
@click.option(
    "--tally",
    "tally_path",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help=_(
        "The tally directory from `ivote tally process` (tally.json, observers' bundle, crls/)."
    ),
)
@audit_input_options(required=True)
@manifest_pin_options
@click.option(
    "--share",
    "share_paths",
    required=True,
    multiple=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help=_("A trustee's sealed share file; give one per trustee present (one session)."),
)
@click.option(
    "--passphrase-file",
    "passphrase_files",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help=_(
        "A share's passphrase in a file, once per --share in order (automation); otherwise "
        "each trustee is asked in turn, without echo."
    ),
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help=_("With one --share: where to write that trustee's decryption shares."),
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help=_(
        "Where to write each trustee's shares as shares-<trustee>.json (any number of --share)."
    ),
)
@allow_test_key_option
@click.option(
    "--workers", type=int, default=None, help=_("Processes for the verification.")
)
def decrypt(
    tally_path: Path,
    ballot_box: Path,
    paper_voters: Path,
    organiser_cert: Path | None,
    fingerprint: str | None,
    crl_paths: tuple[Path, ...],
    share_paths: tuple[Path, ...],
    passphrase_files: tuple[Path, ...],
    out: Path | None,
    out_dir: Path | None,
    allow_test_key: bool,
    workers: int | None,
) -> None:
    from crypto.threshold import decryption_share
    from formats.manifest import Manifest
    from formats.record import TrusteeShares, write_shares

    if organiser_cert is None and fingerprint is None:
        raise click.UsageError(
            _("pin the manifest: --organiser-cert PEM or --fingerprint HEX (the published one)")
        )
    if (out is None) == (out_dir is None):
        raise click.UsageError(_("give either --out (one trustee) or --out-dir"))
    if out is not None and len(share_paths) != 1:
        raise click.UsageError(_("--out takes one --share; use --out-dir for a session"))
    if passphrase_files and len(passphrase_files) != len(share_paths):
        raise click.UsageError(
            _("{files} --passphrase-file for {shares} --share").format(
                files=len(passphrase_files), shares=len(share_paths)
            )
        )
    try:
        tally = check_tally_before_decrypting(
            tally_path,
            ballot_box,
            paper_voters,
            crl_paths,
            fingerprint,
            organiser_cert,
            workers,
            allow_test_key,
        )
        manifest = Manifest.from_dict(tally.manifest["payload"])
    except (FormatError, CryptoError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    failed = []
    for position, share_path in enumerate(share_paths):
        passphrase_file = passphrase_files[position] if passphrase_files else None
        try:
            key_share = _open_share(share_path, passphrase_file, manifest)
            target = out or Path(out_dir or ".") / f"shares-{key_share.index}.json"
            if target.exists():
                raise FormatError(str(target), _("exists; refusing to overwrite it"))
            shares = []
            for total in tally.totals:
                context = manifest.proof_context(total.district, total.contest, total.part)
                shares.append(decryption_share(key_share, total.ciphertext, context).to_dict())
            write_shares(target, TrusteeShares(tally.hash, key_share.index, tuple(shares)))
        except (FormatError, CryptoError) as exc:
            click.echo(f"{share_path}: {exc}", err=True)
            failed.append(share_path)
            continue
        click.echo(
            _("trustee {index}: {count} decryption shares with proofs written to {target}").format(
                index=key_share.index, count=len(shares), target=target
            )
        )
    if failed:
        raise click.ClickException(
            ngettext(
                "{failed} of {count} share file could not be used: {files}",
                "{failed} of {count} share files could not be used: {files}",
                len(share_paths),
            ).format(
                failed=len(failed), count=len(share_paths), files=", ".join(map(str, failed))
            )
        )
    click.echo(
        _("Next, on the tallier: ivote tally combine --tally {tally} --shares ... --out RECORD")
        .format(tally=tally_path)
    )
