"""What `ivote verify` and `ivote results` show people after the checks: the verified results,
a one-line verdict and the fingerprints to compare (docs/spec.md, "Results").

Results are shown only of a record whose checks establish them: no check failed, and every
check of RESULT_CHECKS passed (the record, the signed manifest and log, the report's
arithmetic, the totals, the trustees' shares, their combination, the decoding and the
national totals). The verdict says how far back the results were traced: to the record's
encrypted totals, to the observers' bundle's ballots, or to the collector-signed ballot box
(auditors).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from canonical.encoding import FormatError
from formats.manifest import grouped_fingerprint
from formats.results import ElectionResults, election_results
from i18n import N_, _, ngettext
from verifier.record import FAIL, NOT_MADE, PASS, TITLES, Verdict

# Without every one of these passing, the record's counts are not shown as results.
RESULT_CHECKS = (
    "record",
    "manifest",
    "key-proofs",
    "log-head",
    "log-leaves",
    "report",
    "totals",
    "shares",
    "threshold",
    "plaintexts",
    "results",
    "results-report",
    "national-results",
)
# the encrypted totals are the products of the bundle's valid ballots
BUNDLE_CHECKS = ("bundle", "ballots", "ballot-proofs", "duplicates", "totals-products")
# ... of the counted ballots of the collector-signed box (auditors)
BOX_CHECKS = ("crls", "ballot-box", "paper-voters", "cleansing", "counted-totals")

STATUS_TEXT = {PASS: N_("pass"), FAIL: N_("fail"), NOT_MADE: N_("not made")}


@dataclass(frozen=True)
class Fingerprint:
    """A value people compare with a published one: `key` names it in JSON, `label` is the
    text people read (translated where shown), `value` the full hex, never shortened."""

    key: str
    label: str
    value: str

    @property
    def grouped(self) -> str:
        """In groups of four hex digits: wraps at a group's end, and reads aloud."""
        return grouped_fingerprint(bytes.fromhex(self.value))


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    results: ElectionResults | None  # None unless the checks establish them
    level: str  # "box", "bundle", "record" when established; "tally", "failed", "not-made"
    missing: tuple[str, ...] = ()  # RESULT_CHECKS not made (level "not-made")

    @property
    def established(self) -> bool:
        return self.results is not None

    @property
    def passed(self) -> int:
        return sum(c.status == PASS for c in self.verdict.checks)

    @property
    def made(self) -> int:
        return sum(c.status != NOT_MADE for c in self.verdict.checks)

    @property
    def anchored(self) -> bool:
        """Whether the manifest was compared with the published fingerprint or certificate."""
        return self.verdict.check("manifest-anchor").status == PASS

    def line(self) -> str:
        """The one-line verdict, in the current language."""
        failed = self.verdict.failed
        if failed:
            return ngettext(
                "Not verified: {count} check failed ({ids}); no results are shown as verified.",
                "Not verified: {count} checks failed ({ids}); no results are shown as verified.",
                len(failed),
            ).format(count=len(failed), ids=", ".join(c.id for c in failed))
        counts = {"passed": self.passed, "made": self.made}
        if self.level == "tally":
            return _(
                "The tally verifies ({passed} of {made} checks passed); it is not decrypted "
                "yet, so it has no results."
            ).format(**counts)
        if self.level == "not-made":
            return _(
                "Not verified: the results cannot be established without the checks {ids}; "
                "no results are shown as verified."
            ).format(ids=", ".join(self.missing))
        if self.level == "box":
            text = _(
                "Verified: the results are the decryption of the counted ballots of the "
                "collector-signed ballot box; {passed} of {made} checks passed."
            )
        elif self.level == "bundle":
            text = _(
                "Verified: the results are the decryption of the counted ballots of the "
                "observers' bundle, each with a valid proof; {passed} of {made} checks passed."
            )
        else:
            text = _(
                "Verified: the results are the decryption of the record's encrypted totals "
                "(the ballots were not checked: no observers' bundle); {passed} of {made} "
                "checks passed."
            )
        return text.format(**counts)

    def refusal(self) -> str:
        """Why `ivote results` shows nothing, naming each failed or missing check."""
        lines = [self.line()]
        for check in self.verdict.failed:
            lines.append(
                _("check {id} ({title}) failed: {problems}").format(
                    id=check.id,
                    title=_(TITLES[check.id]),
                    problems="; ".join(check.problems) or check.detail,
                )
            )
        for check_id in self.missing:
            check = self.verdict.check(check_id)
            lines.append(
                _("check {id} ({title}) not made: {why}").format(
                    id=check_id, title=_(TITLES[check_id]), why=check.detail
                )
            )
        return "\n".join(lines)

    def fingerprints(self) -> list[Fingerprint]:
        return fingerprints(self.verdict)

    def organiser(self) -> str | None:
        signer = self.verdict.facts.manifest_signer
        return organiser_name(signer) if signer is not None else None

    def to_dict(self) -> dict[str, Any]:
        """The verdict, the fingerprints and the results for `ivote verify --json` (English,
        as JSON output always is)."""
        return {
            **self.verdict.to_dict(),
            "verdict": self.line(),
            "verified_results": self.established,
            "organiser": self.organiser(),
            "fingerprints": {f.key: f.value for f in self.fingerprints()},
            "results": self.results.to_dict() if self.results is not None else None,
        }


def outcome(verdict: Verdict) -> Outcome:
    """The results a verdict establishes, if any, and how far back they were traced."""
    facts = verdict.facts
    status = {c.id: c.status for c in verdict.checks}
    if verdict.failed:
        return Outcome(verdict, None, "failed")
    if facts.tally is not None and facts.decryption is None:
        return Outcome(verdict, None, "tally")
    missing = tuple(i for i in RESULT_CHECKS if status[i] != PASS)
    if missing or facts.manifest is None or facts.report is None or facts.decryption is None:
        return Outcome(verdict, None, "not-made", missing or ("record",))
    try:
        results = election_results(
            facts.manifest,
            facts.report,
            facts.decryption.results,
            facts.decryption.national_results,
        )
    except FormatError:  # the results check passed, so this cannot happen: show nothing
        return Outcome(verdict, None, "not-made", ("results",))
    if all(status[i] == PASS for i in BOX_CHECKS):
        level = "box"
    elif all(status[i] == PASS for i in BUNDLE_CHECKS):
        level = "bundle"
    else:
        level = "record"
    return Outcome(verdict, results, level)


def fingerprints(verdict: Verdict) -> list[Fingerprint]:
    """Every hash an observer compares with a published one, as far as the record was read."""
    facts = verdict.facts
    found: list[Fingerprint] = []
    if facts.manifest is not None:
        found.append(
            Fingerprint("manifest", N_("manifest fingerprint"), facts.manifest.fingerprint)
        )
    if facts.manifest_signer is not None:
        found.append(
            Fingerprint(
                "organiser_certificate",
                N_("organiser's certificate (SHA-256)"),
                facts.manifest_signer.fingerprint(hashes.SHA256()).hex(),
            )
        )
    if facts.final_head is not None:
        found.append(
            Fingerprint(
                "log_root", N_("final log head: root hash"), facts.final_head.root_hash.hex()
            )
        )
    if facts.tally is not None:
        found.append(
            Fingerprint("tally", N_("tally hash (the trustees' shares bind to it)"),
                        facts.tally.hash.hex())
        )
        found.append(
            Fingerprint("observers_bundle", N_("observers' bundle hash"),
                        facts.tally.bundle.hash.hex())
        )
    if facts.record_hash is not None:
        found.append(Fingerprint("record", N_("record hash"), facts.record_hash.hex()))
    return found


def organiser_name(certificate: x509.Certificate) -> str:
    """The organisation that signed the manifest, as its certificate names it."""
    subject = certificate.subject
    for oid in (NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME):
        values = subject.get_attributes_for_oid(oid)
        if values:
            return str(values[0].value)
    return subject.rfc4514_string()


def log_head_time(verdict: Verdict) -> dt.datetime | None:
    head = verdict.facts.final_head
    return None if head is None else dt.datetime.fromtimestamp(head.timestamp / 1000, dt.UTC)
