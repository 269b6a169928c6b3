"""The auditors' verification: re-do the cleansing from the signed inputs and compare.

docs/spec.md, "Verifier checks" (ballot-box, paper-voters, crls, cleansing, counted-totals,
counted-ballots). An auditor (or a trustee before decrypting) holds the collector-signed
ballot box, the organiser-signed paper-voter list and the CRLs; the record names each by hash.
The cleansing is formats.cleansing's (the rule has one home), run here on those inputs, never
on anything the tallier computed; then the record's report, its encrypted totals and the
observers' bundle are compared with what it gives, and every difference is named (log index,
district, reason).
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509

from canonical.encoding import FormatError, b64url
from canonical.files import read_json_file
from crypto.errors import CryptoError
from formats.cleansing import (
    Cleansing,
    ProgressFactory,
    cleanse_ballot_box,
    encrypted_totals,
)
from formats.manifest import Manifest
from formats.paper import SignedPaperVoters, open_paper_voters
from formats.record import COUNT_FIELDS, Counts, Tally, TallyReport, read_crls_next_to
from formats.voters import VoterList
from i18n import _

AUDIT_CHECKS = ("ballot-box", "paper-voters", "crls", "cleansing", "counted-totals")


@dataclass(frozen=True)
class AuditMaterial:
    """What an auditor brings: the ballot box file, the signed paper-voter list (parsed
    JSON) and the CRLs (file bytes; those kept next to the record by default)."""

    ballot_box: str | os.PathLike[str]
    paper_voters: Any
    crls: Sequence[bytes]


def read_audit_material(
    ballot_box: os.PathLike[str],
    paper_voters: os.PathLike[str],
    crl_paths: Sequence[os.PathLike[str]],
    next_to: os.PathLike[str],
) -> AuditMaterial:
    """The auditors' material from files: the CRLs named, else those kept in crls/ next to
    the tally or record `next_to`. FormatError or OSError name a file that cannot be read."""
    crls = [Path(path).read_bytes() for path in crl_paths] or read_crls_next_to(next_to)
    return AuditMaterial(ballot_box, read_json_file(paper_voters, "paper_voters"), crls)


class _PaperRefused(Exception):
    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


class Outcomes(Protocol):
    """Where the audit's outcomes go (verifier.record's run)."""

    def outcome(self, check_id: str, problems: Sequence[str], detail: str) -> bool: ...

    def not_made(self, check_id: str, why: str) -> None: ...


def run_audit(
    r: Outcomes,
    tally: Tally,
    manifest: Manifest,
    organiser: x509.Certificate | None,
    material: AuditMaterial,
    workers: int,
    progress: ProgressFactory,
) -> Counter[bytes] | None:
    """The audit checks; returns the multiset of SHA-256 digests of the counted ballots'
    canonical bytes (AnonymousBallot documents) when the cleansing ran, for the bundle
    comparison (counted-ballots), else None."""
    inputs = tally.inputs
    crl_digests = sorted({hashlib.sha256(crl).digest() for crl in material.crls})
    if not material.crls:
        r.not_made(
            "crls", _("needs the CRLs the tally used (crls/ next to the record, or --crl)")
        )
        for check_id in ("ballot-box", "paper-voters", "cleansing", "counted-totals"):
            r.not_made(check_id, _("the cleansing needs the CRLs (not given)"))
        return None
    r.outcome(
        "crls",
        []
        if crl_digests == list(inputs.crls)
        else [
            _("the CRLs given hash to {given}, the record names {named}").format(
                given=[b64url(d)[:12] for d in crl_digests],
                named=[b64url(d)[:12] for d in inputs.crls],
            )
        ],
        _("CRL files: {count}").format(count=len(crl_digests)),
    )
    if organiser is None:
        r.not_made("paper-voters", _("needs the organiser's certificate (a signed manifest)"))
        for check_id in ("ballot-box", "cleansing", "counted-totals"):
            r.not_made(check_id, _("the cleansing needs the signed paper-voter list"))
        return None
    opened: dict[str, SignedPaperVoters] = {}

    def paper_for(voter_list: VoterList) -> tuple[str, ...]:
        try:
            paper = open_paper_voters(material.paper_voters, manifest, organiser, voter_list)
        except (FormatError, CryptoError) as exc:
            raise _PaperRefused(str(exc)) from exc
        opened["paper"] = paper
        return paper.personal_codes

    try:
        cleansing = cleanse_ballot_box(
            manifest, material.ballot_box, paper_for, material.crls, workers=workers,
            progress=progress,
        )  # fmt: skip
    except _PaperRefused as exc:
        r.outcome("paper-voters", [exc.problem], "")
        r.not_made("cleansing", _("needs a paper-voter list signed by the organiser"))
        r.not_made("counted-totals", _("needs the cleansing"))
        # the box itself opened (its voter lists were read): its own checks were not all made
        r.not_made("ballot-box", _("the cleansing stopped at the paper-voter list"))
        return None
    except (FormatError, CryptoError, OSError) as exc:
        r.outcome(
            "ballot-box", [_("the ballot box does not check: {problem}").format(problem=exc)], ""
        )
        if "paper" in opened:
            _check_paper(r, opened["paper"], tally)
        else:
            r.not_made("paper-voters", _("needs a readable ballot box (its voter list)"))
        r.not_made("cleansing", _("needs a ballot box that checks"))
        r.not_made("counted-totals", _("needs the cleansing"))
        return None
    _check_box(r, cleansing, tally)
    _check_paper(r, opened["paper"], tally)
    _check_cleansing(r, cleansing.decision.report, TallyReport.from_dict(tally.report))
    _check_totals(r, manifest, cleansing, tally)
    return Counter(
        hashlib.sha256(c.ballot.document.data).digest()
        for c in cleansing.decision.counted
        if c.ballot is not None
    )


def _check_box(r: Outcomes, cleansing: Cleansing, tally: Tally) -> None:
    inputs = tally.inputs
    problems = []
    if cleansing.box_hash != inputs.ballot_box:
        problems.append(
            _("the ballot box's signed index hashes to {found}, the record names {named}").format(
                found=b64url(cleansing.box_hash), named=b64url(inputs.ballot_box)
            )
        )
    if cleansing.log.head != tally.log.head:
        problems.append(_("the box's final signed log head is not the record's"))
    if cleansing.log.leaves != tally.log.leaves:
        differing = next(
            (
                i
                for i, (a, b) in enumerate(
                    zip(cleansing.log.leaves, tally.log.leaves, strict=False)
                )
                if a != b
            ),
            min(len(cleansing.log.leaves), len(tally.log.leaves)),
        )
        problems.append(
            _(
                "the box's log differs from the record's leaf hashes from log index {index} "
                "({box} leaves in the box, {record} in the record)"
            ).format(index=differing, box=len(cleansing.log.leaves), record=len(tally.log.leaves))
        )
    voter_list = cleansing.voter_list
    if (voter_list.list_version, voter_list.hash) != (
        inputs.voter_list_version,
        inputs.voter_list_hash,
    ):
        problems.append(
            _(
                "the box's newest voter list is version {found}, the record names version "
                "{named} (or another hash)"
            ).format(found=voter_list.list_version, named=inputs.voter_list_version)
        )
    r.outcome(
        "ballot-box",
        problems,
        _("signed by the collector, {ballots} ballots, voter list version {version}").format(
            ballots=len(cleansing.log.leaves), version=voter_list.list_version
        ),
    )


def _check_paper(r: Outcomes, paper: SignedPaperVoters, tally: Tally) -> None:
    inputs = tally.inputs
    problems = []
    if paper.hash != inputs.paper_voters:
        problems.append(
            _("the signed paper-voter list hashes to {found}, the record names {named}").format(
                found=b64url(paper.hash), named=b64url(inputs.paper_voters)
            )
        )
    if len(paper.personal_codes) != inputs.paper_voters_count:
        problems.append(
            _("the list has {count} voters, the record says {named}").format(
                count=len(paper.personal_codes), named=inputs.paper_voters_count
            )
        )
    r.outcome(
        "paper-voters",
        problems,
        _("signed by the organiser; voters who voted on paper: {count}").format(
            count=len(paper.personal_codes)
        ),
    )


def _check_cleansing(r: Outcomes, mine: TallyReport, recorded: TallyReport) -> None:
    """The record's report against the one the cleansing gives: counts per district and every
    invalid ballot (log index, district, reason)."""
    problems: list[str] = []
    for district in sorted(set(mine.districts) | set(recorded.districts)):
        ours = mine.districts.get(district, Counts())
        theirs = recorded.districts.get(district, Counts())
        for name in COUNT_FIELDS:
            if getattr(ours, name) != getattr(theirs, name):
                problems.append(
                    _(
                        "district {district}: {count} is {recorded} in the record, {ours} by the "
                        "cleansing"
                    ).format(
                        district=district,
                        count=name.replace("_", " "),
                        recorded=getattr(theirs, name),
                        ours=getattr(ours, name),
                    )
                )
    ours_invalid = {b.log_index: b for b in mine.invalid_ballots}
    theirs_invalid: Mapping[int, Any] = {b.log_index: b for b in recorded.invalid_ballots}
    for index in sorted(set(ours_invalid) | set(theirs_invalid)):
        ours_b, theirs_b = ours_invalid.get(index), theirs_invalid.get(index)
        if theirs_b is None:
            assert ours_b is not None
            problems.append(
                _(
                    "log index {index}: invalid ({reason}) by the cleansing, not listed as "
                    "invalid in the record"
                ).format(index=index, reason=ours_b.reason)
            )
        elif ours_b is None:
            problems.append(
                _(
                    "log index {index}: the record lists it as invalid ({reason}), the "
                    "cleansing finds it valid"
                ).format(index=index, reason=theirs_b.reason)
            )
        elif (ours_b.district, ours_b.reason) != (theirs_b.district, theirs_b.reason):
            problems.append(
                _(
                    "log index {index}: the record says {reason} in {district}, the cleansing "
                    "{our_reason} in {our_district}"
                ).format(
                    index=index,
                    reason=theirs_b.reason,
                    district=theirs_b.district,
                    our_reason=ours_b.reason,
                    our_district=ours_b.district,
                )
            )
    total = mine.total
    r.outcome(
        "cleansing",
        problems,
        _(
            "{received} ballots: {counted} counted, {superseded} superseded, "
            "{cancelled_by_paper} cancelled by paper, {invalid} invalid"
        ).format(**total.to_dict()),
    )


def _check_totals(r: Outcomes, manifest: Manifest, cleansing: Cleansing, tally: Tally) -> None:
    expected = {
        (t.district, t.contest, t.part): t.ciphertext
        for t in encrypted_totals(manifest, cleansing.decision.counted)
    }
    recorded = {(t.district, t.contest, t.part): t.ciphertext for t in tally.totals}
    problems = [
        _("encrypted total {label} is not the product of the box's counted ballots").format(
            label="/".join(map(str, label))
        )
        for label in sorted(set(expected) | set(recorded))
        if expected.get(label) != recorded.get(label)
    ]
    r.outcome(
        "counted-totals",
        problems,
        _("{totals} totals are the products of {ballots} counted ballots").format(
            totals=len(expected), ballots=len(cleansing.decision.counted)
        ),
    )
