"""Processing the ballot box on the air-gapped tallier (`ivote tally process`).

The cleansing (docs/spec.md, "Tally", steps 1 to 4: the box, each ballot's checks, latest per
voter, paper cancellations, proofs) is formats.cleansing's, the same code the auditors' and
trustees' verification runs. This module gathers the signed inputs (manifest, voter lists,
CRLs, the organiser-signed paper-voter list), runs it, and does step 5: identities separated
from ballots, the counted ballots shuffled (secrets), the ciphertexts multiplied per district,
contest and part. The tally names every input by hash (formats.record.TallyInputs).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from canonical.encoding import FormatError
from crypto.errors import CryptoError
from formats.cleansing import (
    ProgressFactory,
    cleanse_ballot_box,
    encrypted_totals,
    no_progress,
)
from formats.record import (
    BundleReference,
    CountedVoters,
    ObserversBundle,
    Tally,
    TallyInputs,
    TallyReport,
)
from i18n import _

if TYPE_CHECKING:
    from formats.manifest import ElectionDirectory, Manifest


class TallyError(Exception):
    """The tally cannot go ahead (bad ballot box, missing CRLs...); the message says why."""


@dataclass
class TallyOutcome:
    tally: Tally
    bundle: ObserversBundle
    counted_voters: CountedVoters
    report: TallyReport
    crls: tuple[bytes, ...]  # the CRLs used (DER or PEM files as read), kept with the tally



# ------------------------------------------------------------------ inputs


def read_crls(election_dir: str | os.PathLike[str], named: Sequence[Path] = ()) -> list[bytes]:
    """The e-ID CAs' CRLs: those named, else every file in ELECTION/crls/."""
    paths = list(named)
    if not paths:
        directory = Path(election_dir) / "crls"
        if directory.is_dir():
            paths = sorted(p for p in directory.iterdir() if p.suffix in {".crl", ".pem", ".der"})
    if not paths:
        raise TallyError(
            _(
                "no CRL: put the e-ID CAs' CRLs in ELECTION/crls/ or name them with --crl "
                "(without one, no certificate's revocation at cast time can be checked)"
            )
        )
    try:
        return [p.read_bytes() for p in paths]
    except OSError as exc:
        raise TallyError(_("cannot read a CRL: {problem}").format(problem=exc)) from exc


def check_errors() -> tuple[type[Exception], ...]:
    return (FormatError, CryptoError, TallyError)


def process_ballot_box(
    election_dir: str | os.PathLike[str],
    box_path: str | os.PathLike[str],
    paper_voters_path: str | os.PathLike[str],
    crl_paths: Sequence[Path] = (),
    *,
    workers: int | None = None,
    progress: ProgressFactory = no_progress,
) -> TallyOutcome:
    """The whole of `ivote tally process`: the signed inputs, the cleansing
    (formats.cleansing), then step 5."""
    from canonical.files import read_json_file
    from crypto.eid import parse_certificate
    from formats.manifest import ElectionDirectory, load_signed_manifest
    from formats.paper import open_paper_voters

    election = ElectionDirectory(election_dir)
    pinned = _read_pinned(election.organiser_certificate)
    manifest = load_signed_manifest(election.signed_manifest, organiser_certificate=pinned)
    document = read_json_file(election.signed_manifest, str(election.signed_manifest))
    key_proofs = _read_key_proofs(election, manifest)
    lists = election.voter_lists(manifest)
    crls = read_crls(election_dir, crl_paths)
    # the paper list is checked before the long part: signed by the organiser, for the
    # election directory's newest voter list (which the box must carry as its newest too)
    paper = open_paper_voters(
        read_json_file(paper_voters_path, "paper_voters"),
        manifest,
        parse_certificate(pinned, "organiser.pem"),
        lists[-1],
    )
    cleansing = cleanse_ballot_box(
        manifest, box_path, paper.personal_codes, crls, workers=workers, progress=progress
    )
    if cleansing.voter_list.hash != lists[-1].hash:
        raise TallyError(
            _(
                "the ballot box was exported with voter list version {box}, the election "
                "directory's newest is version {newest}: bring the election directory up to date"
            ).format(box=cleansing.voter_list.list_version, newest=lists[-1].list_version)
        )
    decision = cleansing.decision
    # separate identities from ballots, shuffle, multiply
    ballots = [c.ballot for c in decision.counted if c.ballot is not None]
    secrets.SystemRandom().shuffle(ballots)
    bundle = ObserversBundle(manifest.election_id, manifest.hash, tuple(ballots))
    inputs = TallyInputs(
        cleansing.box_hash,
        cleansing.voter_list.list_version,
        cleansing.voter_list.hash,
        paper.hash,
        len(paper.personal_codes),
        tuple(sorted({hashlib.sha256(crl).digest() for crl in crls})),
    )
    tally = Tally(
        document,
        inputs,
        cleansing.log,
        decision.report.to_dict(),
        tuple(encrypted_totals(manifest, decision.counted)),
        BundleReference(bundle.hash, len(ballots)),
        key_proofs,
    )
    counted_voters = CountedVoters(manifest.election_id, decision.counted_voters)
    return TallyOutcome(tally, bundle, counted_voters, decision.report, tuple(crls))


def _read_key_proofs(election: ElectionDirectory, manifest: Manifest) -> dict[str, Any] | None:
    """The key-proofs document the manifest names, as published, for the record (the
    verifier checks it); None for a manifest that names none."""
    from canonical.files import read_json_file

    if manifest.key_proofs is None:
        return None
    document = read_json_file(election.key_proofs, str(election.key_proofs))
    if not isinstance(document, dict):
        raise TallyError(
            _("{path}: expected the key-proofs document (an object)").format(
                path=election.key_proofs
            )
        )
    return document


def _read_pinned(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TallyError(
            _("{path}: cannot read the organiser's certificate to check the manifest ({reason})")
            .format(path=path, reason=exc.strerror)
        ) from exc
