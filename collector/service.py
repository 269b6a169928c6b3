"""The collector's checks and their order: what happens to a signed ballot from the request
body to the signed receipt.

Cast checks, in this order, each refused with its own code (collector.errors):
 1. size limit                        too_large
 2. structure                         malformed / wrong_election
 3. election open (server clock)      election_not_open / election_over / election_closed
 4. challenge issued, unexpired, unused by another ballot     challenge_*
 5. signature, certificate chain, validity and revocation      signature_invalid / certificate_*
 6. the certificate's personal code fits the election's personal-code scheme and is on the
    voter list; the ballot is for the voter's district          not_eligible / wrong_district
 7. validity proofs of every ciphertext (batched)              proof_invalid
 8. a ciphertext already cast by another voter                 ballot_copied
A ballot already in the log (the app resending after a lost answer) gets its receipt again.

Eligibility checks (`answer_eligibility`), in this order: size, structure (a request signed
under its own domain), election and manifest, challenge, signature and certificate, voter
list; then the challenge is used and the collector signs its answer: the voter's district,
the election's status and whether the voter has a ballot in the log.
Proofs of concurrent requests are checked together by `ProofBatcher` (one batch_verify call),
and the ballots that pass are appended in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gmpy2
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from canonical.encoding import DOMAINS, FormatError, canonical_bytes, hex_int, parse_canonical
from collector.db import Database
from collector.errors import Refusal
from collector.limits import RateLimits
from collector.log import Appended, BallotLog, Candidate, ciphertext_digest, now_ms
from crypto import eid
from crypto.membership import MembershipStatement, batch_verify
from formats.ballot import (
    Ballot,
    BallotError,
    ballot_hash_of,
    ballot_statements,
    max_ballot_bytes,
    parse_ballot,
)
from formats.eligibility import (
    MAX_REQUEST_BYTES,
    EligibilityAnswer,
    EligibilityRequest,
    status_at,
)
from formats.keyproofs import key_proofs_problems
from formats.manifest import ElectionDirectory, Manifest, load_signed_manifest
from formats.personal_codes import problem as personal_code_problem
from formats.signed import open_signed, sign_object
from formats.voters import VoterList
from i18n import _

log = logging.getLogger("ivote.collector")

CERTIFICATE_CACHE_SECONDS = 60.0  # re-check chain, validity and revocation at least this often
RELOAD_CHECK_SECONDS = 5.0  # how often to look for new CRLs and voter list versions


class ConfigurationError(Exception):
    """The collector cannot start as configured; the message says what to fix."""


@dataclass
class Settings:
    election_dir: Path
    db_url: str
    key_path: Path
    passphrase: str = field(repr=False)
    crl_paths: tuple[Path, ...] = ()
    challenge_ttl_s: int = 600
    limits: RateLimits = field(default_factory=RateLimits)
    trusted_proxies: tuple[str, ...] = ()  # whose X-Forwarded-For names the client
    batch_wait_ms: float = 100.0  # the longest a cast waits for others to batch with
    max_batch: int = 64
    allow_test_key: bool = False  # a test election (formats.manifest.Manifest.test_election)


def _check_scheme(scheme: str, personal_code: str) -> None:
    """A certificate's code that does not fit the election's scheme cannot be on the (checked)
    voter list: not_eligible, saying why (never quoting the code)."""
    if personal_code_problem(scheme, personal_code) is not None:
        raise Refusal(
            "not_eligible",
            f"the certificate's personal code does not fit the election's personal-code "
            f"scheme ({scheme})",
        )


def _eid_refusal(error: eid.EidError) -> Refusal:
    detail = str(error)
    if isinstance(error, eid.SignatureInvalid):
        return Refusal("signature_invalid", detail)
    if isinstance(error, (eid.CertificateExpired, eid.CertificateNotYetValid)):
        return Refusal("certificate_expired", detail)
    if isinstance(error, eid.CertificateRevoked):
        return Refusal("certificate_revoked", detail)
    if isinstance(error, eid.UntrustedIssuer):
        return Refusal("certificate_untrusted", detail)
    return Refusal("certificate_invalid", detail)


def _ms(moment: dt.datetime) -> int:
    """A time as the log writes it: integer ms since the epoch (whole seconds are exact)."""
    return int(moment.timestamp() * 1000)


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def _is_self_signed(certificate: x509.Certificate) -> bool:
    return certificate.issuer == certificate.subject


def crl_files(settings: Settings) -> list[Path]:
    """The CRL files: those named, else every *.crl / *.pem in ELECTION/crls/."""
    if settings.crl_paths:
        return list(settings.crl_paths)
    directory = settings.election_dir / "crls"
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix in {".crl", ".pem", ".der"})


class Election:
    """What the collector knows about its election: the manifest, the voter list (newest
    version, reloaded when officials add one), the e-ID trust store with CRLs (reloaded when
    they change) and the collector's signing key."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        directory = ElectionDirectory(settings.election_dir)
        self.directory = directory
        try:
            self.signed_manifest_bytes = directory.signed_manifest.read_bytes()
            organiser = directory.organiser_certificate.read_bytes()
        except OSError as exc:
            raise ConfigurationError(
                f"{exc.filename}: cannot read ({exc.strerror}); is --election an election "
                "directory with its key ceremony done?"
            ) from exc
        self.manifest: Manifest = load_signed_manifest(
            self.signed_manifest_bytes, organiser_certificate=organiser
        )
        self.signed_manifest = parse_canonical(self.signed_manifest_bytes, "signed manifest")
        try:
            self.manifest.refuse_test_key(settings.allow_test_key)
        except FormatError as exc:
            raise ConfigurationError(str(exc)) from exc
        if self.manifest.test_election:
            log.warning("TEST ELECTION: %s", self.manifest.test_election)
        # the key-proofs document as published (GET /v1/key-proofs); `serve` checks it first
        # (key_proofs_problems), close and export do not need it
        self.key_proofs_bytes: bytes | None = None
        self._key_proofs_unreadable: str | None = None
        try:
            self.key_proofs_bytes = directory.key_proofs.read_bytes().rstrip(b"\n")
        except FileNotFoundError:
            pass
        except OSError as exc:
            self._key_proofs_unreadable = exc.strerror or exc.__class__.__name__
        try:
            key_bytes = settings.key_path.read_bytes()
        except OSError as exc:
            raise ConfigurationError(
                f"{settings.key_path}: cannot read the collector's key ({exc.strerror})"
            ) from exc
        self.signer = eid.load_pkcs12_signer(key_bytes, settings.passphrase, str(settings.key_path))
        listed = self.manifest.trust.collector_certificates
        if listed and _der(self.signer.certificate) not in listed:
            raise ConfigurationError(
                f"{settings.key_path}: this key's certificate is not one of the manifest's "
                "collector certificates; voters could not check its receipts"
            )
        self.max_ballot_bytes = max_ballot_bytes(self.manifest)
        cas = self.manifest.trust.eid_cas()
        self._roots = [c for c in cas if _is_self_signed(c)]
        self._intermediates = [c for c in cas if not _is_self_signed(c)]
        self._lock = threading.Lock()
        self._last_reload = 0.0
        self._crl_stamp: tuple[Any, ...] = ()
        self._voter_stamp: tuple[Any, ...] = ()
        self.trust: eid.TrustStore
        self.voter_list: VoterList
        # certificate hash -> (when checked, outcome, revocation dates the CRLs list for it);
        # emptied when the CRLs change
        self._certificates: dict[
            bytes, tuple[float, eid.VoterIdentity | eid.EidError, tuple[dt.datetime, ...]]
        ] = {}
        self._reload(force=True)

    def key_proofs_problems(self) -> list[str]:
        """Why ELECTION/key-proofs.json does not prove the manifest's key well formed, each in
        one line (formats.keyproofs.key_proofs_problems, the one check); none when it does.
        The file must also be the canonical encoding of the document (and newlines), as the
        collector serves its bytes and the voter app hashes them."""
        path = self.directory.key_proofs
        if self._key_proofs_unreadable is not None:
            return [
                _("{path}: cannot read ({reason})").format(
                    path=path, reason=self._key_proofs_unreadable
                )
            ]
        document = None
        if self.key_proofs_bytes is not None:
            try:
                document = parse_canonical(self.key_proofs_bytes, str(path))
            except FormatError as exc:
                return [_("{path} is not JSON: {problem}").format(path=path, problem=exc)]
        log.info("checking that the election key is well formed (%s)", path)
        problems = key_proofs_problems(document, self.manifest)
        if not problems and canonical_bytes(document) != self.key_proofs_bytes:
            problems.append(_("{path} is not in canonical encoding").format(path=path))
        if not problems:
            log.info("the key-proofs document proves the election key well formed")
        return problems

    # --- reloading CRLs and voter lists --------------------------------------------------------
    def _stamp(self, paths: Sequence[Path]) -> tuple[Any, ...]:
        return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths)

    def _reload(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_reload < RELOAD_CHECK_SECONDS:
            return
        with self._lock:
            self._last_reload = now
            crls = crl_files(self.settings)
            stamp = self._stamp(crls)
            if force or stamp != self._crl_stamp:
                if not crls:
                    raise ConfigurationError(
                        "no CRL: put the e-ID CAs' CRLs in ELECTION/crls/ or name them with "
                        "--crl (without one, no certificate's revocation can be checked)"
                    )
                self.trust = eid.load_trust_store(
                    [_der(c) for c in self._roots],
                    [_der(c) for c in self._intermediates],
                    [p.read_bytes() for p in crls],
                )
                self._crl_stamp = stamp
                self._certificates = {}
                if not force:
                    log.info("reloaded %d CRL file(s)", len(crls))
            voter_files = sorted(self.directory.voters.glob("list-*.json"))
            stamp = self._stamp(voter_files)
            if force or stamp != self._voter_stamp:
                lists = self.directory.voter_lists(self.manifest)
                self.voter_list = lists[-1]
                self._voter_stamp = stamp
                log.info("voter list version %d: %d voters", lists[-1].list_version, len(lists[-1]))

    def refresh(self) -> None:
        """Pick up new CRLs and voter list versions (at most every few seconds); a broken new
        file is logged and the previous one kept."""
        try:
            self._reload()
        except (FormatError, eid.EidError, OSError, ConfigurationError) as exc:
            log.error("keeping the previous CRLs / voter list: %s", exc)

    # --- checks ------------------------------------------------------------------------------
    def check_certificate(
        self, certificate: x509.Certificate, at: dt.datetime
    ) -> tuple[eid.VoterIdentity, tuple[dt.datetime, ...]]:
        """check_certificate with a short per-certificate cache (chain building and CRL
        lookups cost more than the signature itself): the identity, and the revocation
        dates the CRLs list for the certificate (all after `at`: a cached outcome is re-checked
        against them and the validity period at `at`)."""
        outcome, revocations = self._checked(certificate, at)
        if isinstance(outcome, eid.EidError):
            raise _eid_refusal(outcome)
        if not outcome.not_before <= at <= outcome.not_after:
            raise Refusal("certificate_expired", f"not valid at {at.isoformat()}")
        revoked = [date for date in revocations if date <= at]
        if revoked:
            raise Refusal("certificate_revoked", f"revoked {min(revoked).isoformat()}")
        return outcome, revocations

    def _checked(
        self, certificate: x509.Certificate, at: dt.datetime
    ) -> tuple[eid.VoterIdentity | eid.EidError, tuple[dt.datetime, ...]]:
        """The cached outcome of eid.check_certificate and the certificate's listed
        revocation dates (both from the current CRLs)."""
        key = hashlib.sha256(_der(certificate)).digest()
        cached = self._certificates.get(key)
        moment = time.monotonic()
        if cached is not None and moment - cached[0] < CERTIFICATE_CACHE_SECONDS:
            return cached[1], cached[2]
        outcome: eid.VoterIdentity | eid.EidError
        try:
            outcome = eid.check_certificate(certificate, self.trust, at, field="certificate")
        except eid.EidError as exc:
            outcome = exc
        revocations = tuple(eid.listed_revocations(certificate, self.trust))
        self._certificates[key] = (moment, outcome, revocations)
        return outcome, revocations

    def validity_window(
        self,
        identity: eid.VoterIdentity,
        revocations: Sequence[dt.datetime],
        checked_at: int,
    ) -> tuple[int, int, str]:
        """The receive times (ms) at which the checks made at `checked_at` give the same
        answer, as the tally makes them (docs/spec.md, "Tally", step 2): the voting period
        [start, end), the certificate's validity [notBefore, notAfter] and any revocation
        its CRLs list for a later date. Returns (from, until, refusal code past `until`)."""
        period = self.manifest.period
        valid_from = max(_ms(period.start), _ms(identity.not_before))
        ends = [
            (_ms(period.end), "election_over"),
            (_ms(identity.not_after) + 1, "certificate_expired"),
        ]
        ends += [
            (_ms(date), "certificate_revoked") for date in revocations if _ms(date) > checked_at
        ]
        valid_until, code = min(ends)
        return valid_from, valid_until, code

    def check_open(self, at: dt.datetime) -> None:
        period = self.manifest.period
        if at < period.start:
            raise Refusal("election_not_open", f"voting opens at {period.start.isoformat()}")
        if at >= period.end:
            raise Refusal("election_over", f"voting closed at {period.end.isoformat()}")

    def sign(self, domain: str, payload: dict[str, Any]) -> dict[str, Any]:
        return sign_object(self.signer, domain, payload)


@dataclass
class Checked:
    """A ballot that passed checks 1-6, waiting for its proofs and the append."""

    candidate: Candidate
    statements: list[MembershipStatement]


def precheck(election: Election, ballot_log: BallotLog, body: bytes) -> Checked | bytes:
    """Checks 1-6 (and the resend case, which returns the stored receipt)."""
    if len(body) > election.max_ballot_bytes:
        raise Refusal("too_large", f"{len(body)} bytes, at most {election.max_ballot_bytes}")
    try:
        document = parse_canonical(body, "ballot")
    except FormatError as exc:
        raise Refusal("malformed", str(exc)) from exc
    manifest = election.manifest
    signature_error: eid.EidError | None = None
    try:
        payload, certificate, _ = open_signed(document, DOMAINS["ballot"], where="ballot")
    except FormatError as exc:
        raise Refusal("malformed", str(exc)) from exc
    except eid.EidError as exc:
        # Reported after the election and challenge checks, as the order says; the envelope's
        # structure was checked before the signature, so the payload is there.
        signature_error = exc
        payload, certificate = document["payload"], None
    try:
        ballot: Ballot = parse_ballot(manifest, payload)
    except BallotError as exc:
        code = (
            "wrong_election"
            if exc.field in {"ballot.election_id", "ballot.manifest_hash"}
            else "malformed"
        )
        raise Refusal(code, str(exc)) from exc
    except FormatError as exc:
        raise Refusal("malformed", str(exc)) from exc
    canonical = canonical_bytes(document)  # what the log keeps, and what its hash names
    digest = ballot_hash_of(canonical)
    stored, closed, challenge_row = ballot_log.lookup(digest, ballot.challenge)
    if stored is not None:
        return stored
    now = now_ms()
    at = dt.datetime.fromtimestamp(now / 1000, dt.UTC)
    election.check_open(at)
    if closed:
        raise Refusal("election_closed")
    ballot_log.challenge_refusal(challenge_row, digest, now)
    if signature_error is not None:
        raise _eid_refusal(signature_error)
    assert certificate is not None
    election.refresh()
    identity, revocations = election.check_certificate(certificate, at)
    _check_scheme(manifest.personal_code_scheme, identity.personal_code)
    district = election.voter_list.district_of(identity.personal_code)
    if district is None:
        raise Refusal("not_eligible", "the certificate's personal code is not on the voter list")
    if district != ballot.district:
        raise Refusal("wrong_district", f"the voter votes in {district!r}, not {ballot.district!r}")
    try:
        statements = ballot_statements(manifest, ballot)
    except BallotError as exc:
        raise Refusal("malformed", str(exc)) from exc
    valid_from, valid_until, late_code = election.validity_window(identity, revocations, now)
    candidate = Candidate(
        ballot_hash=digest,
        ballot=canonical,
        voter=identity.personal_code,
        district=district,
        challenge=ballot.challenge,
        ciphertext_digests=tuple(ciphertext_digest(hex_int(c)) for c in ballot.ciphertexts()),
        valid_from=valid_from,
        valid_until=valid_until,
        late_code=late_code,
    )
    return Checked(candidate, statements)


def answer_eligibility(election: Election, ballot_log: BallotLog, body: bytes) -> dict[str, Any]:
    """The collector's signed answer to a voter's signed eligibility request (docs/spec.md,
    "Eligibility"), or a Refusal with the code of the first check that fails."""
    if len(body) > MAX_REQUEST_BYTES:
        raise Refusal("too_large", f"{len(body)} bytes, at most {MAX_REQUEST_BYTES}")
    try:
        document = parse_canonical(body, "eligibility request")
    except FormatError as exc:
        raise Refusal("malformed", str(exc)) from exc
    signature_error: eid.EidError | None = None
    where = "eligibility request"
    try:
        payload, certificate, _ = open_signed(document, DOMAINS["eligibility_request"], where=where)
    except FormatError as exc:  # a ballot or any other signed object lands here (its domain)
        raise Refusal("malformed", str(exc)) from exc
    except eid.EidError as exc:
        signature_error = exc
        payload, certificate = document["payload"], None
    try:
        request = EligibilityRequest.from_dict(payload, f"{where}.payload")
    except FormatError as exc:
        raise Refusal("malformed", str(exc)) from exc
    manifest = election.manifest
    if request.election_id != manifest.election_id or request.manifest_hash != manifest.hash:
        raise Refusal("wrong_election", "the request names another election or manifest")
    request_hash = hashlib.sha256(canonical_bytes(document)).digest()
    now = now_ms()
    BallotLog.challenge_refusal(ballot_log.challenge_row(request.challenge), request_hash, now)
    if signature_error is not None:
        raise _eid_refusal(signature_error)
    assert certificate is not None
    election.refresh()
    at = dt.datetime.fromtimestamp(now / 1000, dt.UTC)
    identity, _ = election.check_certificate(certificate, at)
    _check_scheme(manifest.personal_code_scheme, identity.personal_code)
    district = election.voter_list.district_of(identity.personal_code)
    if district is None:
        raise Refusal("not_eligible", "the certificate's personal code is not on the voter list")
    closed, has_ballot = ballot_log.use_for_eligibility(
        request.challenge, request_hash, identity.personal_code, now
    )
    answer = EligibilityAnswer(
        manifest.election_id,
        manifest.hash,
        request.challenge,
        identity.personal_code,
        district,
        status_at(manifest, now, closed),
        has_ballot,
        now,
    )
    return election.sign(DOMAINS["eligibility"], answer.to_dict())


def _release_gil_in_this_thread() -> None:
    # gmpy2's context is per thread: here its long powers (the batch check's n-bit one above
    # all) let the event loop thread go on with other requests meanwhile.
    gmpy2.get_context().allow_release_gil = True


@dataclass
class _Waiting:
    checked: Checked
    future: asyncio.Future[Appended]
    arrived: float  # loop time


class ProofBatcher:
    """Checks the proofs of concurrent casts together, then appends them together.

    Two stages overlap, each running one job at a time in its own thread: the proof check of a
    batch (one batch_verify call; gmpy2 releases the GIL in its long powers, so that the event
    loop goes on with the checks of the next requests), and the append of every ballot whose
    proofs passed since the last append (one transaction; mostly waiting for the commit's
    fsync). The one n-bit exponentiation of a batch check is paid once for all its ballots, so
    a batch waits for as many ballots as the previous batch had (under load the same clients
    cast again), but at most `wait_ms` from its oldest ballot or from the end of the previous
    check, and it takes at most `max_batch`; a lone cast at a quiet time does not wait. The
    futures resolve only after the append has committed, so that no receipt is sent before
    its ballot and the signed head that covers it are durable.
    """

    def __init__(self, ballot_log: BallotLog, wait_ms: float, max_batch: int) -> None:
        self.log = ballot_log
        self.wait = wait_ms / 1000
        self.max_batch = max_batch
        self._waiting: list[_Waiting] = []
        self._verified: list[_Waiting] = []
        self._arrival = asyncio.Event()
        self._verified_ready = asyncio.Event()
        self._verifier = ThreadPoolExecutor(
            1, thread_name_prefix="proofs", initializer=_release_gil_in_this_thread
        )
        self._appender = ThreadPoolExecutor(1, thread_name_prefix="append")
        self._tasks: list[asyncio.Task[None]] = []
        self._free_since = 0.0  # loop time when the last proof check ended
        self._expected = 1  # ballots in the previous batch

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._check_proofs()), loop.create_task(self._append())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._verifier.shutdown(wait=True)
        self._appender.shutdown(wait=True)

    async def submit(self, checked: Checked) -> Appended:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Appended] = loop.create_future()
        self._waiting.append(_Waiting(checked, future, loop.time()))
        self._arrival.set()
        return await future

    async def _next_batch(self) -> list[_Waiting]:
        loop = asyncio.get_running_loop()
        while True:
            while not self._waiting:
                self._arrival.clear()
                await self._arrival.wait()
            opened = max(self._waiting[0].arrived, self._free_since)
            while len(self._waiting) < min(self._expected, self.max_batch):
                remaining = opened + self.wait - loop.time()
                if remaining <= 0:
                    break
                self._arrival.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._arrival.wait(), remaining)
            batch = self._waiting[: self.max_batch]
            del self._waiting[: self.max_batch]
            self._expected = len(batch)
            live = [w for w in batch if not w.future.done()]  # the client may have gone
            if live:
                return live

    async def _check_proofs(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._next_batch()
            statements: list[MembershipStatement] = []
            owner: list[int] = []
            for position, waiting in enumerate(batch):
                statements.extend(waiting.checked.statements)
                owner.extend([position] * len(waiting.checked.statements))
            try:
                bad = await loop.run_in_executor(self._verifier, batch_verify, statements)
            except Exception as exc:  # never leave a request hanging
                log.exception("checking the proofs of %d ballots failed", len(batch))
                _fail(batch, exc)
                continue
            finally:
                self._free_since = loop.time()
            log.debug("proofs of %d ballots checked (%d bad)", len(batch), len(bad))
            refused = {owner[i] for i in bad}
            for position in refused:
                _settle(batch[position].future, Refusal("proof_invalid"))
            self._verified.extend(w for p, w in enumerate(batch) if p not in refused)
            self._verified_ready.set()

    async def _append(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._verified_ready.wait()
            self._verified_ready.clear()
            batch, self._verified = self._verified, []
            if not batch:
                continue
            try:
                outcomes = await loop.run_in_executor(
                    self._appender, self.log.append, [w.checked.candidate for w in batch]
                )
            except Exception as exc:  # rolled back, or committed: a resend gets its receipt
                log.exception("appending %d ballots failed", len(batch))
                _fail(batch, exc)
                continue
            for waiting, outcome in zip(batch, outcomes, strict=True):
                _settle(waiting.future, outcome)


def _settle(future: asyncio.Future[Appended], outcome: Appended | Refusal) -> None:
    if future.done():  # the request was cancelled (client gone); a resend gets the receipt
        return
    if isinstance(outcome, Refusal):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _fail(batch: Sequence[_Waiting], exc: Exception) -> None:
    for waiting in batch:
        _settle(waiting.future, Refusal("unavailable", type(exc).__name__))


def open_database(settings: Settings) -> Database:
    return Database(settings.db_url)


def default_worker_count() -> int:
    return max(1, os.cpu_count() or 1)
