"""The key-proofs document and the trustees' parameters document: one home for their formats
and their one check (docs/spec.md, "Key proofs": "The trustees' parameters document", "The
key-proofs document").

Before the key ceremony each trustee makes ring-Pedersen parameters with their proof (the
trustee-parameters document, `ivote ceremony trustee-params`). The key ceremony checks every
trustee's document and publishes, beside the manifest, the proofs that the election key is
well formed (crypto/keyproofs.py): the dealer's Paillier-Blum modulus proof, and for each
trustee that trustee's parameters document with the dealer's no-small-factor proof against
it. The manifest names the key-proofs document by its hash (`key_proofs`), so the organiser's
signature covers it.
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
from crypto.keyproofs import (
    ModulusProof,
    NoSmallFactorProof,
    RingPedersen,
    RingPedersenProof,
    verify_modulus,
    verify_no_small_factor,
    verify_ring_pedersen,
)
from formats.manifest import Manifest, grouped_fingerprint
from i18n import _

KEY_PROOFS_VERSION = 2
TRUSTEE_PARAMETERS_VERSION = 1
ELECTION_KEY_PURPOSE = "election key"
RING_PEDERSEN_PURPOSE = "ring-Pedersen parameters"
# A trustee's modulus N^ has at least the election key's bits (factoring it would let the
# dealer forge a no-small-factor proof) and at most this many (a reader's work stays bounded).
MAX_RING_PEDERSEN_BITS = 16384
MAX_TRUSTEES = 255  # the key's own bound (docs/spec.md, "Key"); a manifest allows 64
_FIELDS = ("version", "election_id", "modulus_proof", "trustees")
_PARAMETERS_FIELDS = ("version", "election_id", "trustee", "ring_pedersen", "proof")
_ENTRY_FIELDS = ("trustee", "parameters", "no_small_factor_proof")


def modulus_proof_context(election_id: str) -> dict[str, str]:
    """The context the election key's modulus proof binds: the one place it is built (the
    ceremony proves under it, the verifier checks under it)."""
    return {"election_id": election_id, "purpose": ELECTION_KEY_PURPOSE}


def ring_pedersen_context(election_id: str, trustee: int) -> dict[str, Any]:
    """The context trustee `trustee`'s proof of its ring-Pedersen parameters binds."""
    return {"election_id": election_id, "purpose": RING_PEDERSEN_PURPOSE, "trustee": trustee}


def no_small_factor_context(election_id: str, trustee: int) -> dict[str, Any]:
    """The context of the dealer's no-small-factor proof against trustee `trustee`'s
    parameters."""
    return {"election_id": election_id, "purpose": ELECTION_KEY_PURPOSE, "trustee": trustee}


def _only_fields(obj: Any, fields: tuple[str, ...], where: str) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise FormatError(where, "expected an object")
    unknown = sorted(set(obj) - set(fields))
    if unknown:
        raise FormatError(f"{where}.{unknown[0]}", "unknown field")
    return obj


def _trustee_index(obj: Mapping[str, Any], where: str) -> int:
    trustee = require(obj, "trustee", int, where)
    if not 1 <= trustee <= MAX_TRUSTEES:
        raise FormatError(f"{where}.trustee", f"expected an integer in 1..{MAX_TRUSTEES}")
    return int(trustee)


@dataclass(frozen=True)
class TrusteeParameters:
    """A trustee's ring-Pedersen parameters with their proof (Pi-prm), made by the trustee
    before the key ceremony (`ivote ceremony trustee-params`)."""

    election_id: str
    trustee: int
    ring_pedersen: RingPedersen
    proof: RingPedersenProof

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": TRUSTEE_PARAMETERS_VERSION,
            "election_id": self.election_id,
            "trustee": self.trustee,
            "ring_pedersen": self.ring_pedersen.to_dict(),
            "proof": self.proof.to_dict(),
        }

    @property
    def hash(self) -> bytes:
        """H(canonical bytes): the fingerprint the trustee writes down."""
        return object_hash(self.to_dict())

    @property
    def fingerprint_groups(self) -> str:
        """The fingerprint in groups of four hex digits, like the manifest's."""
        return grouped_fingerprint(self.hash)

    @property
    def bits(self) -> int:
        return self.ring_pedersen.n.bit_length()

    @classmethod
    def from_dict(cls, obj: Any, where: str = "trustee_parameters") -> TrusteeParameters:
        """Parse a document from outside; a FormatError names the field."""
        obj = _only_fields(obj, _PARAMETERS_FIELDS, where)
        check_version(obj, where, TRUSTEE_PARAMETERS_VERSION)
        election_id = require(obj, "election_id", str, where)
        trustee = _trustee_index(obj, where)
        require(obj, "ring_pedersen", dict, where)
        require(obj, "proof", dict, where)
        try:
            params = RingPedersen.from_dict(obj["ring_pedersen"], f"{where}.ring_pedersen")
            proof = RingPedersenProof.from_dict(obj["proof"], f"{where}.proof")
        except InvalidInput as exc:
            raise FormatError(exc.field, exc.problem) from exc
        return cls(election_id, trustee, params, proof)

    def problems(self, election_id: str, trustee: int, key_bits: int) -> list[str]:
        """Why these are not trustee `trustee`'s parameters for the election `election_id`
        with a key of `key_bits` bits, each in one line; none when they are. In order: the
        election, the trustee, the modulus size (a wrong size stops here), the proof."""
        problems = []
        if self.election_id != election_id:
            problems.append(
                _("the parameters are for election {found}, not {expected}").format(
                    found=printable(self.election_id), expected=election_id
                )
            )
        if self.trustee != trustee:
            problems.append(
                _("the parameters are trustee {found}'s, not trustee {expected}'s").format(
                    found=self.trustee, expected=trustee
                )
            )
        if not key_bits <= self.bits <= MAX_RING_PEDERSEN_BITS:
            problems.append(
                _(
                    "the parameters' modulus has {bits} bits; it must have from the key's "
                    "{key_bits} to {maximum}"
                ).format(bits=self.bits, key_bits=key_bits, maximum=MAX_RING_PEDERSEN_BITS)
            )
            return problems
        try:
            verify_ring_pedersen(
                self.ring_pedersen, self.proof, ring_pedersen_context(election_id, trustee)
            )
        except (ProofInvalid, InvalidInput) as exc:
            problems.append(
                _("the parameters' proof does not verify: {problem}").format(
                    problem=getattr(exc, "problem", str(exc))
                )
            )
        return problems


@dataclass(frozen=True)
class TrusteeKeyProof:
    """One trustee's entry in the key-proofs document: its parameters document, as the
    trustee made it, and the dealer's no-small-factor proof against them."""

    parameters: TrusteeParameters
    no_small_factor_proof: NoSmallFactorProof

    @property
    def trustee(self) -> int:
        return self.parameters.trustee

    def to_dict(self) -> dict[str, Any]:
        return {
            "trustee": self.trustee,
            "parameters": self.parameters.to_dict(),
            "no_small_factor_proof": self.no_small_factor_proof.to_dict(),
        }


@dataclass(frozen=True)
class KeyProofs:
    election_id: str
    modulus_proof: ModulusProof
    trustees: tuple[TrusteeKeyProof, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": KEY_PROOFS_VERSION,
            "election_id": self.election_id,
            "modulus_proof": self.modulus_proof.to_dict(),
            "trustees": [entry.to_dict() for entry in self.trustees],
        }

    @property
    def hash(self) -> bytes:
        """What the manifest's `key_proofs` field holds: H(canonical bytes)."""
        return object_hash(self.to_dict())

    @classmethod
    def from_dict(cls, obj: Any, where: str = "key_proofs") -> KeyProofs:
        """Parse a document from outside; a FormatError names the field."""
        obj = _only_fields(obj, _FIELDS, where)
        if obj.get("version") == 1 and not isinstance(obj.get("version"), bool):
            raise FormatError(
                f"{where}.version",
                "version 1 (the modulus proof alone) is no longer accepted: the key proofs "
                "need every trustee's parameters and no-small-factor proof (version 2)",
            )
        check_version(obj, where, KEY_PROOFS_VERSION)
        election_id = require(obj, "election_id", str, where)
        require(obj, "modulus_proof", dict, where)
        try:
            proof = ModulusProof.from_dict(obj["modulus_proof"], f"{where}.modulus_proof")
        except InvalidInput as exc:
            raise FormatError(exc.field, exc.problem) from exc
        entries = require(obj, "trustees", list, where)
        if not 1 <= len(entries) <= MAX_TRUSTEES:
            raise FormatError(f"{where}.trustees", f"expected 1 to {MAX_TRUSTEES} entries")
        trustees = []
        for position, entry in enumerate(entries):
            at = f"{where}.trustees[{position}]"
            entry = _only_fields(entry, _ENTRY_FIELDS, at)
            if _trustee_index(entry, at) != position + 1:
                raise FormatError(
                    f"{at}.trustee", f"expected {position + 1}: every trustee once, in order"
                )
            parameters = TrusteeParameters.from_dict(
                require(entry, "parameters", dict, at), f"{at}.parameters"
            )
            require(entry, "no_small_factor_proof", dict, at)
            try:
                factor_proof = NoSmallFactorProof.from_dict(
                    entry["no_small_factor_proof"], f"{at}.no_small_factor_proof"
                )
            except InvalidInput as exc:
                raise FormatError(exc.field, exc.problem) from exc
            if parameters.trustee != position + 1:
                raise FormatError(
                    f"{at}.parameters.trustee",
                    f"the parameters of trustee {parameters.trustee} in trustee "
                    f"{position + 1}'s entry",
                )
            trustees.append(TrusteeKeyProof(parameters, factor_proof))
        return cls(election_id, proof, tuple(trustees))


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
    election_id = manifest.election_id
    if proofs.election_id != election_id:
        problems.append(
            _("the key-proofs document is for election {found}, not {expected}").format(
                found=printable(proofs.election_id), expected=election_id
            )
        )
    if proofs.hash != manifest.key_proofs:
        problems.append(
            _("the key-proofs document's hash {found} is not the {expected} the manifest names")
            .format(found=b64url(proofs.hash), expected=expected)
        )
    n = manifest.threshold_key.n
    try:
        verify_modulus(n, proofs.modulus_proof, modulus_proof_context(election_id))
    except ProofInvalid as exc:
        problems.append(
            _("the modulus proof does not verify for the election key: {problem}").format(
                problem=exc.problem
            )
        )
    if len(proofs.trustees) != manifest.trustees:
        problems.append(
            _(
                "the key-proofs document has proofs for {count} trustees; the election has "
                "{trustees}"
            ).format(count=len(proofs.trustees), trustees=manifest.trustees)
        )
    for entry in proofs.trustees[: manifest.trustees]:
        trustee = entry.trustee
        found = entry.parameters.problems(election_id, trustee, manifest.key_bits)
        problems += [
            _("trustee {trustee}: {problem}").format(trustee=trustee, problem=problem)
            for problem in found
        ]
        if found:  # a proof against parameters that are not the trustee's proves nothing
            continue
        try:
            verify_no_small_factor(
                n,
                entry.parameters.ring_pedersen,
                entry.no_small_factor_proof,
                no_small_factor_context(election_id, trustee),
            )
        except ProofInvalid as exc:
            problems.append(
                _("trustee {trustee}: the no-small-factor proof does not verify: {problem}")
                .format(trustee=trustee, problem=exc.problem)
            )
    return problems
