"""The verifier's checks of an election record (or of a tally, before its decryption).

Independent of the code that produced the record: this package imports canonical/, crypto/
and formats/ only, never the tallier's (tallier/process.py, tallier/combine.py). Each check
is listed, with exactly what it compares, in docs/spec.md, "Verifier checks"; the ids below
are the ones the spec uses.

The verifier takes whatever it is given: the public record; the observers' bundle; for
auditors (and the trustees' decryption ceremony) the signed ballot box, the signed
paper-voter list and the CRLs, with which verifier/audit.py re-does the cleansing. It says
which checks it made and which needed material it was not given.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from canonical.encoding import DOMAINS, FormatError, b64url, canonical_bytes, object_hash
from crypto import merkle, paillier
from crypto.encoding import ContestEncoding, decode_totals
from crypto.errors import CryptoError, DecryptionError, InvalidInput, ProofInvalid
from crypto.keyproofs import MODULUS_PROOF_ROUNDS
from crypto.membership import BATCH_CHUNK, EncryptedContest, batch_verify, contest_totals
from crypto.primitives.modular import mpz
from crypto.threshold import (
    DecryptionShare,
    ThresholdKey,
    combine_verified,
    verify_decryption_share,
)
from formats.ballot import Ballot, ballot_statements
from formats.cleansing import ProgressFactory, no_progress
from formats.keyproofs import key_proofs_problems
from formats.manifest import Manifest
from formats.receipt import (
    LogHead,
    ReceiptContradicted,
    check_receipt_in_log,
    open_by_collector,
)
from formats.record import (
    COUNT_FIELDS,
    TALLY_KIND,
    UNASSIGNED,
    AnonymousBallot,
    ContestResult,
    Counts,
    Decryption,
    ElectionRecord,
    NationalResult,
    ObserversBundle,
    Tally,
    TallyReport,
    national_totals,
)
from formats.signed import open_signed
from i18n import N_, _, ngettext
from verifier.audit import AUDIT_CHECKS, AuditMaterial, run_audit

PASS, FAIL, NOT_MADE = "pass", "fail", "not made"
# Ballots per task handed to a worker: each task is one batch (one n-bit exponentiation).
BALLOTS_PER_TASK = BATCH_CHUNK  # at most
MAX_PROBLEMS_LISTED = 20

# (check id, title) in the order they run and print.
CHECKS = (
    ("record", N_("record format")),
    ("manifest", N_("signed manifest and election key")),
    ("key-proofs", N_("election key proven well formed (modulus, no small factor)")),
    ("manifest-anchor", N_("manifest is the one the officials published")),
    ("log-head", N_("collector's signed log head")),
    ("log-leaves", N_("leaf hashes rebuild the signed log head")),
    ("receipts", N_("voters' receipts are in the final log")),
    ("report", N_("tally report counts add up")),
    ("totals", N_("encrypted totals: one per district, contest and part, each valid")),
    ("crls", N_("the CRLs are the ones the record names")),
    ("ballot-box", N_("the ballot box is the collector-signed one the record names")),
    ("paper-voters", N_("the paper-voter list is the organiser-signed one the record names")),
    ("cleansing", N_("the cleansing re-done from the box gives the record's report")),
    ("counted-totals", N_("encrypted totals are the products of the box's counted ballots")),
    ("bundle", N_("observers' bundle matches the record")),
    ("ballots", N_("counted ballots are well formed for their district")),
    ("ballot-proofs", N_("every ballot validity proof verifies")),
    ("duplicates", N_("no ciphertext appears twice")),
    ("totals-products", N_("encrypted totals are the products of the counted ballots")),
    ("counted-ballots", N_("the bundle holds exactly the box's counted ballots")),
    ("shares", N_("every decryption share proof verifies against the verification keys")),
    ("threshold", N_("at least t trustees' valid shares")),
    ("plaintexts", N_("plaintexts are the combination of the decryption shares")),
    ("results", N_("results decode from the plaintexts")),
    ("results-report", N_("each contest's votes fit the district's counted ballots")),
    ("national-results", N_("national totals are the sums of the districts' results")),
)
TITLES = dict(CHECKS)
# The checks of the decryption, made only on a record (not on a tally).
DECRYPTION_CHECKS = (
    "shares", "threshold", "plaintexts", "results", "results-report", "national-results",
)  # fmt: skip
# What trustees need before decrypting a tally (ceremonies/decrypt_cli.py): every check but
# those that need the decryption itself, and the voters' receipts, which trustees do not hold.
AFTER_DECRYPTION = frozenset(DECRYPTION_CHECKS)
NOT_FOR_TRUSTEES = AFTER_DECRYPTION | {"receipts"}


@dataclass
class Check:
    id: str
    title: str
    status: str
    detail: str = ""
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "problems": self.problems,
        }


@dataclass(frozen=True)
class Facts:
    """What the verification read, for showing the results and the fingerprints: each set
    only as far as it could be read (its checks say whether it is genuine)."""

    tally: Tally | None = None
    decryption: Decryption | None = None
    manifest: Manifest | None = None
    manifest_signer: x509.Certificate | None = None
    final_head: LogHead | None = None  # set only when signed by a collector and rebuilt
    report: TallyReport | None = None
    record_hash: bytes | None = None  # H(record or tally object), as read


@dataclass
class Verdict:
    checks: list[Check]
    facts: Facts = field(default_factory=Facts)

    @property
    def ok(self) -> bool:
        return all(check.status == PASS for check in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == FAIL]

    @property
    def not_made(self) -> list[Check]:
        return [c for c in self.checks if c.status == NOT_MADE]

    def check(self, check_id: str) -> Check:
        for check in self.checks:
            if check.id == check_id:
                return check
        raise KeyError(check_id)

    def blocking_decryption(self) -> list[Check]:
        """The checks that refuse a trustee's decryption: failed, or not made, among those
        a tally must pass first."""
        return [c for c in self.checks if c.id not in NOT_FOR_TRUSTEES and c.status != PASS]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "passed": sum(c.status == PASS for c in self.checks),
            "failed": len(self.failed),
            "not_made": len(self.not_made),
            "checks": [c.to_dict() for c in self.checks],
        }


class _Run:
    """One verification: collects the checks in order."""

    def __init__(self) -> None:
        self.results: dict[str, Check] = {}

    def passed(self, check_id: str, detail: str) -> None:
        self.results[check_id] = Check(check_id, TITLES[check_id], PASS, detail)

    def failed(self, check_id: str, problems: Sequence[str], detail: str = "") -> None:
        listed = list(problems[:MAX_PROBLEMS_LISTED])
        if len(problems) > MAX_PROBLEMS_LISTED:
            listed.append(
                _("... and {count} more").format(count=len(problems) - MAX_PROBLEMS_LISTED)
            )
        self.results[check_id] = Check(check_id, TITLES[check_id], FAIL, detail, listed)

    def outcome(self, check_id: str, problems: Sequence[str], detail: str) -> bool:
        if problems:
            self.failed(check_id, problems, detail)
            return False
        self.passed(check_id, detail)
        return True

    def not_made(self, check_id: str, why: str) -> None:
        self.results.setdefault(check_id, Check(check_id, TITLES[check_id], NOT_MADE, why))

    def verdict(self, facts: Facts | None = None) -> Verdict:
        return Verdict(
            [self.results.get(i) or Check(i, t, NOT_MADE, "") for i, t in CHECKS],
            facts or Facts(),
        )


def verify_record(
    record: Any,
    bundle: Any | None = None,
    *,
    workers: int | None = None,
    expected_fingerprint: str | None = None,
    organiser_certificate: x509.Certificate | None = None,
    audit: AuditMaterial | None = None,
    receipts: Sequence[tuple[str, Any]] | None = None,
    allow_test_key: bool = False,
    progress: ProgressFactory = no_progress,
) -> Verdict:
    """Run every check on a record document (parsed JSON) and, when given, the observers'
    bundle document and the auditors' material (ballot box, signed paper-voter list, CRLs).
    `receipts` are (name, signed receipt document) pairs that voters handed to observers.
    A test election (formats.manifest.Manifest.test_election) fails the manifest check unless
    `allow_test_key`.
    Never raises for bad material: every problem is a failed check."""
    run = _Run()
    is_tally = isinstance(record, Mapping) and record.get("kind") == TALLY_KIND
    try:
        if is_tally:
            parsed: ElectionRecord | Tally = Tally.from_dict(record)
        else:
            parsed = ElectionRecord.from_dict(record)
    except (FormatError, InvalidInput) as exc:
        run.failed("record", [_("the record is malformed: {problem}").format(problem=exc)])
        for check_id, _title in CHECKS:
            run.not_made(check_id, _("the record could not be read"))
        return run.verdict()
    tally = parsed if isinstance(parsed, Tally) else parsed.tally
    decryption = None if isinstance(parsed, Tally) else parsed.decryption
    run.passed(
        "record",
        (
            _("a tally (not decrypted yet): {totals} encrypted totals, {leaves} log leaves")
            if decryption is None
            else _("{totals} encrypted totals, {leaves} log leaves, {trustees} trustees' shares")
        ).format(
            totals=len(tally.totals),
            leaves=len(tally.log.leaves),
            trustees=len(decryption.trustees) if decryption else 0,
        ),
    )
    verifier = _Verifier(
        run,
        tally,
        decryption,
        workers,
        expected_fingerprint,
        organiser_certificate,
        progress,
        allow_test_key,
    )
    verifier.run(bundle, audit, receipts)
    return run.verdict(
        Facts(
            tally,
            decryption,
            verifier.manifest,
            verifier.manifest_signer,
            verifier.final_head,
            verifier.report,
            _document_hash(record),
        )
    )


class _Verifier:
    def __init__(
        self,
        run: _Run,
        tally: Tally,
        decryption: Decryption | None,
        workers: int | None,
        expected_fingerprint: str | None,
        organiser_certificate: x509.Certificate | None,
        progress: ProgressFactory,
        allow_test_key: bool = False,
    ) -> None:
        self.r = run
        self.tally = tally
        self.decryption = decryption
        self.workers = workers or os.cpu_count() or 1
        self.expected_fingerprint = expected_fingerprint
        self.organiser_certificate = organiser_certificate
        self.progress = progress
        self.manifest: Manifest | None = None
        self.key: ThresholdKey | None = None
        self.report: TallyReport | None = None
        self.totals_ok = False
        self.manifest_signer: x509.Certificate | None = None
        self.final_head: LogHead | None = None  # set by check_log when it verifies
        self.subtree: merkle.SubtreeRoot | None = None
        self.allow_test_key = allow_test_key
        # the counted ballots the audit found (digests of their canonical bytes), if it ran
        self.counted_digests: Counter[bytes] | None = None

    # ----------------------------------------------------------------------------------

    def run(
        self,
        bundle_doc: Any | None,
        audit: AuditMaterial | None,
        receipts: Sequence[tuple[str, Any]] | None,
    ) -> None:
        self.check_manifest()
        self.check_log()
        self.check_receipts(receipts)
        self.check_report()
        self.check_totals()
        self.check_audit(audit)
        if bundle_doc is None or self.counted_digests is None:
            self.r.not_made(
                "counted-ballots",
                _(
                    "needs the observers' bundle and the auditors' material (--ballot-box, "
                    "--paper-voters)"
                ),
            )
        if bundle_doc is None:
            for check_id in ("bundle", "ballots", "ballot-proofs", "duplicates", "totals-products"):
                self.r.not_made(check_id, _("needs the observers' bundle (not given)"))
        elif self.manifest is None or self.key is None:
            for check_id in ("bundle", "ballots", "ballot-proofs", "duplicates", "totals-products"):
                self.r.not_made(check_id, _("needs a readable manifest with its key"))
        else:
            # the decryption checks run here while worker processes check the ballots
            self.check_bundle(bundle_doc, meanwhile=self.check_decryption)
            return
        self.check_decryption()

    # ---------------------------------------------------------------- manifest and log

    def check_audit(self, audit: AuditMaterial | None) -> None:
        if audit is None:
            for check_id in AUDIT_CHECKS:
                self.r.not_made(
                    check_id,
                    _(
                        "auditors' check: needs the ballot box and the signed paper-voter "
                        "list (--ballot-box, --paper-voters)"
                    ),
                )
            return
        if self.manifest is None or self.key is None:
            for check_id in AUDIT_CHECKS:
                self.r.not_made(check_id, _("needs a readable manifest with its key"))
            return
        self.counted_digests = run_audit(
            self.r,
            self.tally,
            self.manifest,
            self.manifest_signer,
            audit,
            self.workers,
            self.progress,
        )

    def check_manifest(self) -> None:
        manifest, certificate, problems = open_manifest(self.tally.manifest)
        self.manifest_signer = certificate if not problems else None
        if manifest is None:
            self.r.failed("manifest", problems)
            self.r.not_made("key-proofs", _("needs a valid signed manifest with its key"))
            self.r.not_made("manifest-anchor", _("needs a readable manifest"))
            return
        key: ThresholdKey | None = None
        try:
            key = manifest.threshold_key
        except FormatError as exc:
            problems.append(_("election key: {problem}").format(problem=exc))
        self.manifest = manifest
        self.key = key
        if manifest.test_election is not None:
            try:
                manifest.refuse_test_key(self.allow_test_key)
            except FormatError as exc:
                problems.append(exc.problem)
        signer = _certificate_line(certificate) if certificate is not None else _("nobody")
        detail = _("election {election}, signed by {signer}, {districts} districts").format(
            election=manifest.election_id, signer=signer, districts=len(manifest.districts)
        )
        if key:
            detail += _(", {bits}-bit key, {threshold} of {trustees} trustees").format(
                bits=key.bits, threshold=key.threshold, trustees=key.trustees
            )
        if manifest.test_election:
            detail += _("; a TEST election: {why}").format(why=manifest.test_election)
        manifest_ok = self.r.outcome("manifest", problems, detail)
        self.check_key_proofs(manifest, manifest_ok and key is not None)
        self.check_anchor(manifest, certificate)

    def check_key_proofs(self, manifest: Manifest, manifest_ok: bool) -> None:
        if not manifest_ok:
            self.r.not_made("key-proofs", _("needs a valid signed manifest with its key"))
            return
        self.r.outcome(
            "key-proofs",
            key_proofs_problems(self.tally.key_proofs, manifest),
            _(
                "modulus proof ({rounds} rounds); each of {trustees} trustees' parameters and "
                "the no-small-factor proof against them; under the manifest's key_proofs hash"
            ).format(rounds=MODULUS_PROOF_ROUNDS, trustees=manifest.trustees),
        )

    def check_anchor(self, manifest: Manifest, certificate: x509.Certificate | None) -> None:
        if self.expected_fingerprint is None and self.organiser_certificate is None:
            self.r.not_made(
                "manifest-anchor",
                _(
                    "fingerprint {fingerprint}: compare it with the one the officials "
                    "published, or pass --fingerprint / --organiser-cert"
                ).format(fingerprint=manifest.fingerprint),
            )
            return
        problems = []
        if self.expected_fingerprint is not None:
            expected = "".join(self.expected_fingerprint.split()).lower()
            if manifest.fingerprint != expected:
                problems.append(
                    _("manifest fingerprint {found} is not the published {expected}").format(
                        found=manifest.fingerprint, expected=expected
                    )
                )
        if self.organiser_certificate is not None:
            pinned = self.organiser_certificate.fingerprint(hashes.SHA256())
            if certificate is None or certificate.fingerprint(hashes.SHA256()) != pinned:
                problems.append(
                    _("manifest is not signed by the pinned organiser certificate {certificate}")
                    .format(certificate=_certificate_line(self.organiser_certificate))
                )
        self.r.outcome(
            "manifest-anchor",
            problems,
            _("fingerprint {fingerprint}").format(fingerprint=manifest.fingerprint),
        )

    def check_log(self) -> None:
        log = self.tally.log
        if self.manifest is None:
            self.r.not_made(
                "log-head", _("needs a readable manifest (the collector's certificate)")
            )
            head: LogHead | None = None
            try:
                head = LogHead.from_dict(_payload_of(log.head), "log.head")
            except (FormatError, KeyError, TypeError):
                head = None
        else:
            head, problems = open_log_head(log.head, self.manifest)
            if head is not None and head.election_id != self.manifest.election_id:
                problems.append(
                    _("log head is for election {found!r}, not {expected!r}").format(
                        found=head.election_id, expected=self.manifest.election_id
                    )
                )
            detail = (
                _("size {size}, root {root}...").format(
                    size=head.size, root=head.root_hash.hex()[:16]
                )
                if head
                else ""
            )
            self.r.outcome("log-head", problems, detail)
        if head is None:
            self.r.not_made("log-leaves", _("needs a readable log head"))
            return
        problems = []
        if len(log.leaves) != head.size:
            problems.append(
                _("{leaves} leaf hashes but the signed log head has size {size}").format(
                    leaves=len(log.leaves), size=head.size
                )
            )
        self.subtree = merkle.cached_subtree_root(log.leaves)  # kept for the receipts' proofs
        root = merkle.root_hash(log.leaves, self.subtree)
        if root != head.root_hash:
            problems.append(
                _("leaf hashes rebuild root {root}..., the signed head says {signed}...").format(
                    root=root.hex()[:16], signed=head.root_hash.hex()[:16]
                )
            )
        self.log_size = head.size
        rebuilt = self.r.outcome(
            "log-leaves",
            problems,
            _("{leaves} leaves rebuild the signed root").format(leaves=len(log.leaves)),
        )
        if rebuilt and self.r.results["log-head"].status == PASS:
            self.final_head = head  # signed by a collector of the manifest, leaves rebuild it

    def check_receipts(self, receipts: Sequence[tuple[str, Any]] | None) -> None:
        if receipts is None:
            self.r.not_made("receipts", _("needs voters' receipts (--receipts DIR)"))
            return
        if self.manifest is None or self.final_head is None:
            self.r.not_made("receipts", _("needs a signed log head that the leaves rebuild"))
            return
        manifest, log, final = self.manifest, self.tally.log, self.final_head
        collectors = manifest.trust.collector_certificates
        problems = []
        for name, document in receipts:
            try:
                check_receipt_in_log(
                    document, manifest.election_id, collectors, final, log.leaves, name,
                    self.subtree,
                )  # fmt: skip
            except ReceiptContradicted as exc:
                problems.append(
                    _(
                        "ballot {ballot}: {problem} (the receipt is signed evidence against the "
                        "collector)"
                    ).format(ballot=_receipt_ballot(document, name), problem=exc.problem)
                )
            except (FormatError, CryptoError) as exc:
                problems.append(
                    _("{name}: not a receipt of this election's collector: {problem}").format(
                        name=name, problem=exc
                    )
                )
        self.r.outcome(
            "receipts",
            problems,
            _("{good} of {count} receipts are in the final log").format(
                good=len(receipts) - len(problems), count=len(receipts)
            ),
        )

    # ---------------------------------------------------------------- report

    def check_report(self) -> None:
        raw = self.tally.report
        report = TallyReport.from_dict(raw)
        self.report = report
        problems: list[str] = []
        stated = TallyReport.stated_total(raw)
        total = report.total
        if stated != total:
            for name in COUNT_FIELDS:
                if getattr(stated, name) != getattr(total, name):
                    problems.append(
                        _("report total {name} is {stated}, the districts add up to {sum}").format(
                            name=name, stated=getattr(stated, name), sum=getattr(total, name)
                        )
                    )
        for name, counts in sorted(report.districts.items()):
            if counts.accounted != counts.received:
                problems.append(
                    _(
                        "district {name}: received {received} but superseded + cancelled + "
                        "invalid + counted = {accounted}"
                    ).format(name=name, received=counts.received, accounted=counts.accounted)
                )
        if self.manifest is not None:
            known = {d.id for d in self.manifest.districts}
            for name in sorted(set(report.districts) - known - {UNASSIGNED}):
                problems.append(
                    _("report names district {name!r}, which the manifest has not").format(
                        name=name
                    )
                )
            unassigned = report.districts.get(UNASSIGNED, Counts())
            if unassigned.counted or unassigned.superseded or unassigned.cancelled_by_paper:
                problems.append(
                    _("ballots naming no district of the manifest can only be invalid")
                )
        if len(self.tally.log.leaves) != stated.received:
            problems.append(
                _("report says {received} ballots received, the log has {leaves} leaves").format(
                    received=stated.received, leaves=len(self.tally.log.leaves)
                )
            )
        invalid_by_district = Counter(b.district for b in report.invalid_ballots)
        for name in sorted(set(invalid_by_district) | set(report.districts)):
            listed = invalid_by_district.get(name, 0)
            counted = report.districts.get(name, Counts()).invalid
            if listed != counted:
                problems.append(
                    _(
                        "district {name}: {counted} invalid ballots counted, {listed} listed "
                        "with a reason"
                    ).format(name=name, counted=counted, listed=listed)
                )
        indices = [b.log_index for b in report.invalid_ballots]
        duplicated = sorted(i for i, k in Counter(indices).items() if k > 1)
        if duplicated:
            problems.append(
                _("invalid ballot log indices listed twice: {indices}").format(
                    indices=duplicated[:10]
                )
            )
        elif indices != sorted(indices):
            problems.append(_("invalid ballots are not listed in log order"))
        beyond = sorted(i for i in indices if i >= len(self.tally.log.leaves))
        if beyond:
            problems.append(
                _("invalid ballot log indices beyond the log: {indices}").format(
                    indices=beyond[:10]
                )
            )
        if self.tally.bundle.ballots != stated.counted:
            problems.append(
                _(
                    "report says {counted} ballots counted, the record's observers' bundle "
                    "reference says {bundle}"
                ).format(counted=stated.counted, bundle=self.tally.bundle.ballots)
            )
        self.r.outcome(
            "report",
            problems,
            _(
                "received {received} = superseded {superseded} + cancelled by paper "
                "{cancelled_by_paper} + invalid {invalid} + counted {counted}"
            ).format(**total.to_dict()),
        )

    # ---------------------------------------------------------------- totals

    def expected_totals(self) -> list[tuple[str, str, int]]:
        assert self.manifest is not None
        return [
            (district.id, contest.id, part)
            for district, contest in self.manifest.contests()
            for part in range(self.manifest.contest_encoding(district.id, contest.id).parts)
        ]

    def check_totals(self) -> None:
        if self.manifest is None or self.key is None:
            self.r.not_made("totals", _("needs a readable manifest with its key"))
            return
        problems: list[str] = []
        expected = self.expected_totals()
        found = [(t.district, t.contest, t.part) for t in self.tally.totals]
        for label in sorted(set(expected) - set(found)):
            problems.append(
                _("no encrypted total for {label}").format(label="/".join(map(str, label)))
            )
        for label in sorted(set(found) - set(expected)):
            problems.append(
                _("encrypted total {label} is not a contest part of the manifest").format(
                    label="/".join(map(str, label))
                )
            )
        if not problems and found != expected:
            problems.append(_("encrypted totals are not in the manifest's order"))
        for total in self.tally.totals:
            try:
                paillier.check_ciphertext(self.key.public_key, total.ciphertext, "ciphertext")
            except InvalidInput as exc:
                problems.append(
                    _("encrypted total {label}: {problem}").format(
                        label=total.label, problem=exc.problem
                    )
                )
        self.totals_ok = not problems
        self.r.outcome(
            "totals", problems, _("{count} encrypted totals").format(count=len(found))
        )

    # ---------------------------------------------------------------- bundle

    def check_bundle(self, bundle_doc: Any, meanwhile: Callable[[], None] = lambda: None) -> None:
        """The bundle's checks; `meanwhile` runs in this process while the workers check the
        ballots (checks of other material)."""
        assert self.manifest is not None and self.key is not None
        manifest = self.manifest
        try:
            bundle = ObserversBundle.from_dict(bundle_doc)
        except (FormatError, InvalidInput) as exc:
            self.r.failed(
                "bundle", [_("the observers' bundle is malformed: {problem}").format(problem=exc)]
            )
            for check_id in ("ballots", "ballot-proofs", "duplicates", "totals-products"):
                self.r.not_made(check_id, _("the observers' bundle could not be read"))
            meanwhile()
            return
        # With the audit's counted ballots: when the bundle holds exactly those (the same
        # bytes), their proofs were verified by the cleansing and are not verified again.
        proofs_verified = self.compare_counted(bundle)
        # the ballots are parsed and their proofs checked in the workers, while this process
        # hashes the bundle
        with _BallotChecks(
            manifest.to_dict(),
            bundle.ballots,
            self.workers,
            self.key.n_squared,
            verify_proofs=not proofs_verified,
        ) as ballot_checks:
            problems: list[str] = []
            if bundle.hash != self.tally.bundle.hash:
                problems.append(
                    _(
                        "observers' bundle hash {found} is not the one the record names "
                        "({expected})"
                    ).format(found=b64url(bundle.hash), expected=b64url(self.tally.bundle.hash))
                )
            if bundle.election_id != manifest.election_id:
                problems.append(
                    _("observers' bundle is for election {election!r}").format(
                        election=bundle.election_id
                    )
                )
            if bundle.manifest_hash != manifest.hash:
                problems.append(_("observers' bundle names another manifest hash"))
            if len(bundle.ballots) != self.tally.bundle.ballots:
                problems.append(
                    _(
                        "observers' bundle holds {count} ballots, the record names {expected}"
                    ).format(count=len(bundle.ballots), expected=self.tally.bundle.ballots)
                )
            by_district = Counter(b.district for b in bundle.ballots)
            if self.report is not None:
                for name in sorted(set(by_district) | set(self.report.districts)):
                    counted = self.report.districts.get(name, Counts()).counted
                    if by_district.get(name, 0) != counted:
                        problems.append(
                            _(
                                "district {name}: the report counts {counted} ballots, the "
                                "observers' bundle holds {held}"
                            ).format(name=name, counted=counted, held=by_district.get(name, 0))
                        )
            self.r.outcome(
                "bundle",
                problems,
                _("{count} counted ballots").format(count=len(bundle.ballots)),
            )
            meanwhile()
            label = (
                _("counted ballots (proofs checked in the cleansing)")
                if proofs_verified
                else _("ballot proofs")
            )
            checked = ballot_checks.results(self.progress(label, len(bundle.ballots)))

        problems = [checked.malformed[index] for index in sorted(checked.malformed)]
        parsed = checked.ciphertexts
        self.r.outcome(
            "ballots",
            problems,
            _("{good} of {count} ballots well formed").format(
                good=len(parsed), count=len(bundle.ballots)
            ),
        )
        bad = checked.bad
        self.r.outcome(
            "ballot-proofs",
            [
                _("ballot {index}: {problem}").format(index=index, problem=bad[index])
                for index in sorted(bad)
            ],
            (
                _(
                    "{good} of {count} ballots' proofs verify (verified by the cleansing of the "
                    "ballot box: the same ballots)"
                )
                if proofs_verified
                else _("{good} of {count} ballots' proofs verify (batched, {workers} workers)")
            ).format(
                good=len(bundle.ballots) - len(bad),
                count=len(bundle.ballots),
                workers=self.workers,
            ),
        )
        self._check_duplicates(parsed)
        self._check_products(checked.products, bad_shape=bool(problems))

    def compare_counted(self, bundle: ObserversBundle) -> bool:
        """counted-ballots: the bundle's ballots against the box's counted ones, as multisets
        of their canonical bytes. True when they are the same."""
        if self.counted_digests is None:
            return False
        digests = [hashlib.sha256(canonical_bytes(b.to_dict())).digest() for b in bundle.ballots]
        found = Counter(digests)
        expected = self.counted_digests
        extra = sum((found - expected).values())
        missing = sum((expected - found).values())
        problems = []
        if extra:
            positions = [i for i, digest in enumerate(digests) if digest not in expected]
            problems.append(
                _(
                    "{count} ballots of the bundle are not counted ballots of the box (bundle "
                    "positions {positions}{more})"
                ).format(
                    count=extra, positions=positions[:10], more="..." if len(positions) > 10 else ""
                )
            )
        if missing:
            problems.append(
                _("{count} counted ballots of the box are not in the bundle").format(count=missing)
            )
        return self.r.outcome(
            "counted-ballots",
            problems,
            _("the bundle's {count} ballots are the box's counted ballots").format(
                count=sum(found.values())
            ),
        )

    def _check_duplicates(self, parsed: Mapping[int, Mapping[str, Sequence[int]]]) -> None:
        first: dict[int, tuple[int, str]] = {}
        problems: list[str] = []
        count = 0
        for index, contests in sorted(parsed.items()):
            for contest_id, ciphertexts in contests.items():
                for part, ciphertext in enumerate(ciphertexts):
                    count += 1
                    where = _("ballot {index} contest {contest} part {part}").format(
                        index=index, contest=contest_id, part=part
                    )
                    if ciphertext in first:
                        _index, other_where = first[ciphertext]
                        problems.append(
                            _("ciphertext of {where} duplicates {other}").format(
                                where=where, other=other_where
                            )
                        )
                    else:
                        first[ciphertext] = (index, where)
        self.r.outcome(
            "duplicates", problems, _("{count} ciphertexts, all distinct").format(count=count)
        )

    def _check_products(self, partial: Mapping[tuple[str, str, int], int], bad_shape: bool) -> None:
        """The encrypted totals against the products of the ballots' ciphertexts, which the
        workers multiplied per task (`partial`: the products of all well-formed ballots)."""
        assert self.manifest is not None and self.key is not None
        if bad_shape:
            self.r.not_made("totals-products", _("some counted ballots are malformed"))
            return
        # per contest, the products of each ballot ciphertext, packed into the totals' parts
        # (the same for a 1-of-L contest; contest_totals is the one home of the packing)
        products: dict[tuple[str, str, int], Any] = {}
        for district, contest in self.manifest.contests():
            enc = self.manifest.contest_encoding(district.id, contest.id)
            per_ciphertext = [
                partial.get((district.id, contest.id, index), 1)
                for index in range(enc.ciphertexts)
            ]
            packed = contest_totals(self.key.public_key, enc, per_ciphertext)
            for part, total in enumerate(packed):
                products[(district.id, contest.id, part)] = mpz(total)
        problems = []
        recorded = {(t.district, t.contest, t.part): t.ciphertext for t in self.tally.totals}
        for label, product in products.items():
            if recorded.get(label) != product:
                problems.append(
                    _(
                        "encrypted total {label} is not the product of the counted ballots' "
                        "ciphertexts"
                    ).format(label="/".join(map(str, label)))
                )
        self.r.outcome(
            "totals-products",
            problems,
            _("{count} totals recomputed from the ballots").format(count=len(products)),
        )

    # ---------------------------------------------------------------- decryption

    def check_decryption(self) -> None:
        if self.decryption is None:
            for check_id in DECRYPTION_CHECKS:
                self.r.not_made(check_id, _("the tally is not decrypted yet"))
            return
        if self.manifest is None or self.key is None:
            for check_id in DECRYPTION_CHECKS:
                self.r.not_made(check_id, _("needs a readable manifest with its key"))
            return
        key, manifest = self.key, self.manifest
        decryption = self.decryption
        assert decryption is not None
        totals = self.tally.totals
        tally_hash = self.tally.hash
        contexts = [
            manifest.proof_context(t.district, t.contest, t.part) if self.totals_ok else None
            for t in totals
        ]
        problems: list[str] = []
        valid: dict[int, list[DecryptionShare]] = {}
        seen: set[int] = set()
        work = sum(len(t.shares) for t in decryption.trustees)
        advance = self.progress(_("decryption shares"), work)
        for position, trustee in enumerate(decryption.trustees):
            name = _("trustee {index}").format(index=trustee.trustee)
            trustee_problems: list[str] = []
            if not 1 <= trustee.trustee <= key.trustees:
                problems.append(
                    _("{name}: not a trustee of the key (indices 1..{trustees})").format(
                        name=name, trustees=key.trustees
                    )
                )
                advance(len(trustee.shares))
                continue
            if trustee.trustee in seen:
                problems.append(
                    _("{name}: shares given twice (shares[{position}])").format(
                        name=name, position=position
                    )
                )
                advance(len(trustee.shares))
                continue
            seen.add(trustee.trustee)
            if trustee.tally_hash != tally_hash:
                trustee_problems.append(
                    _("{name}: shares are for another tally (tally hash)").format(name=name)
                )
            if len(trustee.shares) != len(totals):
                trustee_problems.append(
                    _("{name}: {shares} shares for {totals} encrypted totals").format(
                        name=name, shares=len(trustee.shares), totals=len(totals)
                    )
                )
            parsed: list[DecryptionShare] = []
            for total, raw, context in zip(totals, trustee.shares, contexts, strict=False):
                try:
                    share = DecryptionShare.from_dict(raw, key, f"{name} share of {total.label}")
                    if share.index != trustee.trustee:
                        raise ProofInvalid(
                            name,
                            _("share of {label} is for trustee {index}").format(
                                label=total.label, index=share.index
                            ),
                        )
                    if context is None:
                        raise ProofInvalid(name, _("the encrypted totals are invalid"))
                    verify_decryption_share(key, total.ciphertext, share, context)
                    parsed.append(share)
                except ProofInvalid as exc:
                    trustee_problems.append(
                        _("{name}: share of {label}: {problem}").format(
                            name=name, label=total.label, problem=exc.problem
                        )
                    )
                except (InvalidInput, FormatError) as exc:
                    trustee_problems.append(f"{name}: {exc}")
                advance(1)
            problems.extend(trustee_problems)
            if not trustee_problems:
                valid[trustee.trustee] = parsed
        self.r.outcome(
            "shares",
            problems,
            _("{count} trustees' shares verify ({trustees})").format(
                count=len(valid), trustees=", ".join(map(str, sorted(valid))) or _("none")
            ),
        )
        if len(valid) < key.threshold:
            self.r.failed(
                "threshold",
                [
                    _("only {count} trustees' shares verify, the key needs {threshold}").format(
                        count=len(valid), threshold=key.threshold
                    )
                ],
            )
        else:
            self.r.passed(
                "threshold",
                _("{count} valid of {threshold} needed").format(
                    count=len(valid), threshold=key.threshold
                ),
            )
        self.check_plaintexts(valid)

    def check_plaintexts(self, valid: Mapping[int, list[DecryptionShare]]) -> None:
        assert self.key is not None and self.manifest is not None
        key = self.key
        assert self.decryption is not None
        totals = self.tally.totals
        plaintexts = self.decryption.plaintexts
        problems: list[str] = []
        if len(plaintexts) != len(totals):
            problems.append(
                _("{plaintexts} plaintexts for {totals} encrypted totals").format(
                    plaintexts=len(plaintexts), totals=len(totals)
                )
            )
        if len(valid) < key.threshold or not self.totals_ok:
            self.r.not_made("plaintexts", _("needs t trustees' valid shares of valid totals"))
            plaintexts_ok = False
        else:
            used = sorted(valid)[: key.threshold]
            for position, total in enumerate(totals):
                # every share was verified against this total by check_decryption
                shares = [valid[i][position] for i in used]
                try:
                    combination = combine_verified(key, total.ciphertext, shares)
                except CryptoError as exc:
                    problems.append(
                        _("encrypted total {label}: {problem}").format(
                            label=total.label, problem=exc
                        )
                    )
                    continue
                if position < len(plaintexts) and plaintexts[position] != combination.plaintext:
                    problems.append(
                        _(
                            "plaintext of {label} is not what the trustees' shares decrypt to"
                        ).format(label=total.label)
                    )
            plaintexts_ok = self.r.outcome(
                "plaintexts",
                problems,
                _("{count} plaintexts combined from trustees {trustees}").format(
                    count=len(totals), trustees=", ".join(map(str, used))
                ),
            )
        self.check_results(plaintexts_ok or len(plaintexts) == len(totals))

    def check_results(self, plaintexts_usable: bool) -> None:
        assert self.manifest is not None
        manifest = self.manifest
        if not plaintexts_usable or not self.totals_ok:
            self.r.not_made("results", _("needs one plaintext per valid encrypted total"))
            self.r.not_made("results-report", _("needs the results"))
            self.r.not_made("national-results", _("needs the results"))
            return
        plaintexts = self.decryption.plaintexts
        by_label = {
            (t.district, t.contest, t.part): p
            for t, p in zip(self.tally.totals, plaintexts, strict=True)
        }
        recorded: dict[tuple[str, str], tuple[int, ...]] = {}
        problems: list[str] = []
        for result in self.decryption.results:
            label = (result.district, result.contest)
            if label in recorded:
                problems.append(
                    _("results for {district}/{contest} given twice").format(
                        district=result.district, contest=result.contest
                    )
                )
            recorded[label] = result.counts
        decoded: dict[tuple[str, str], list[int]] = {}
        for district, contest in manifest.contests():
            label = (district.id, contest.id)
            enc = manifest.contest_encoding(district.id, contest.id)
            parts = [by_label[(district.id, contest.id, part)] for part in range(enc.parts)]
            try:
                counts = decode_totals(enc, parts, manifest.max_voters)
            except (DecryptionError, InvalidInput) as exc:
                problems.append(
                    _("{district}/{contest}: plaintexts do not decode: {problem}").format(
                        district=district.id, contest=contest.id, problem=exc
                    )
                )
                continue
            decoded[label] = counts
            if label not in recorded:
                problems.append(
                    _("no results for {district}/{contest}").format(
                        district=district.id, contest=contest.id
                    )
                )
            elif list(recorded[label]) != counts:
                problems.append(
                    _(
                        "results for {district}/{contest} are {recorded}, the plaintexts decode "
                        "to {decoded}"
                    ).format(
                        district=district.id,
                        contest=contest.id,
                        recorded=list(recorded[label]),
                        decoded=counts,
                    )
                )
        for label in sorted(set(recorded) - {(d.id, c.id) for d, c in manifest.contests()}):
            problems.append(
                _("results for {label}, which the manifest has not").format(label="/".join(label))
            )
        order = [(d.id, c.id) for d, c in manifest.contests()]
        given = [(r.district, r.contest) for r in self.decryption.results]
        if not problems and given != order:
            problems.append(_("results are not in the manifest's order of contests"))
        results_ok = self.r.outcome(
            "results", problems, _("{count} contests decoded").format(count=len(decoded))
        )
        if self.report is None:
            self.r.not_made("results-report", _("needs the report"))
            self.r.not_made("national-results", _("needs the report"))
            return
        problems = []
        for (district_id, contest_id), counts in sorted(decoded.items()):
            counted = self.report.districts.get(district_id, Counts()).counted
            enc = manifest.contest_encoding(district_id, contest_id)
            if enc.marks:
                problem = _marks_problem(enc, counts, counted)
                if problem:
                    problems.append(f"{district_id}/{contest_id}: {problem}")
            elif sum(counts) != counted:
                problems.append(
                    _(
                        "{district}/{contest}: {votes} votes, but the report counts {counted} "
                        "ballots in district {district}"
                    ).format(
                        district=district_id, contest=contest_id, votes=sum(counts), counted=counted
                    )
                )
        self.r.outcome(
            "results-report",
            problems,
            _(
                "every 1-of-L contest has one vote per counted ballot; every choose-several "
                "contest's marks fit its bounds"
            ),
        )
        if results_ok:
            self.check_national(self.report)
        else:
            self.r.not_made(
                "national-results", _("needs the districts' results verified (check results)")
            )

    def check_national(self, report: TallyReport) -> None:
        """national-results: the record's national totals against the sums, recomputed here,
        of the districts' results (which the results check has found to be the decryption)."""
        assert self.manifest is not None and self.decryption is not None
        manifest = self.manifest
        problems = national_problems(
            manifest, self.decryption.results, report, self.decryption.national_results
        )
        if manifest.national_contests:
            detail = ngettext(
                "{count} national contest, summed over {districts} districts",
                "{count} national contests, summed over {districts} districts",
                len(manifest.national_contests),
            ).format(count=len(manifest.national_contests), districts=len(manifest.districts))
        else:
            detail = _("the election has no national contests")
        self.r.outcome("national-results", problems, detail)


def national_problems(
    manifest: Manifest,
    results: Sequence[ContestResult],
    report: TallyReport,
    recorded: Sequence[NationalResult] | None,
) -> list[str]:
    """What is wrong with a record's national totals (`decryption.national_results`, None when
    absent), given per-district results already verified: present exactly when the election
    has national contests; one per national contest, in the manifest's order; each the sum,
    option by option, of the districts' results, with the sum of their counted ballots."""
    if not manifest.national_contests:
        if recorded is None:
            return []
        return [
            _(
                "the record has national totals (decryption.national_results), but the "
                "election has no national contests"
            )
        ]
    if recorded is None:
        return [
            _(
                "the record has no national totals (decryption.national_results) for the "
                "election's national contests"
            )
        ]
    expected = national_totals(manifest, results, report)
    assert expected is not None
    problems: list[str] = []
    given: dict[str, NationalResult] = {}
    contests = {contest.id: contest for contest in manifest.national_contests}
    for result in recorded:
        if result.contest not in contests:
            problems.append(
                _(
                    "national total of {contest}, which is not a national contest of the "
                    "manifest"
                ).format(contest=result.contest)
            )
        elif result.contest in given:
            problems.append(
                _("national total of {contest} given twice").format(contest=result.contest)
            )
        given.setdefault(result.contest, result)
    for total in expected:
        contest = contests[total.contest]
        found = given.get(total.contest)
        if found is None:
            problems.append(_("no national total of {contest}").format(contest=total.contest))
            continue
        if len(found.counts) != len(total.counts):
            problems.append(
                _("national total of {contest}: {counts} counts for {options} options").format(
                    contest=total.contest, counts=len(found.counts), options=len(total.counts)
                )
            )
        else:
            labels = [(str(option.number), str(option.name)) for option in contest.options]
            if contest.blank_allowed:
                labels.append(("-", _("blank ballots")))
            for (number, name), stated, summed in zip(
                labels, found.counts, total.counts, strict=True
            ):
                if stated != summed:
                    problems.append(
                        _(
                            "national total of {contest}, option {number} ({name}): {stated}, "
                            "the districts' results add up to {sum}"
                        ).format(
                            contest=total.contest,
                            number=number,
                            name=name,
                            stated=stated,
                            sum=summed,
                        )
                    )
        if found.counted_ballots != total.counted_ballots:
            problems.append(
                _(
                    "national total of {contest}: {stated} counted ballots, the districts' "
                    "counted ballots add up to {sum}"
                ).format(
                    contest=total.contest, stated=found.counted_ballots, sum=total.counted_ballots
                )
            )
    if not problems and [r.contest for r in recorded] != [t.contest for t in expected]:
        problems.append(_("national totals are not in the manifest's order of contests"))
    return problems


def _document_hash(document: Any) -> bytes | None:
    """H(document) of the record as read (SHA-256 of its canonical bytes: of record.json
    without its final newline)."""
    try:
        return object_hash(document)
    except (FormatError, TypeError, ValueError):
        return None


def _receipt_ballot(document: Any, name: str) -> str:
    """The ballot hash a receipt names (its file name when unreadable), to report it by."""
    try:
        return str(document["payload"]["ballot_hash"])
    except (KeyError, TypeError):
        return name


def _payload_of(document: Mapping[str, Any]) -> Any:
    return document.get("payload", document)


def _certificate_line(certificate: x509.Certificate) -> str:
    fingerprint = certificate.fingerprint(hashes.SHA256()).hex()
    return f"{certificate.subject.rfc4514_string()} (SHA-256 {fingerprint[:16]}...)"


def open_manifest(document: Any) -> tuple[Manifest | None, x509.Certificate | None, list[str]]:
    """The manifest, its signer's certificate and the problems found. A manifest whose
    signature fails is still parsed (unsigned) so that the other checks can say more."""
    problems: list[str] = []
    certificate = None
    payload: Any = None
    try:
        payload, certificate, _signed = open_signed(document, DOMAINS["manifest"], where="manifest")
    except (CryptoError, FormatError) as exc:
        problems.append(_("manifest signature: {problem}").format(problem=exc))
        payload = document.get("payload") if isinstance(document, Mapping) else None
    if payload is None:
        return None, certificate, problems
    try:
        manifest = Manifest.from_dict(payload)
    except (FormatError, CryptoError) as exc:
        problems.append(_("manifest: {problem}").format(problem=exc))
        return None, certificate, problems
    if manifest.is_draft:
        problems.append(_("manifest: has no election key"))
    return manifest, certificate, problems


def open_log_head(document: Any, manifest: Manifest) -> tuple[LogHead | None, list[str]]:
    """The log head, if one of the manifest's collector certificates signed it (the
    collector's signer rule, formats.receipt.open_by_collector)."""
    problems: list[str] = []
    collectors = manifest.trust.collector_certificates
    payload: Any = None
    if not collectors:
        problems.append(_("the manifest names no collector certificate to check the head with"))
    else:
        try:
            payload = open_by_collector(document, DOMAINS["log_head"], collectors, "log.head")
        except (CryptoError, FormatError) as exc:
            problems.append(_("log head signature: {problem}").format(problem=exc))
    if payload is None:
        payload = document.get("payload") if isinstance(document, Mapping) else None
    try:
        return LogHead.from_dict(payload, "log.head.payload"), problems
    except FormatError as exc:
        problems.append(str(exc))
        return None, problems


# ------------------------------------------------------------------------ ballots


def parse_anonymous_ballot(
    manifest: Manifest, public: paillier.PublicKey, ballot: AnonymousBallot, index: int
) -> dict[str, EncryptedContest]:
    """Its contests, parsed and validated: exactly the contests of its district."""
    where = f"ballot {index}"
    try:
        district = manifest.district(ballot.district)
    except FormatError:
        raise InvalidInput(where, f"district {ballot.district!r} is not in the manifest") from None
    wanted = [c.id for c in district.contests]
    if sorted(ballot.contests) != sorted(wanted):
        raise InvalidInput(
            where,
            f"contests {sorted(ballot.contests)} are not those of district {district.id} "
            f"({sorted(wanted)})",
        )
    return {
        contest_id: EncryptedContest.from_dict(
            ballot.contests[contest_id],
            public,
            manifest.contest_encoding(district.id, contest_id),
            f"{where} contest {contest_id}",
        )
        for contest_id in wanted
    }


_WORKER_MANIFEST: Manifest | None = None


def _init_worker(manifest_doc: dict[str, Any]) -> None:
    global _WORKER_MANIFEST
    _WORKER_MANIFEST = Manifest.from_dict(manifest_doc)


@dataclass
class _Checked:
    """The bundle's ballots as the workers found them: malformed ones (index -> problem, as
    the "ballots" check lists it), the well-formed ones' ciphertexts (index -> contest id ->
    ciphertext per part), the products of those ciphertexts mod n^2 per (district, contest,
    part), and the ballots whose proofs fail (index -> reason)."""

    malformed: dict[int, str] = field(default_factory=dict)
    ciphertexts: dict[int, dict[str, tuple[int, ...]]] = field(default_factory=dict)
    products: dict[tuple[str, str, int], int] = field(default_factory=dict)
    bad: dict[int, str] = field(default_factory=dict)

    def update(self, other: _Checked, n2: int) -> None:
        self.malformed.update(other.malformed)
        self.ciphertexts.update(other.ciphertexts)
        for label, product in other.products.items():
            self.products[label] = int(mpz(self.products.get(label, 1)) * product % n2)
        self.bad.update(other.bad)


def _verify_chunk(
    start: int, ballots: Sequence[dict[str, Any]], verify_proofs: bool = True
) -> _Checked:
    """A chunk of the bundle's ballots, parsed once: their shapes, their ciphertexts, and one
    batch over all their proofs (unless already verified elsewhere)."""
    manifest = _WORKER_MANIFEST
    assert manifest is not None
    public = manifest.threshold_key.public_key
    n2 = mpz(public.n_squared)
    products: dict[tuple[str, str, int], Any] = {}
    checked = _Checked()
    statements = []
    owners: list[int] = []
    for offset, raw in enumerate(ballots):
        index = start + offset
        try:
            ballot = AnonymousBallot.from_dict(raw, f"ballot {index}")
            contests = parse_anonymous_ballot(manifest, public, ballot, index)
        except (InvalidInput, FormatError) as exc:
            checked.malformed[index] = str(exc)
            checked.bad[index] = _("malformed: {problem}").format(problem=exc)
            continue
        checked.ciphertexts[index] = {cid: c.ciphertexts for cid, c in contests.items()}
        for contest_id, contest in contests.items():
            for part, ciphertext in enumerate(contest.ciphertexts):
                label = (ballot.district, contest_id, part)
                products[label] = products.get(label, 1) * mpz(ciphertext) % n2
        try:
            # ballot_statements (formats.ballot) is the one home of which proofs a ballot
            # needs; the anonymous ballot has no challenge, which no statement uses.
            parsed = Ballot(manifest.election_id, manifest.hash, ballot.district, b"", contests)
            for statement in ballot_statements(manifest, parsed):
                statements.append(statement)
                owners.append(index)
        except (InvalidInput, FormatError) as exc:
            checked.bad[index] = _("malformed: {problem}").format(problem=exc)
    for position in batch_verify(statements) if verify_proofs else ():
        checked.bad.setdefault(owners[position], _("a validity proof does not verify"))
    checked.products = {label: int(product) for label, product in products.items()}
    return checked


class _BallotChecks:
    """_verify_chunk over the bundle's ballots, started on entry (in a process pool unless
    one worker or one task), collected by `results`. Tasks are as large as a batch may be
    (BALLOTS_PER_TASK) while every worker gets one: larger batches cost less per ballot."""

    def __init__(
        self,
        manifest_doc: dict[str, Any],
        ballots: Sequence[AnonymousBallot],
        workers: int,
        n_squared: int,
        verify_proofs: bool = True,
    ) -> None:
        self.n_squared = n_squared
        self.verify_proofs = verify_proofs
        size = max(1, min(BALLOTS_PER_TASK, -(-len(ballots) // max(workers, 1))))
        self.tasks = [
            (start, [b.to_dict() for b in ballots[start : start + size]])
            for start in range(0, len(ballots), size)
        ]
        self.manifest_doc = manifest_doc
        self.workers = workers
        self.pool: ProcessPoolExecutor | None = None
        self.futures: list[Future[_Checked]] = []

    def __enter__(self) -> _BallotChecks:
        if self.workers > 1 and len(self.tasks) > 1:
            self.pool = ProcessPoolExecutor(
                self.workers, initializer=_init_worker, initargs=(self.manifest_doc,)
            )
            self.futures = [
                self.pool.submit(_verify_chunk, *task, self.verify_proofs) for task in self.tasks
            ]
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)

    def results(self, advance: Callable[[int], None]) -> _Checked:
        checked = _Checked()
        if self.pool is None:
            _init_worker(self.manifest_doc)
            for start, chunk in self.tasks:
                checked.update(_verify_chunk(start, chunk, self.verify_proofs), self.n_squared)
                advance(len(chunk))
            return checked
        for future, (_start, chunk) in zip(self.futures, self.tasks, strict=True):
            checked.update(future.result(), self.n_squared)
            advance(len(chunk))
        return checked


def chunked(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _marks_problem(enc: ContestEncoding, counts: Sequence[int], counted: int) -> str | None:
    """Whether a choose-several contest's counts can come from `counted` valid ballots: the
    blank ones (last count, where blank is allowed) at most `counted`, no candidate marked on
    more ballots than are not blank, and the marks between min_marks and max_marks per ballot
    that is not blank (docs/spec.md, results-report). Together these are also enough: such
    counts always come from some set of valid ballots (spread the marks evenly over the
    ballots that are not blank: Gale-Ryser)."""
    blank = counts[enc.candidates] if enc.blank_allowed else 0
    marks = sum(counts[: enc.candidates])
    if blank > counted:
        return _("{blank} blank ballots, but the report counts {counted} ballots").format(
            blank=blank, counted=counted
        )
    marking = counted - blank
    for position, count in enumerate(counts[: enc.candidates], 1):
        if count > marking:
            return _(
                "candidate {position} of the list is marked on {marks} ballots, but only "
                "{ballots} ballots are not blank"
            ).format(position=position, marks=count, ballots=marking)
    low, high = max(enc.min_marks, 1) * marking, enc.max_marks * marking
    if not low <= marks <= high:
        return _(
            "{marks} marks on {ballots} ballots that are not blank: not between {low} and {high}"
        ).format(marks=marks, ballots=marking, low=low, high=high)
    return None
