"""What the voter app does, for the CLI and the local page alike: fetch and check the election,
prepare a ballot, cast it or audit it, check a cast ballot from a second device.

Every format and check is imported from formats/ and crypto/; this module only puts them in the
voter's order and turns their errors into messages a voter can act on (VoterAppError).
docs/spec.md, "Voter app", lists the checks.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from canonical.encoding import (
    DOMAINS,
    FORMAT_VERSION,
    FormatError,
    b64url,
    check_version,
    hex_int,
    object_hash,
    parse_b64url,
    parse_hex_int,
    require,
)
from crypto import eid as eid_errors
from crypto import merkle
from crypto.eid import Signer, VoterIdentity, check_certificate
from crypto.errors import CryptoError, InvalidInput, ProofInvalid
from crypto.membership import verify_membership
from crypto.merkle import verify_inclusion
from formats.ballot import (
    SEED_BYTES,
    Ballot,
    Choice,
    ballot_hash,
    ballot_randomness,
    ballot_statements,
    build_ballot,
    choices_in,
    parse_ballot,
    verification_code,
)
from formats.eligibility import EligibilityAnswer, EligibilityRequest, status_at
from formats.keyproofs import key_proofs_problems
from formats.manifest import (
    VOTE_NO,
    VOTE_NO_NAME,
    Candidate,
    Contest,
    District,
    Manifest,
    load_signed_manifest,
)
from formats.receipt import LogHead, Receipt, open_by_collector
from formats.signed import open_signed, sign_object
from i18n import LANGUAGES, N_, _, format_datetime
from voter_app.code import CheckCode
from voter_app.store import Pin, VoterStore
from voter_app.transport import (
    CollectorClient,
    CollectorMisbehaved,
    CollectorRefused,
    CollectorUnreachable,
    VoterAppError,
)

AUDIT_KIND = "ivote-ballot-audit"
LATEST_COUNTS_TEXT = N_(
    "Only your latest ballot counts: you may vote again at any time during the voting "
    "period, and the new ballot replaces this one."
)

# The collector's refusals that the voter can act on, reworded for them.
REFUSAL_ADVICE = {
    "election_not_open": N_("voting has not started yet; try again when the voting period opens"),
    "election_over": N_("the voting period is over; no more ballots are accepted"),
    "election_closed": N_("the collector has been closed by the officials"),
    "certificate_revoked": N_("your e-ID certificate is revoked; contact your e-ID issuer"),
    "certificate_expired": N_("your e-ID certificate is expired or not yet valid"),
    "certificate_untrusted": N_("your e-ID was not issued by a CA this election trusts"),
    "not_eligible": N_("you are not on the voter list of this election"),
    "wrong_district": N_("the ballot is not for your district: start again to get your own"),
    "check_window_over": N_(
        "the time to check this vote is over (the collector allows checks only for a while "
        "after casting)"
    ),
    "check_limit_reached": N_("this vote has been checked as many times as the collector allows"),
    "not_found": N_("the collector has no such ballot"),
    "rate_limited": N_(
        "the collector is receiving too many requests from your network or for your e-ID; wait "
        "a few minutes and try again"
    ),
}


def refusal_advice(code: str) -> str | None:
    """What a refusal code means for the voter, in the current language (None: no advice)."""
    advice = REFUSAL_ADVICE.get(code)
    return _(advice) if advice else None


def refusal_message(exc: CollectorRefused) -> str:
    advice = refusal_advice(exc.code)
    if advice:
        return f"{advice} ({exc.message})"
    return _("the collector refused: {message}").format(message=exc.message)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def _sha256_hex(certificate: x509.Certificate) -> str:
    return hashlib.sha256(_der(certificate)).hexdigest()


# --- the election ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Election:
    manifest: Manifest
    organiser: x509.Certificate
    collectors: tuple[x509.Certificate, ...]
    # check_key_proofs passed for this election: its key is proven well formed
    key_proven: bool = False

    @property
    def fingerprint(self) -> str:
        return self.manifest.fingerprint_groups

    def status(self, now: dt.datetime | None = None) -> str:
        """'open', 'not_open' or 'over', by this computer's clock (the collector decides)."""
        now = now or _utc_now()
        if now < self.manifest.period.start:
            return "not_open"
        if now >= self.manifest.period.end:
            return "over"
        return "open"

    def require_open(self, now: dt.datetime | None = None) -> None:
        message = self.status_message(self.status(now))
        if message is not None:
            raise VoterAppError(message)

    def status_message(self, status: str) -> str | None:
        """What a voter is told when voting is not open ("not_open", "over", "closed"), in
        plain words with what to do; None when it is open."""
        period = self.manifest.period
        if status == "not_open":
            return _(
                "Voting in {election} has not started yet: it opens {start}. Come back then; "
                "nothing was sent."
            ).format(election=self.manifest.name, start=format_datetime(period.start))
        if status == "over":
            return _(
                "Voting in {election} is over: it closed {end}. No more ballots are taken."
            ).format(election=self.manifest.name, end=format_datetime(period.end))
        if status == "closed":
            return _(ELIGIBILITY_ADVICE["election_closed"])
        return None

    def district(self, district_id: str) -> District:
        try:
            return self.manifest.district(district_id)
        except FormatError:
            known = ", ".join(f"{d.id} ({d.name})" for d in self.manifest.districts)
            raise VoterAppError(
                _("no district {district!r} in this election; it has {known}").format(
                    district=district_id, known=known
                )
            ) from None


def _manifest_signer(document: Any) -> x509.Certificate:
    """The certificate in the manifest's signature (the signature itself is checked by
    load_signed_manifest); the voter app compares it with the organiser it pinned."""
    try:
        certificate = open_signed(document, DOMAINS["manifest"], where="manifest")[1]
    except (FormatError, CryptoError) as exc:
        raise VoterAppError(
            _("the collector's manifest is not validly signed: {problem}").format(problem=exc)
        ) from exc
    return certificate


def fetch_election(
    client: CollectorClient,
    store: VoterStore | None = None,
    fingerprint: str | bytes | None = None,
    organiser_certificate: bytes | None = None,
    confirm: Callable[[Manifest], bool] | None = None,
    allow_test_key: bool = False,
) -> Election:
    """Fetch the signed manifest and check it: a valid organiser signature, the fingerprint the
    voter was told (given, or confirmed by the voter once and pinned for this collector), the
    same organiser as the pinned one, and a real election key (a test election only with
    `allow_test_key`)."""
    document = client.get("/v1/manifest")
    signer = _manifest_signer(document)
    pin = store.pin_for(client.base_url) if store else None
    expected = fingerprint
    if expected is None and pin is not None:
        expected = pin.fingerprint
    try:
        manifest = load_signed_manifest(
            document,
            organiser_certificate=organiser_certificate or signer,
            expected_fingerprint=expected,
        )
    except FormatError as exc:
        if expected is not None and exc.field == "manifest" and "fingerprint" in exc.problem:
            told = (
                _(
                    "the collector serves an election whose fingerprint is not the one you were "
                    "told: {problem}. Do not vote here unless the officials published this one."
                )
                if fingerprint is not None
                else _(
                    "the collector serves an election whose fingerprint is not the one you "
                    "confirmed before: {problem}. Do not vote here unless the officials "
                    "published this one."
                )
            )
            raise VoterAppError(told.format(problem=exc.problem)) from exc
        if organiser_certificate is not None and "pinned organiser" in exc.problem:
            raise VoterAppError(
                _(
                    "the manifest is signed by someone other than the organiser whose "
                    "certificate you gave"
                )
            ) from exc
        raise VoterAppError(
            _("the collector's manifest is not valid: {problem}").format(problem=exc)
        ) from exc
    except CryptoError as exc:
        raise VoterAppError(
            _("the collector's manifest is not valid: {problem}").format(problem=exc)
        ) from exc
    if (
        pin is not None
        and pin.fingerprint == manifest.fingerprint
        and pin.organiser_certificate_sha256 != _sha256_hex(signer)
        and organiser_certificate is None
    ):
        raise VoterAppError(
            _(
                "the manifest is signed by someone other than the organiser who signed it "
                "before ({signer}); do not vote here"
            ).format(signer=signer.subject.rfc4514_string())
        )
    if expected is None and (confirm is None or not confirm(manifest)):
        raise VoterAppError(
            _(
                "the election's fingerprint was not confirmed: compare it with the one the "
                "election officials published and pass it with --fingerprint"
            )
        )
    if store is not None:
        store.save_pin(client.base_url, Pin(manifest.fingerprint, _sha256_hex(signer)))
    if manifest.test_election and not allow_test_key:
        raise VoterAppError(
            _(
                "this is a TEST election, not a real one: {reason}. A ballot cast here is not "
                "secret. Do not vote here (--allow-test-key only for tests)."
            ).format(reason=manifest.test_election)
        )
    collectors = tuple(manifest.trust.collectors())
    if not collectors:
        raise VoterAppError(
            _("the manifest names no collector certificate: receipts cannot be checked")
        )
    return Election(manifest, signer, collectors)


# --- the election key, proven well formed ---------------------------------------------------

KEY_CHECK_TEXT = N_("Checking that the election key is well formed…")


class KeyNotProven(VoterAppError):
    """The key-proofs document does not prove the election key well formed (`problems`, each
    one line): no ballot is encrypted under that key."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            _(
                "no ballot is encrypted under this election's key: {problems}. Nothing was "
                "sent. Do not vote here, and tell the election officials."
            ).format(problems="; ".join(problems))
        )


def check_key_proofs(
    client: CollectorClient,
    election: Election,
    store: VoterStore | None = None,
    checking: Callable[[], None] | None = None,
) -> Election:
    """Before the first ballot: `GET /v1/key-proofs` and formats.keyproofs' check of it against
    the signed manifest (its hash is the manifest's `key_proofs`, its proofs verify for the
    manifest's key); KeyNotProven naming every problem, else the election marked `key_proven`.
    A check that passed is remembered in the store by manifest fingerprint (which binds the key
    and the document's hash): the next ballot of the election does not fetch or check again.
    `checking` is called just before the check itself (seconds at 3072 bits), to say so."""
    manifest = election.manifest
    if manifest.key_proofs is None:
        raise KeyNotProven(key_proofs_problems(None, manifest))
    expected = b64url(manifest.key_proofs)
    proven = dataclasses.replace(election, key_proven=True)
    if store is not None and store.verified_key_proofs(manifest.fingerprint) == expected:
        return proven
    try:
        document = client.get("/v1/key-proofs")
    except CollectorRefused as exc:
        if exc.code != "not_found":
            raise
        document = None  # the check names the document missing
    if checking is not None:
        checking()
    problems = key_proofs_problems(document, manifest)
    if problems:
        raise KeyNotProven(problems)
    if store is not None:
        store.remember_key_proofs(manifest.fingerprint, expected)
    return proven


# --- receipts and the log --------------------------------------------------------------------


def open_official(election: Election, document: Any, domain: str, where: str) -> dict[str, Any]:
    """A document signed by one of the manifest's collector certificates (the collector's
    signer rule, formats.receipt.open_by_collector)."""
    try:
        return open_by_collector(
            document, domain, election.manifest.trust.collector_certificates, where
        )
    except (FormatError, CryptoError) as exc:
        raise CollectorMisbehaved(
            _("the collector's {document} is not validly signed: {problem}").format(
                document=where, problem=exc
            )
        ) from exc


def check_receipt(
    client: CollectorClient, election: Election, document: Any, expected_hash: bytes
) -> Receipt:
    """The receipt's signature, its signed log head, that it names this ballot, and that the
    ballot's leaf is in the tree the head signs (inclusion proof fetched from the collector)."""
    try:
        payload = open_official(election, document, DOMAINS["receipt"], "receipt")
        head_payload = open_official(
            election,
            require(payload, "log_head", dict, "receipt"),
            DOMAINS["log_head"],
            "receipt.log_head",
        )
        head = LogHead.from_dict(head_payload, "receipt.log_head")
        receipt = Receipt.from_dict(payload, head)
    except FormatError as exc:
        raise CollectorMisbehaved(
            _("the collector's receipt is malformed: {problem}").format(problem=exc)
        ) from exc
    if receipt.election_id != election.manifest.election_id:
        raise CollectorMisbehaved(_("the receipt is for another election"))
    if receipt.ballot_hash != expected_hash:
        raise CollectorMisbehaved(_("the receipt names another ballot than the one sent"))
    proof = inclusion_proof(client, receipt.log_index, head.size)
    try:
        verify_inclusion(receipt.leaf_hash, receipt.log_index, head.size, proof, head.root_hash)
    except (ProofInvalid, InvalidInput) as exc:
        raise CollectorMisbehaved(
            _("the ballot is not in the log the receipt's head signs: {problem}").format(
                problem=exc
            )
        ) from exc
    return receipt


def inclusion_proof(client: CollectorClient, index: int, size: int) -> list[bytes]:
    answer = client.get("/v1/log/inclusion", {"index": index, "size": size})
    try:
        items = require(answer, "proof", list, "inclusion proof")
        return [parse_b64url(item, f"inclusion proof.proof[{i}]") for i, item in enumerate(items)]
    except FormatError as exc:
        raise CollectorMisbehaved(
            _("the collector's inclusion proof is malformed: {problem}").format(problem=exc)
        ) from exc


# --- the voter's e-ID ------------------------------------------------------------------------


def check_own_certificate(election: Election, certificate: x509.Certificate) -> VoterIdentity:
    """Before anything is sent: the e-ID chains to a CA the election trusts and is valid now.
    Revocation needs the CRL, which the collector checks (a refusal says so)."""
    store = election.manifest.trust.eid_trust_store(require_crl=False)
    try:
        return check_certificate(certificate, store, _utc_now(), field="your e-ID")
    except (eid_errors.CertificateExpired, eid_errors.CertificateNotYetValid) as exc:
        raise NotEligible("certificate_expired", exc.problem) from exc
    except eid_errors.UntrustedIssuer as exc:
        raise NotEligible("certificate_untrusted", exc.problem) from exc
    except CryptoError as exc:
        raise NotEligible("certificate_invalid", str(exc)) from exc


# --- eligibility -----------------------------------------------------------------------------

# Why a voter cannot vote here, for the voter, by the collector's refusal code.
ELIGIBILITY_ADVICE = {
    "not_eligible": N_(
        "You are not on the voter list of this election, so you cannot vote here. If you "
        "think you should be on it, contact the election officials."
    ),
    "certificate_revoked": N_(
        "Your e-ID certificate is revoked, so it cannot be used to vote. Contact your e-ID "
        "issuer for a new one, or vote at a polling station."
    ),
    "certificate_expired": N_(
        "Your e-ID certificate has expired or is not valid yet. Renew your e-ID, or vote at a "
        "polling station."
    ),
    "certificate_untrusted": N_(
        "Your e-ID was not issued by a certificate authority this election trusts. Use your "
        "national e-ID, or vote at a polling station."
    ),
    "certificate_invalid": N_(
        "Your e-ID certificate cannot be used to vote. Contact your e-ID issuer, or vote at a "
        "polling station."
    ),
    "signature_invalid": N_(
        "The collector could not check your e-ID's signature. Try again; if it happens again, "
        "contact your e-ID issuer."
    ),
    "election_closed": N_(
        "This election is closed: the officials have closed the ballot collector, and no more "
        "ballots are taken."
    ),
}


class NotEligible(VoterAppError):
    """This voter cannot vote here: `code` is the collector's refusal code (collector/errors.py
    CODES: not_eligible, certificate_revoked, certificate_expired, certificate_untrusted,
    certificate_invalid, signature_invalid, election_closed), the message says it in plain
    words with what to do."""

    def __init__(self, code: str, detail: str | None = None) -> None:
        advice = ELIGIBILITY_ADVICE.get(code)
        message = _(advice) if advice else _("You cannot vote here ({code}).").format(code=code)
        super().__init__(f"{message} ({detail})" if detail else message)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Eligibility:
    """The collector's signed word, checked, on this voter before they choose."""

    voter: VoterIdentity  # from the voter's own certificate (crypto.eid)
    district: District  # the voter's own district (formats.manifest.District)
    status: str  # "open" | "not_open" | "over" | "closed" (the collector's word)
    has_ballot: bool  # a ballot of this voter is already in the log (a revote replaces it)
    at: dt.datetime = field(default=dt.datetime.fromtimestamp(0, dt.UTC))  # collector's clock
    # the collector's signed answer: evidence if it named another district
    document: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def check_eligibility(client: CollectorClient, election: Election, signer: Signer) -> Eligibility:
    """Ask the collector, with a request signed by the e-ID over a fresh challenge, whether this
    voter may vote here, in which district, and whether the election is open. The voter's
    certificate is checked here first (chain and validity); the collector's answer must be
    signed by a collector of the manifest, for this election, manifest, challenge and voter,
    name a district of the manifest and a status that its own clock and the period allow.
    NotEligible for a voter who cannot vote here; CollectorMisbehaved for a bad answer."""
    identity = check_own_certificate(election, signer.certificate)
    manifest = election.manifest
    try:
        challenge = fetch_challenge(client)
    except CollectorRefused as exc:
        if exc.code == "election_closed":
            raise NotEligible(exc.code) from exc
        raise VoterAppError(refusal_message(exc)) from exc
    request = EligibilityRequest.for_manifest(manifest, challenge)
    signed = sign_object(signer, DOMAINS["eligibility_request"], request.to_dict())
    try:
        document = client.post("/v1/eligibility", signed)
    except CollectorRefused as exc:
        if exc.code in ELIGIBILITY_ADVICE:
            raise NotEligible(exc.code, exc.message) from exc
        raise VoterAppError(refusal_message(exc)) from exc
    payload = open_official(election, document, DOMAINS["eligibility"], "eligibility answer")
    try:
        answer = EligibilityAnswer.from_dict(payload, "eligibility answer")
    except FormatError as exc:
        raise CollectorMisbehaved(
            _("the collector's eligibility answer is malformed: {problem}").format(problem=exc)
        ) from exc
    if answer.election_id != manifest.election_id or answer.manifest_hash != manifest.hash:
        raise CollectorMisbehaved(_("the eligibility answer is for another election"))
    if answer.challenge != challenge:
        raise CollectorMisbehaved(_("the eligibility answer is not the answer to this request"))
    if answer.personal_code != identity.personal_code:
        raise CollectorMisbehaved(_("the eligibility answer is about another voter"))
    try:
        district = manifest.district(answer.district)
    except FormatError as exc:
        raise CollectorMisbehaved(
            _(
                "the eligibility answer names a district this election does not have: {problem}"
            ).format(problem=exc)
        ) from exc
    if answer.status != status_at(manifest, answer.at, answer.status == "closed"):
        raise CollectorMisbehaved(
            _(
                "the eligibility answer says {status!r}, which the voting period does not allow "
                "at the time it gives"
            ).format(status=answer.status)
        )
    return Eligibility(
        identity,
        district,
        answer.status,
        answer.has_ballot,
        dt.datetime.fromtimestamp(answer.at / 1000, dt.UTC),
        document,
    )


# --- choices ---------------------------------------------------------------------------------

# What a voter may type for the "vote no" box besides its catalog label (in either language):
# its number, and the short word. The word is taken before a name's prefix, so "no" never
# picks a candidate or answer whose name starts with it.
VOTE_NO_WORDS = ("0", "no")
# A choose-several contest's ballot that marks no candidate (where the contest allows it).
BLANK_TEXT = N_("blank (no candidate marked)")


def vote_no_labels() -> tuple[str, ...]:
    """The "vote no" box's label in every language (casefolded), e.g. "vote no",
    "ไม่ประสงค์ลงคะแนน"."""
    return tuple(VOTE_NO_NAME.text(code).casefold() for code in LANGUAGES)


def _names(candidate: Candidate) -> list[str]:
    """A candidate's (party's, answer's) name in every language it has, casefolded."""
    return [text.casefold() for text in candidate.name.all_texts() if text]


def resolve_choice(contest: Contest, text: str) -> int:
    """A choice number from what the voter typed: the number; a name in any language
    (case-insensitive, the whole name or a unique prefix); for the "vote no" box 0, "no" or
    its label in any language. VoterAppError, naming the contest, for anything else."""
    wanted = " ".join(text.split())
    folded = wanted.casefold()
    if not folded:
        raise VoterAppError(_("{contest}: no choice given").format(contest=contest.name))
    if folded.isdigit() and int(folded) != VOTE_NO:
        number = int(folded)
        if any(c.number == number for c in contest.candidates):
            return number
        raise VoterAppError(
            _("{contest} has no candidate number {number}").format(
                contest=contest.name, number=number
            )
        )
    exact = [c for c in contest.candidates if folded in _names(c)]
    if len(exact) == 1:
        return exact[0].number
    if folded in VOTE_NO_WORDS or folded in vote_no_labels():
        if contest.vote_no:
            return VOTE_NO
        raise VoterAppError(
            _('{contest} has no "vote no" box: choose one of its {count} choices').format(
                contest=contest.name, count=len(contest.candidates)
            )
        )
    partial = [c for c in contest.candidates if any(n.startswith(folded) for n in _names(c))]
    if len(partial) == 1:
        return partial[0].number
    if len(exact) > 1 or len(partial) > 1:
        names = ", ".join(f"{c.number} {c.name}" for c in exact or partial)
        raise VoterAppError(
            _("{contest}: {text!r} matches several choices ({names}): give the number").format(
                contest=contest.name, text=wanted, names=names
            )
        )
    raise VoterAppError(
        _("{contest} has no candidate {text!r}").format(contest=contest.name, text=wanted)
    )


def describe(contest: Contest, choice: Choice) -> str:
    """A choice for people, in the current language: "1 Name (Party)", a party or a
    referendum's answer "2 Name", and the "vote no" box by its label alone (it has no number
    on the paper ballot); a choose-several contest's marks in ballot order, separated by
    commas, or BLANK_TEXT when none is marked."""
    if not isinstance(choice, int):
        marked = [c.number for c in contest.candidates if c.number in choice]
        return ", ".join(describe(contest, n) for n in marked) if marked else _(BLANK_TEXT)
    candidate = contest.candidate(choice)
    if candidate.is_vote_no:
        return str(candidate.name)
    party = f" ({candidate.party})" if candidate.party else ""
    return f"{candidate.number} {candidate.name}{party}"


# --- preparing, casting, auditing ------------------------------------------------------------


@dataclass
class PreparedBallot:
    """An encrypted ballot the voter has not yet decided to cast or audit. `payload_hash`
    (H of the unsigned payload) is shown before the decision: Benaloh's commitment."""

    election: Election
    district: str
    choices: dict[str, Choice]
    payload: dict[str, Any]
    randomness: dict[str, tuple[int, ...]]
    # the 128-bit seed the encryption randomness is derived from (the check code carries it)
    seed: bytes = field(default=b"", repr=False)
    payload_hash: bytes = field(init=False)

    def __post_init__(self) -> None:
        self.payload_hash = object_hash(self.payload)


def fetch_challenge(client: CollectorClient) -> bytes:
    answer = client.post("/v1/challenges")
    try:
        return parse_b64url(require(answer, "challenge", str, "challenge"), "challenge")
    except FormatError as exc:
        raise CollectorMisbehaved(
            _("the collector's challenge is malformed: {problem}").format(problem=exc)
        ) from exc


def prepare_ballot(
    client: CollectorClient,
    election: Election,
    district: str,
    choices: Mapping[str, Choice],
    store: VoterStore | None = None,
) -> PreparedBallot:
    """Fetch a one-time challenge and encrypt the choices with their proofs, the encryption
    randomness derived from a fresh 128-bit seed (the check code carries the seed). Nothing is
    encrypted under a key its proofs do not prove well formed: unless `election` comes from
    check_key_proofs, it is checked here (once per election with a `store`)."""
    the_district = election.district(district)
    for contest in the_district.contests:
        if contest.id not in choices:
            raise VoterAppError(_("no choice made in {contest}").format(contest=contest.name))
    if not election.key_proven:
        election = check_key_proofs(client, election, store)
    challenge = fetch_challenge(client)
    seed = secrets.token_bytes(SEED_BYTES)
    try:
        randomness = ballot_randomness(election.manifest, district, seed)
        payload, randomness = build_ballot(
            election.manifest, district, choices, challenge, randomness
        )
    except (FormatError, CryptoError) as exc:
        raise VoterAppError(_("the ballot cannot be made: {problem}").format(problem=exc)) from exc
    return PreparedBallot(election, district, dict(choices), payload, randomness, seed)


@dataclass(frozen=True)
class CastResult:
    receipt: Receipt
    receipt_document: dict[str, Any]
    ballot_hash: bytes
    check_code: CheckCode
    verification_code: str
    record_path: str | None


def _record(
    prepared: PreparedBallot, client: CollectorClient, signed: dict[str, Any], status: str
) -> dict[str, Any]:
    return {
        "status": status,
        "collector": client.base_url,
        "election_id": prepared.election.manifest.election_id,
        "manifest_hash": b64url(prepared.election.manifest.hash),
        "district": prepared.district,
        "choices": choices_json(prepared.choices),
        "signed_ballot": signed,
        "randomness": {cid: [hex_int(r) for r in rs] for cid, rs in prepared.randomness.items()},
    }


def cast_ballot(
    client: CollectorClient,
    prepared: PreparedBallot,
    signer: Signer,
    store: VoterStore | None = None,
    pin: str | None = None,
) -> CastResult:
    """Sign and send the prepared ballot, check the receipt, seal the record under the PIN.

    The record is sealed before sending (status "sent"), so a ballot whose answer is lost is
    still on disk; the transport resends the same signed ballot on transient failures."""
    election = prepared.election
    signed = sign_object(signer, DOMAINS["ballot"], prepared.payload)
    this_hash = ballot_hash(signed)
    saving = store is not None and pin is not None
    record = _record(prepared, client, signed, "sent")
    if saving:
        store.save_record(this_hash, record, pin)  # type: ignore[union-attr, arg-type]
    try:
        document = client.post("/v1/ballots", signed)
    except CollectorRefused as exc:
        if saving:  # `vote receipts` shows it refused, and why, not as sent
            record.update(status="refused", refusal={"code": exc.code, "message": exc.message})
            store.save_record(this_hash, record, pin)  # type: ignore[union-attr, arg-type]
        raise VoterAppError(refusal_message(exc)) from exc
    except CollectorUnreachable as exc:
        if saving:
            message = _(
                "{problem}. The ballot (kept, sealed, in your data directory) may or may not "
                "have arrived: cast again later; only your latest ballot counts"
            )
        else:
            message = _(
                "{problem}. The ballot may or may not have arrived: cast again later; only your "
                "latest ballot counts"
            )
        raise CollectorUnreachable(message.format(problem=exc)) from exc
    receipt = check_receipt(client, election, document, this_hash)
    code = CheckCode.for_ballot(prepared.seed, this_hash)
    path = None
    if saving:
        record.update(status="received", receipt=document, check_code=code.text)
        path = str(store.save_record(this_hash, record, pin))  # type: ignore[union-attr, arg-type]
    return CastResult(receipt, document, this_hash, code, verification_code(this_hash), path)


def audit_document(prepared: PreparedBallot) -> dict[str, Any]:
    """Benaloh's challenge: reveal the randomness and the choices of a prepared ballot. The
    ballot is never signed or sent; anyone can re-encrypt with `verify_audit`."""
    return {
        "version": FORMAT_VERSION,
        "kind": AUDIT_KIND,
        "payload": prepared.payload,
        "payload_hash": b64url(prepared.payload_hash),
        "choices": choices_json(prepared.choices),
        "randomness": {cid: [hex_int(r) for r in rs] for cid, rs in prepared.randomness.items()},
    }


def choices_json(choices: Mapping[str, Choice]) -> dict[str, Any]:
    """The choices for a JSON document (the ballot record, the audit): a candidate number, or
    for a choose-several contest the list of marked numbers in increasing order."""
    return {
        contest: choice if isinstance(choice, int) else sorted(choice)
        for contest, choice in choices.items()
    }


def choices_from_json(obj: dict[str, Any], where: str) -> dict[str, Choice]:
    """`choices_json` read back: a list of distinct numbers becomes a set of marks."""
    out: dict[str, Choice] = {}
    for contest, value in obj.items():
        if isinstance(value, list):
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                raise FormatError(f"{where}.choices.{contest}", "expected candidate numbers")
            if len(set(value)) != len(value):
                raise FormatError(f"{where}.choices.{contest}", "a candidate is given twice")
            out[contest] = frozenset(value)
        else:
            out[contest] = value
    return out


def _parse_randomness(obj: Any, where: str) -> dict[str, tuple[int, ...]]:
    if not isinstance(obj, dict):
        raise FormatError(where, "expected an object")
    out = {}
    for contest_id, values in obj.items():
        if not isinstance(values, list):
            raise FormatError(f"{where}.{contest_id}", "expected a list")
        out[contest_id] = tuple(
            parse_hex_int(v, f"{where}.{contest_id}[{i}]") for i, v in enumerate(values)
        )
    return out


@dataclass(frozen=True)
class AuditResult:
    payload_hash: bytes
    district: District
    choices: dict[str, Choice]  # what the ciphertexts hold, found by re-encryption


def verify_audit(manifest: Manifest, document: Any) -> AuditResult:
    """Check an audited ballot: the payload is a well-formed ballot of this election with valid
    proofs, and re-encrypting with the revealed randomness gives exactly its ciphertexts for
    the revealed choices."""
    try:
        check_version(document, "audit")
        if require(document, "kind", str, "audit") != AUDIT_KIND:
            raise FormatError("audit.kind", f"expected {AUDIT_KIND!r}")
        payload = require(document, "payload", dict, "audit")
        shown = parse_b64url(require(document, "payload_hash", str, "audit"), "audit.payload_hash")
        claimed = choices_from_json(require(document, "choices", dict, "audit"), "audit")
        randomness = _parse_randomness(require(document, "randomness", dict, "audit"), "audit")
        if object_hash(payload) != shown:
            raise VoterAppError(_("the audited ballot is not the one whose hash was shown"))
        ballot = parse_ballot(manifest, payload, "audit.payload")
        _verify_proofs(manifest, ballot)
        found = choices_in(manifest, ballot, randomness)
    except (FormatError, CryptoError) as exc:
        raise VoterAppError(_("the audit does not verify: {problem}").format(problem=exc)) from exc
    if found != claimed:
        contests = manifest.district(ballot.district).contests
        differing = [c for c in contests if found.get(c.id) != claimed.get(c.id)]
        raise VoterAppError(
            _(
                "the ballot holds {found}, not the choices the app revealed ({claimed}): the app "
                "did not encrypt honestly"
            ).format(
                found=_choices_text(differing, found), claimed=_choices_text(differing, claimed)
            )
        )
    return AuditResult(shown, manifest.district(ballot.district), found)


def _choices_text(contests: Sequence[Contest], choices: Mapping[str, Choice]) -> str:
    """Each contest and its choice ("Mayor: 1 Name; ..."), for a message; a choice that is
    no option of the contest, as a false claim may hold, is shown as given."""
    parts = []
    for contest in contests:
        choice = choices.get(contest.id)
        try:
            text = "-" if choice is None else describe(contest, choice)
        except (KeyError, TypeError):
            text = repr(choice)
        parts.append(f"{contest.name}: {text}")
    return "; ".join(parts)


def _verify_proofs(manifest: Manifest, ballot: Ballot) -> None:
    for statement in ballot_statements(manifest, ballot):
        verify_membership(
            statement.key,
            statement.ciphertext,
            statement.allowed,
            statement.proof,
            statement.context,
        )


# --- the vote check (second device): voter_app.check ---------------------------------------


# --- receipts against the published record ------------------------------------------------------

RECEIPT_EVIDENCE_TEXT = N_(
    "This receipt is signed evidence that the collector dropped, replaced or moved your "
    "ballot after acknowledging it. Keep the receipt file (ivote vote receipts --export DIR) "
    "and give it to the election officials and the observers; vote on paper if there is "
    "still time."
)


@dataclass(frozen=True)
class ReceiptVerdict:
    """One receipt against the final log: `problem` is None when it is there."""

    name: str
    ballot_hash: bytes | None
    log_index: int | None
    problem: str | None = None
    evidence: bool = False  # a genuine receipt the final log contradicts


@dataclass(frozen=True)
class PublishedLog:
    """The election record's manifest and final log, checked: the log head signed by a
    collector the manifest names, the leaf hashes rebuilding it."""

    manifest: Manifest
    head: LogHead
    leaves: tuple[bytes, ...]
    subtree: Callable[[int, int], bytes]  # crypto.merkle.cached_subtree_root of the leaves


def open_published_log(
    document: Any, fingerprint: str | None = None, allow_test_key: bool = False
) -> PublishedLog:
    """A record.json (or tally.json) document: its signed manifest (pinned to `fingerprint`
    when given; a test election only with `allow_test_key`) and its final log. FormatError or
    CryptoError name what is wrong."""
    from formats.receipt import open_final_head
    from formats.record import TALLY_KIND, ElectionRecord, Tally

    tally = (
        Tally.from_dict(document)
        if isinstance(document, Mapping) and document.get("kind") == TALLY_KIND
        else ElectionRecord.from_dict(document).tally
    )
    payload = open_signed(tally.manifest, DOMAINS["manifest"], where="record.manifest")[0]
    manifest = Manifest.from_dict(payload)
    if fingerprint is not None and manifest.fingerprint != "".join(fingerprint.split()).lower():
        raise FormatError("record.manifest", "not the manifest with the fingerprint given")
    manifest.refuse_test_key(allow_test_key)
    collectors = manifest.trust.collector_certificates
    subtree = merkle.cached_subtree_root(tally.log.leaves)
    head = open_final_head(
        tally.log.head, collectors, tally.log.leaves, "record.log.head", subtree
    )
    return PublishedLog(manifest, head, tally.log.leaves, subtree)


def verify_receipt(published: PublishedLog, name: str, document: Any) -> ReceiptVerdict:
    """One receipt (a signed receipt document) against the published final log."""
    from formats.receipt import ReceiptContradicted, check_receipt_in_log

    manifest = published.manifest
    try:
        receipt = check_receipt_in_log(
            document,
            manifest.election_id,
            manifest.trust.collector_certificates,
            published.head,
            published.leaves,
            subtree=published.subtree,
        )
    except ReceiptContradicted as exc:
        return ReceiptVerdict(name, _named_ballot(document), None, exc.problem, evidence=True)
    except (FormatError, CryptoError) as exc:
        return ReceiptVerdict(
            name,
            _named_ballot(document),
            None,
            _("not a valid receipt: {problem}").format(problem=exc),
        )
    return ReceiptVerdict(name, receipt.ballot_hash, receipt.log_index)


def _named_ballot(document: Any) -> bytes | None:
    try:
        return parse_b64url(document["payload"]["ballot_hash"], "ballot_hash")
    except (KeyError, TypeError, FormatError):
        return None


def stored_receipts(
    store: VoterStore, pin: str, manifest: Manifest
) -> tuple[list[tuple[str, Any]], list[str]]:
    """The receipts this computer stored for this election (records opened with the PIN whose
    `manifest_hash` is the manifest's and that hold a receipt), and the records sealed under
    another PIN (skipped)."""
    opened, skipped = _open_records(store, pin)
    found = [
        (path.name, record["receipt"])
        for path, record in opened
        if record.get("manifest_hash") == b64url(manifest.hash) and "receipt" in record
    ]
    return found, skipped


def _open_records(
    store: VoterStore, pin: str
) -> tuple[list[tuple[Any, dict[str, Any]]], list[str]]:
    """The ballot records that open with the PIN, in the order they were written, and the names
    of those sealed under another PIN."""
    from crypto.errors import SealError

    opened: list[tuple[Any, dict[str, Any]]] = []
    skipped: list[str] = []
    for path in store.record_paths():
        try:
            opened.append((path, store.load_record(path, pin)))
        except SealError:
            skipped.append(path.name)
    return opened, skipped


# --- the ballots this computer cast -----------------------------------------------------------


@dataclass(frozen=True)
class StoredBallot:
    """One sealed ballot record, as `ivote vote receipts` shows it."""

    path: str
    ballot_hash: bytes
    election_id: str
    district: str
    status: str  # "received" (with a checked receipt) | "refused" | "sent" (no answer)
    received: int | None = None  # ms, the receipt's
    log_index: int | None = None
    check_code: str | None = None
    refusal_code: str | None = None
    refusal_message: str | None = None
    receipt: dict[str, Any] | None = None
    counts_now: bool = False  # the latest received ballot of its election on this computer


def _hash_of_name(path: Any) -> bytes:
    try:
        return bytes.fromhex(path.name.split(".")[0])
    except ValueError:
        raise FormatError(str(path), "not a ballot record of this app") from None


def stored_ballots(store: VoterStore, pin: str) -> tuple[list[StoredBallot], list[str]]:
    """The ballot records that open with the PIN, in the order they were written, the latest
    received ballot of each election marked `counts_now`; and the names of the records sealed
    under another PIN (none opening at all: a wrong PIN)."""
    found: list[StoredBallot] = []
    opened, skipped = _open_records(store, pin)
    for path, record in opened:
        receipt = record.get("receipt")
        payload = receipt.get("payload", {}) if isinstance(receipt, dict) else {}
        refusal = record.get("refusal") if isinstance(record.get("refusal"), dict) else {}
        signed = record.get("signed_ballot")
        found.append(
            StoredBallot(
                str(path),
                # a record without its signed ballot (an older app's) is named by its hash
                ballot_hash(signed) if isinstance(signed, dict) else _hash_of_name(path),
                str(record.get("election_id", "")),
                str(record.get("district", "")),
                str(record.get("status", "sent")),
                payload.get("received"),
                payload.get("log_index"),
                record.get("check_code"),
                refusal.get("code"),
                refusal.get("message"),
                receipt if isinstance(receipt, dict) else None,
            )
        )
    latest: dict[str, int] = {}  # election id -> position of its latest received ballot
    for position, ballot in enumerate(found):
        if ballot.status != "received" or ballot.received is None:
            continue
        best = latest.get(ballot.election_id)
        if best is None or (found[best].received or 0) <= ballot.received:
            latest[ballot.election_id] = position
    marked = set(latest.values())
    return [
        dataclasses.replace(b, counts_now=True) if i in marked else b for i, b in enumerate(found)
    ], skipped
