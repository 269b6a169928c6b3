"""The key ceremony: deal the threshold key, seal one share per trustee, sign the manifest.

Runs on the offline ceremony machine. The dealer's secrets (p, q, d, the polynomial) live in
this call's memory only (p and q also make the public proofs that the key is well formed: the
modulus proof, and a no-small-factor proof against each trustee's parameters, which the
trustees made before, ceremonies.trustee_params); each share leaves this module sealed under
its trustee's passphrase. Order of writes: shares,
the key-proofs document, then manifest.json with the key (and the proofs' hash), then the
signed manifest; the signed manifest's presence marks a finished ceremony.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from canonical.encoding import DOMAINS, canonical_bytes, parse_hex_int
from canonical.files import write_atomic, write_canonical_json
from ceremonies.election import CeremonyError
from crypto.keyproofs import prove_modulus, prove_no_small_factor
from crypto.sealing import DEFAULT_SCRYPT_N, write_sealed
from crypto.threshold import deal, generate_primes
from formats.keyproofs import (
    KeyProofs,
    TrusteeKeyProof,
    TrusteeParameters,
    modulus_proof_context,
    no_small_factor_context,
)
from formats.manifest import TRUSTEE_SHARE_PURPOSE, ElectionDirectory, Manifest
from i18n import _
from ivote.cli_support import MIN_PASSPHRASE_LENGTH


def load_test_primes(path: str | Path, key_bits: int) -> tuple[int, int]:
    """Fixed safe primes for tests and demos: {"p": hex, "q": hex}, or the fixture file's
    {bits: {"p", "q"}} from which the manifest's size is taken. n must have key_bits bits."""
    source = str(path)
    try:
        raw = json.loads(Path(path).read_text())
    except OSError as exc:
        raise CeremonyError(f"{source}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise CeremonyError(f"{source}: not JSON ({exc.msg} at line {exc.lineno})") from exc
    if isinstance(raw, dict) and "p" not in raw:
        if str(key_bits) not in raw:
            sizes = ", ".join(sorted(raw)) or "none"
            raise CeremonyError(
                _("{source}: no test primes for key_bits {bits} (it has {sizes})").format(
                    source=source, bits=key_bits, sizes=sizes
                )
            )
        raw = raw[str(key_bits)]
    if not isinstance(raw, dict):
        raise CeremonyError(f"{source}: expected an object with p and q")
    p = parse_hex_int(raw.get("p"), f"{source}: p")
    q = parse_hex_int(raw.get("q"), f"{source}: q")
    if (p * q).bit_length() != key_bits:
        raise CeremonyError(
            _("{source}: p*q has {bits} bits, the manifest's key_bits is {key_bits}").format(
                source=source, bits=(p * q).bit_length(), key_bits=key_bits
            )
        )
    return p, q


def check_passphrases(passphrases: Sequence[str], trustees: int) -> None:
    if len(passphrases) != trustees:
        raise CeremonyError(
            _("{count} passphrases for {trustees} trustees").format(
                count=len(passphrases), trustees=trustees
            )
        )
    for index, passphrase in enumerate(passphrases, start=1):
        if len(passphrase) < MIN_PASSPHRASE_LENGTH:
            raise CeremonyError(
                _("trustee {index}: the passphrase must have at least {minimum} characters")
                .format(index=index, minimum=MIN_PASSPHRASE_LENGTH)
            )


def check_ready(election: ElectionDirectory) -> Manifest:
    """The draft manifest, if this election can have its key ceremony; refuses otherwise."""
    manifest = election.read_manifest()
    if not manifest.is_draft or election.signed_manifest.exists():
        raise CeremonyError(
            _("{election} already has an election key; refusing to run the ceremony again")
            .format(election=election.root)
        )
    leftovers = sorted(election.trustees.glob("trustee-*.share"))
    if leftovers:
        raise CeremonyError(
            _(
                "{path} already holds share files ({first}...) from an interrupted ceremony; "
                "move them away to start over"
            ).format(path=election.trustees, first=leftovers[0].name)
        )
    return manifest


def run_keygen(
    election_dir: str | Path,
    passphrases: Sequence[str],
    signer: Any,
    *,
    test_primes: tuple[int, int] | None = None,
    progress: Callable[[int], None] | None = None,
    stage: Callable[[str], None] | None = None,
    scrypt_cost: int = DEFAULT_SCRYPT_N,
    trustee_parameters: Sequence[TrusteeParameters] | None = None,
) -> Manifest:
    """The whole ceremony; returns the final manifest (written and signed).

    `progress(candidates_tested)` follows the prime search; `stage(text)` names each step.
    `trustee_parameters`: every trustee's, as `read_trustee_parameters` returned them
    (checked); read and checked here when not given."""
    from ceremonies.trustee_params import read_trustee_parameters
    from formats.signed import sign_object

    election = ElectionDirectory(election_dir)
    manifest = check_ready(election)
    check_passphrases(passphrases, manifest.trustees)
    if trustee_parameters is None:
        trustee_parameters = read_trustee_parameters(election, manifest)
    if [document.trustee for document in trustee_parameters] != list(
        range(1, manifest.trustees + 1)
    ):
        raise CeremonyError(_("every trustee's parameters are needed, once each, in order"))
    if test_primes is not None:
        p, q = test_primes
    else:
        p, q = generate_primes(manifest.key_bits, manifest.trustees, manifest.threshold, progress)
    key, shares = deal(p, q, manifest.trustees, manifest.threshold)
    if stage is not None:
        stage(
            _(
                "Proving the election key well formed (modulus; no small factor, against "
                "{count} trustees' parameters)"
            ).format(count=len(trustee_parameters))
        )
    election_id = manifest.election_id
    proofs = KeyProofs(
        election_id,
        prove_modulus(p, q, modulus_proof_context(election_id)),
        tuple(
            TrusteeKeyProof(
                document,
                prove_no_small_factor(
                    p,
                    q,
                    document.ring_pedersen,
                    no_small_factor_context(election_id, document.trustee),
                ),
            )
            for document in trustee_parameters
        ),
    )
    del p, q  # the shares hold what the trustees need; the factors are not kept
    keyed = manifest.with_key(
        key.to_dict(), test_key=test_primes is not None, key_proofs=proofs.hash
    )
    signed = sign_object(signer, DOMAINS["manifest"], keyed.to_dict())
    if stage is not None:
        stage(_("Sealing {count} share files").format(count=len(shares)))
    for share, passphrase in zip(shares, passphrases, strict=True):
        write_sealed(
            election.share(share.index),
            canonical_bytes(share.to_dict()),
            passphrase,
            TRUSTEE_SHARE_PURPOSE,
            cost=scrypt_cost,
        )
    # the proofs before the manifest that names them: a finished manifest never lacks them
    write_canonical_json(election.key_proofs, proofs.to_dict())
    write_canonical_json(election.manifest, keyed.to_dict())
    write_atomic(election.organiser_certificate, _pem(signer.certificate))
    write_canonical_json(election.signed_manifest, signed)
    return keyed


def _pem(certificate: Any) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return certificate.public_bytes(Encoding.PEM)
