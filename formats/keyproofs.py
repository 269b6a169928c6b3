"""The key-proofs document: one home for its format (docs/spec.md, "Key proofs", "The
key-proofs document").

The key ceremony publishes, beside the manifest, the proofs that the election key is well
formed (crypto/keyproofs.py); the manifest names the document by its hash (`key_proofs`), so
the organiser's signature covers it. Version 1 holds the dealer's Paillier-Blum modulus proof;
later versions add the trustees' ring-Pedersen parameters and the no-small-factor proofs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from canonical.encoding import (
    FormatError,
    b64url,
    check_version,
    object_hash,
    printable,
    require,
)
from crypto.errors import InvalidInput, ProofInvalid
from crypto.keyproofs import ModulusProof, verify_modulus
from formats.manifest import Manifest
from i18n import _

KEY_PROOFS_VERSION = 1
ELECTION_KEY_PURPOSE = "election key"
_FIELDS = {"version", "election_id", "modulus_proof"}


def modulus_proof_context(election_id: str) -> dict[str, str]:
    """The context the election key's modulus proof binds: the one place it is built (the
    ceremony proves under it, the verifier checks under it)."""
    return {"election_id": election_id, "purpose": ELECTION_KEY_PURPOSE}


@dataclass(frozen=True)
class KeyProofs:
    election_id: str
    modulus_proof: ModulusProof

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": KEY_PROOFS_VERSION,
            "election_id": self.election_id,
            "modulus_proof": self.modulus_proof.to_dict(),
        }

    @property
    def hash(self) -> bytes:
        """What the manifest's `key_proofs` field holds: H(canonical bytes)."""
        return object_hash(self.to_dict())

    @classmethod
    def from_dict(cls, obj: Any, where: str = "key_proofs") -> KeyProofs:
        """Parse a document from outside; a FormatError names the field."""
        if not isinstance(obj, Mapping):
            raise FormatError(where, "expected an object")
        check_version(obj, where, KEY_PROOFS_VERSION)
        unknown = sorted(set(obj) - _FIELDS)
        if unknown:
            raise FormatError(f"{where}.{unknown[0]}", "unknown field")
        election_id = require(obj, "election_id", str, where)
        require(obj, "modulus_proof", dict, where)
        try:
            proof = ModulusProof.from_dict(obj["modulus_proof"], f"{where}.modulus_proof")
        except InvalidInput as exc:
            raise FormatError(exc.field, exc.problem) from exc
        return cls(election_id, proof)


def key_proofs_problems(document: Any, manifest: Manifest) -> list[str]:
    """Every reason why `document` (parsed JSON, None when absent) does not prove the key of
    `manifest` (which has one) well formed, each in one line; none when it does. The one
    check of the key-proofs document (docs/spec.md, "Verifier checks", `key-proofs`)."""
    if manifest.key_proofs is None:
        return [_("the election key is not proven well formed: the manifest names no key proofs")]
    expected = b64url(manifest.key_proofs)
    if document is None:
        return [
            _("the key-proofs document (hash {expected}, named by the manifest) is missing")
            .format(expected=expected)
        ]
    try:
        proofs = KeyProofs.from_dict(document)
    except FormatError as exc:
        return [_("the key-proofs document is malformed: {problem}").format(problem=exc)]
    problems = []
    if proofs.election_id != manifest.election_id:
        problems.append(
            _("the key-proofs document is for election {found}, not {expected}").format(
                found=printable(proofs.election_id), expected=manifest.election_id
            )
        )
    if proofs.hash != manifest.key_proofs:
        problems.append(
            _("the key-proofs document's hash {found} is not the {expected} the manifest names")
            .format(found=b64url(proofs.hash), expected=expected)
        )
    context = modulus_proof_context(manifest.election_id)
    try:
        verify_modulus(manifest.threshold_key.n, proofs.modulus_proof, context)
    except ProofInvalid as exc:
        problems.append(
            _("the modulus proof does not verify for the election key: {problem}").format(
                problem=exc.problem
            )
        )
    return problems
