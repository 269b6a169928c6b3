"""The trustees' parameters step, before the key ceremony: `ivote ceremony trustee-params`.

Each trustee, on their own machine with a copy of the draft election directory, makes
ring-Pedersen parameters (crypto.keyproofs.make_ring_pedersen) and proves them (Pi-prm); the
document goes to ELECTION/trustee-parameters/trustee-I.json and the trustee writes down its
fingerprint. The modulus' factors and lambda live in this call's memory only: never written,
printed or returned. The key ceremony (ceremonies.keygen) reads and checks every trustee's
document and proves the election key against each (docs/spec.md, "Key proofs").
"""

from __future__ import annotations

from pathlib import Path

from canonical.encoding import FormatError
from canonical.files import read_json_file, write_canonical_json
from ceremonies.election import CeremonyError
from crypto.keyproofs import make_ring_pedersen, prove_ring_pedersen
from formats.keyproofs import TrusteeParameters, ring_pedersen_context
from formats.manifest import ElectionDirectory, Manifest
from i18n import _


def _draft_manifest(election: ElectionDirectory) -> Manifest:
    if not election.manifest.exists():
        raise CeremonyError(
            _("{election} is not an initialised election (no {file}; run `ivote ceremony init`)")
            .format(election=election.root, file=election.manifest.name)
        )
    manifest = election.read_manifest()
    if not manifest.is_draft or election.signed_manifest.exists():
        raise CeremonyError(
            _(
                "{election} already has an election key; trustees' parameters are made before "
                "the key ceremony"
            ).format(election=election.root)
        )
    return manifest


def make_trustee_parameters(election_dir: str | Path, trustee: int) -> TrusteeParameters:
    """Trustee `trustee`'s parameters for the election in `election_dir`, written atomically
    to its file; refuses an index out of 1..N, an election not initialised or already keyed,
    and an existing file (never overwritten)."""
    election = ElectionDirectory(election_dir)
    manifest = _draft_manifest(election)
    if not 1 <= trustee <= manifest.trustees:
        raise CeremonyError(
            _("trustee {index} does not exist: this election has trustees 1 to {trustees}")
            .format(index=trustee, trustees=manifest.trustees)
        )
    path = election.trustee_parameters_file(trustee)
    if path.exists():
        raise CeremonyError(
            _(
                "{path} exists: trustee {index} has made parameters already; refusing to "
                "overwrite them (move the file away to make new ones)"
            ).format(path=path, index=trustee)
        )
    params, lam, phi = make_ring_pedersen(manifest.key_bits)
    proof = prove_ring_pedersen(
        params, lam, phi, ring_pedersen_context(manifest.election_id, trustee)
    )
    del lam, phi  # the trustee's secrets end with the proof
    document = TrusteeParameters(manifest.election_id, trustee, params, proof)
    write_canonical_json(path, document.to_dict())
    return document


def read_trustee_parameters(
    election: ElectionDirectory, manifest: Manifest
) -> list[TrusteeParameters]:
    """Every trustee's parameters document (1..N, in order), each parsed and checked
    (election, trustee, size, Pi-prm proof); the first bad or missing one is refused in one
    line naming the trustee and the problem."""
    documents = []
    for trustee in range(1, manifest.trustees + 1):
        path = election.trustee_parameters_file(trustee)
        if not path.exists():
            raise CeremonyError(
                _(
                    "trustee {index} has no parameters ({path} is missing): each trustee runs "
                    "`ivote ceremony trustee-params` before the key ceremony"
                ).format(index=trustee, path=path)
            )
        try:
            document = TrusteeParameters.from_dict(read_json_file(path, str(path)))
        except FormatError as exc:
            raise CeremonyError(
                _("trustee {index}'s parameters ({path}) are malformed: {problem}").format(
                    index=trustee, path=path, problem=exc
                )
            ) from exc
        problems = document.problems(manifest.election_id, trustee, manifest.key_bits)
        if problems:
            raise CeremonyError(
                _("trustee {index}'s parameters ({path}) are refused: {problem}").format(
                    index=trustee, path=path, problem="; ".join(problems)
                )
            )
        documents.append(document)
    return documents
