"""`ivote ceremony decrypt`: one trustee's part of the decryption ceremony.

The trustee opens their sealed key share (passphrase asked without echo), checks the tally
before decrypting anything, and writes one decryption share with its proof per encrypted total.
Only totals are decrypted and only from this trustee's share: the full private key is never
rebuilt, and no single ballot is ever decrypted.

Checking first matters: a trustee who decrypts whatever they are handed is a decryption
oracle. So the tally must pass the observers' checks (the verifier's, run on the tally and the
observers' bundle next to it): the totals are the products of valid ballots, the log and
report add up. The trustee's key must be the manifest's.
"""

from __future__ import annotations

from pathlib import Path

import click

from canonical.encoding import DOMAINS, FormatError
from crypto.errors import CryptoError
from crypto.threshold import decryption_share
from formats.manifest import Manifest, open_trustee_share
from formats.record import BUNDLE_FILE, Tally, TrusteeShares, read_tally, write_shares
from formats.signed import open_signed


def _read_passphrase(path: Path | None, share: Path) -> str:
    if path is None:
        return click.prompt(f"Passphrase of {share}", hide_input=True, err=True)
    try:
        text = path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise click.ClickException(f"{path}: cannot read the passphrase: {exc.strerror}") from exc
    if not text:
        raise click.ClickException(f"{path}: the passphrase file is empty")
    return text


def check_tally_before_decrypting(tally_path: Path, tally: Tally, workers: int | None) -> None:
    """Refuse to decrypt a tally that does not verify; say what could not be checked."""
    from canonical.files import read_json_file
    from verifier.record import verify_record  # the public verifier, not tally processing

    bundle_path = (tally_path if tally_path.is_dir() else tally_path.parent) / BUNDLE_FILE
    bundle = read_json_file(bundle_path, "observers_bundle") if bundle_path.is_file() else None
    verdict = verify_record(tally.to_dict(), bundle, workers=workers)
    if verdict.failed:
        lines = [f"{c.id}: {'; '.join(c.problems) or c.detail}" for c in verdict.failed]
        raise click.ClickException(
            "the tally does not verify; refusing to decrypt:\n  " + "\n  ".join(lines)
        )
    if bundle is None:
        raise click.ClickException(
            f"no observers' bundle ({BUNDLE_FILE}) next to the tally: without it the totals "
            "cannot be checked against the ballots; refusing to decrypt (--unchecked to "
            "decrypt anyway)"
        )


@click.command(name="decrypt")
@click.option(
    "--share",
    "share_path",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="This trustee's sealed share file (ELECTION/trustees/trustee-<i>.share).",
)
@click.option(
    "--tally",
    "tally_path",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="The tally directory from `ivote tally process` (or its tally.json).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write this trustee's decryption shares.",
)
@click.option(
    "--passphrase-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The share's passphrase in a file (automation); otherwise asked without echo.",
)
@click.option(
    "--unchecked",
    is_flag=True,
    help="Decrypt even without the observers' bundle (the totals are then not checked "
    "against the ballots).",
)
@click.option("--workers", type=int, default=None, help="Processes for the tally check.")
def decrypt(
    share_path: Path,
    tally_path: Path,
    out: Path,
    passphrase_file: Path | None,
    unchecked: bool,
    workers: int | None,
) -> None:
    """One trustee: decryption shares with proofs for every encrypted total of a tally."""
    try:
        tally = read_tally(tally_path)
        payload, _, _ = open_signed(tally.manifest, DOMAINS["manifest"], where="tally.manifest")
        manifest = Manifest.from_dict(payload)
        if unchecked:
            click.echo("warning: decrypting without checking the tally (--unchecked)", err=True)
        else:
            check_tally_before_decrypting(tally_path, tally, workers)
        passphrase = _read_passphrase(passphrase_file, share_path)
        key_share = open_trustee_share(share_path, passphrase, manifest)
        shares = []
        for total in tally.totals:
            context = manifest.proof_context(total.district, total.contest, total.part)
            shares.append(decryption_share(key_share, total.ciphertext, context).to_dict())
        write_shares(out, TrusteeShares(tally.hash, key_share.index, tuple(shares)))
    except (FormatError, CryptoError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"trustee {key_share.index}: {len(shares)} decryption shares with proofs written to {out}"
    )
