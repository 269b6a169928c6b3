"""Combining the trustees' decryption shares into the election record (`ivote tally combine`).

Every share's proof is checked against the verification keys of the manifest's key; a trustee
with any bad, missing or foreign share is named and left out; any t valid trustees decrypt.
The full private key is never rebuilt: each total is decrypted from its own shares. A
national contest's results are per district, like every contest's; the record adds their
national totals (formats.record.national_totals).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from canonical.encoding import DOMAINS, FormatError
from crypto.encoding import decode_totals
from crypto.errors import CryptoError, DecryptionError, InvalidInput, ProofInvalid
from crypto.threshold import DecryptionShare, ThresholdKey, combine, verify_decryption_share
from formats.manifest import Manifest
from formats.record import (
    ContestResult,
    Decryption,
    ElectionRecord,
    Tally,
    TallyReport,
    TrusteeShares,
    national_totals,
)
from formats.signed import open_signed
from i18n import _


class CombineError(Exception):
    """The shares given cannot decrypt the tally; the message names every bad trustee."""


@dataclass(frozen=True)
class Combined:
    record: ElectionRecord
    manifest: Manifest
    used: tuple[int, ...]  # trustees whose shares decrypted
    rejected: dict[int, str]  # trustee -> why their shares were left out


def tally_manifest(tally: Tally) -> Manifest:
    """The manifest the tally was made under (its signature checked again)."""
    payload, _, _ = open_signed(tally.manifest, DOMAINS["manifest"], where="tally.manifest")
    return Manifest.from_dict(payload)


def check_trustee(
    key: ThresholdKey, manifest: Manifest, tally: Tally, shares: TrusteeShares
) -> list[DecryptionShare]:
    """One trustee's shares, every proof verified; raises ProofInvalid naming the trustee."""
    name = f"trustee {shares.trustee}"
    if not 1 <= shares.trustee <= key.trustees:
        raise ProofInvalid(name, f"not a trustee of this key (1..{key.trustees})")
    if shares.tally_hash != tally.hash:
        raise ProofInvalid(name, "the shares are for another tally")
    if len(shares.shares) != len(tally.totals):
        raise ProofInvalid(
            name, f"{len(shares.shares)} shares for {len(tally.totals)} encrypted totals"
        )
    checked = []
    for total, raw in zip(tally.totals, shares.shares, strict=True):
        try:
            share = DecryptionShare.from_dict(raw, key, f"share of {total.label}")
        except (InvalidInput, FormatError) as exc:
            raise ProofInvalid(name, str(exc)) from exc
        if share.index != shares.trustee:
            raise ProofInvalid(name, f"the share of {total.label} is trustee {share.index}'s")
        context = manifest.proof_context(total.district, total.contest, total.part)
        try:
            verify_decryption_share(key, total.ciphertext, share, context)
        except ProofInvalid as exc:
            raise ProofInvalid(name, f"share of {total.label}: {exc.problem}") from exc
        checked.append(share)
    return checked


def combine_tally(
    tally: Tally,
    trustees: Sequence[TrusteeShares],
    advance: Callable[[int], None] = lambda _: None,
) -> Combined:
    manifest = tally_manifest(tally)
    key = manifest.threshold_key
    valid: dict[int, list[DecryptionShare]] = {}
    valid_files: dict[int, TrusteeShares] = {}
    rejected: dict[int, str] = {}
    for shares in trustees:
        if shares.trustee in valid or shares.trustee in rejected:
            rejected[shares.trustee] = f"trustee {shares.trustee}: shares given twice"
            valid.pop(shares.trustee, None)
            valid_files.pop(shares.trustee, None)
            continue
        try:
            valid[shares.trustee] = check_trustee(key, manifest, tally, shares)
            valid_files[shares.trustee] = shares
        except ProofInvalid as exc:
            rejected[shares.trustee] = str(exc)
        advance(1)
    if len(valid) < key.threshold:
        reasons = "; ".join(rejected[i] for i in sorted(rejected))
        message = _("need valid shares from {threshold} trustees, have {valid}").format(
            threshold=key.threshold, valid=len(valid)
        )
        if valid:
            message += " " + _("(from trustees {trustees})").format(
                trustees=", ".join(map(str, sorted(valid)))
            )
        if reasons:
            message += "; " + _("rejected: {reasons}").format(reasons=reasons)
        raise CombineError(message)
    used = tuple(sorted(valid)[: key.threshold])
    plaintexts = []
    for position, total in enumerate(tally.totals):
        context = manifest.proof_context(total.district, total.contest, total.part)
        shares = [valid[i][position] for i in used]
        try:
            plaintexts.append(combine(key, total.ciphertext, shares, context).plaintext)
        except CryptoError as exc:
            raise CombineError(f"encrypted total {total.label}: {exc}") from exc
    by_label = {
        (t.district, t.contest, t.part): p for t, p in zip(tally.totals, plaintexts, strict=True)
    }
    results = []
    for district, contest in manifest.contests():
        enc = manifest.contest_encoding(district.id, contest.id)
        parts = [by_label[(district.id, contest.id, part)] for part in range(enc.parts)]
        try:
            counts = decode_totals(enc, parts, manifest.max_voters)
        except DecryptionError as exc:
            raise CombineError(f"{district.id}/{contest.id}: {exc}") from exc
        results.append(ContestResult(district.id, contest.id, tuple(counts)))
    decryption = Decryption(
        tuple(valid_files[i] for i in sorted(valid_files)),
        tuple(plaintexts),
        tuple(results),
        national_totals(manifest, results, TallyReport.from_dict(tally.report)),
    )
    return Combined(ElectionRecord(tally, decryption), manifest, used, rejected)
