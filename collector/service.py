"""The collector's checks and their order: what happens to a signed ballot from the request
body to the signed receipt.

Cast checks, in this order, each refused with its own code (collector.errors):
 1. size limit                        too_large
 2. structure                         malformed / wrong_election
 3. election open (server clock)      election_not_open / election_over / election_closed
 4. challenge issued, unexpired, unused by another ballot     challenge_*
 5. signature, certificate chain, validity and revocation      signature_invalid / certificate_*
 6. voter on the voter list, ballot for the voter's district  not_eligible / wrong_district
 7. validity proofs of every ciphertext (batched)              proof_invalid
 8. a ciphertext already cast by another voter                 ballot_copied
A ballot already in the log (the app resending after a lost answer) gets its receipt again.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from collector.db import Database
from collector.errors import Refusal
from collector.log import BallotLog, Candidate, ciphertext_digest, now_ms
from crypto import eid
from crypto.membership import MembershipStatement, batch_verify
from formats.ballot import (
    Ballot,
    BallotError,
    ballot_hash,
    ballot_statements,
    max_ballot_bytes,
    parse_ballot,
)
from formats.canonical import DOMAINS, FormatError, canonical_bytes, hex_int, parse_canonical
from formats.manifest import ElectionDirectory, Manifest, load_signed_manifest
from formats.signed import open_signed, sign_object
from formats.voters import VoterList

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
    challenge_ttl_s: int = 900
    batch_wait_ms: float = 3.0
    max_batch: int = 64


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
        self._certificates: dict[bytes, tuple[float, eid.VoterIdentity | eid.EidError]] = {}
        self._reload(force=True)

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
    ) -> eid.VoterIdentity:
        """check_certificate with a short per-certificate cache (chain building and CRL
        lookups cost more than the signature itself)."""
        der = _der(certificate)
        key = hashlib.sha256(der).digest()
        cached = self._certificates.get(key)
        moment = time.monotonic()
        if cached is not None and moment - cached[0] < CERTIFICATE_CACHE_SECONDS:
            outcome = cached[1]
        else:
            try:
                outcome = eid.check_certificate(certificate, self.trust, at, field="certificate")
            except eid.EidError as exc:
                outcome = exc
            self._certificates[key] = (moment, outcome)
        if isinstance(outcome, eid.EidError):
            raise _eid_refusal(outcome)
        if not outcome.not_before <= at <= outcome.not_after:
            raise Refusal("certificate_expired", f"not valid at {at.isoformat()}")
        return outcome

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
    digest = ballot_hash(document)
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
    identity = election.check_certificate(certificate, at)
    district = election.voter_list.district_of(identity.personal_code)
    if district is None:
        raise Refusal("not_eligible", "the certificate's personal code is not on the voter list")
    if district != ballot.district:
        raise Refusal("wrong_district", f"the voter votes in {district!r}, not {ballot.district!r}")
    try:
        statements = ballot_statements(manifest, ballot)
    except BallotError as exc:
        raise Refusal("malformed", str(exc)) from exc
    candidate = Candidate(
        ballot_hash=digest,
        ballot=canonical_bytes(document),
        voter=identity.personal_code,
        district=district,
        challenge=ballot.challenge,
        ciphertext_digests=tuple(ciphertext_digest(hex_int(c)) for c in ballot.ciphertexts()),
    )
    return Checked(candidate, statements)


class ProofBatcher:
    """Collects the casts that passed checks 1-6 for a few milliseconds, checks all their
    proofs with one batch_verify call (in a worker thread), appends the valid ballots in one
    transaction and answers every waiting request."""

    def __init__(self, ballot_log: BallotLog, wait_ms: float, max_batch: int) -> None:
        self.log = ballot_log
        self.wait = wait_ms / 1000
        self.max_batch = max_batch
        self.queue: asyncio.Queue[tuple[Checked, asyncio.Future[bytes]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def submit(self, checked: Checked) -> bytes:
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        await self.queue.put((checked, future))
        return await future

    async def _run(self) -> None:
        while True:
            batch = [await self.queue.get()]
            deadline = asyncio.get_running_loop().time() + self.wait
            while len(batch) < self.max_batch:
                timeout = deadline - asyncio.get_running_loop().time()
                if timeout <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self.queue.get(), timeout))
                except TimeoutError:
                    break
            live = [(c, f) for c, f in batch if not f.done()]
            try:
                await self._process(live)
            except Exception as exc:  # never leave a request hanging; the log stays consistent
                log.exception("batch of %d ballots failed", len(live))
                for _, future in live:
                    if not future.done():
                        future.set_exception(Refusal("unavailable", type(exc).__name__))

    async def _process(self, batch: list[tuple[Checked, asyncio.Future[bytes]]]) -> None:
        statements: list[MembershipStatement] = []
        owner: list[int] = []
        for position, (checked, _) in enumerate(batch):
            statements.extend(checked.statements)
            owner.extend([position] * len(checked.statements))
        bad = await asyncio.to_thread(batch_verify, statements)
        refused = {owner[i] for i in bad}
        valid = [(c, f) for position, (c, f) in enumerate(batch) if position not in refused]
        for position in refused:
            batch[position][1].set_exception(Refusal("proof_invalid"))
        if not valid:
            return
        outcomes = await asyncio.to_thread(self.log.append, [c.candidate for c, _ in valid])
        for (_, future), outcome in zip(valid, outcomes, strict=True):
            if isinstance(outcome, Refusal):
                future.set_exception(outcome)
            else:
                future.set_result(outcome.receipt)


def open_database(settings: Settings) -> Database:
    return Database(settings.db_url)


def default_worker_count() -> int:
    return max(1, os.cpu_count() or 1)
