"""The simulated voters: each one runs the voter app's own library code (voter_app.voting) over
real HTTP to the collector process, in a pool of worker processes so that preparing ballots
(encryption and proofs, the costly part) uses every core.

Jobs and outcomes are plain picklable values; a worker never raises across the pool: a voter
app error comes back as `error` (its message), so one refusal cannot hang or kill the demo.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
from dataclasses import dataclass
from typing import Any

_STATE: dict[str, Any] = {}


def die_with_parent() -> None:
    """Ask Linux to SIGTERM this process when its parent dies (so nothing outlives the demo,
    even when the demo itself is killed with SIGKILL)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def init_worker(collector_url: str, fingerprint: str, test_election: bool = False) -> None:
    """Pool initializer: one voter app client per worker process."""
    from voter_app.transport import CollectorClient

    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the demo decides what Ctrl-C does
    _STATE["client"] = CollectorClient(collector_url)
    _STATE["fingerprint"] = fingerprint
    _STATE["allow_test_key"] = test_election


@dataclass(frozen=True)
class CastJob:
    personal_code: str
    district: str
    # contest id -> choice number (a choose-several contest: the marked numbers), every
    # contest of the ballot
    choices: dict[str, int | frozenset[int]]
    eid_path: str
    pin: str


@dataclass(frozen=True)
class CastOutcome:
    job: CastJob
    error: str | None = None
    ballot_hash: str = ""
    log_index: int = -1
    check_code: str = ""
    verification_code: str = ""
    receipt: dict[str, Any] | None = None  # the collector's signed receipt


def cast(job: CastJob) -> CastOutcome:
    """One voter casting, as `ivote vote cast` does it: fetch and check the election by its
    published fingerprint, open the e-ID with the PIN, check it, encrypt with proofs, sign,
    send, and check the receipt (collector signature, inclusion in the signed log)."""
    from voter_app.eid import open_eid
    from voter_app.voting import cast_ballot, check_own_certificate, fetch_election, prepare_ballot

    client = _STATE["client"]
    try:
        election = fetch_election(
            client, fingerprint=_STATE["fingerprint"], allow_test_key=_STATE["allow_test_key"]
        )
        election.require_open()
        election = _key_proven(client, election)
        signer = open_eid(job.eid_path, job.pin)
        identity = check_own_certificate(election, signer.certificate)
        if identity.personal_code != job.personal_code:
            return CastOutcome(job, f"the e-ID belongs to {identity.personal_code}")
        prepared = prepare_ballot(client, election, job.district, job.choices)
        # No sealed ballot store: sealing costs a 128 MiB scrypt per save, twice per ballot,
        # which is the voter's computer's business, not the demo's.
        result = cast_ballot(client, prepared, signer)
    except Exception as exc:  # any failure is reported by the demo, with the voter named
        return CastOutcome(job, f"{type(exc).__name__}: {exc}")
    return CastOutcome(
        job,
        None,
        result.ballot_hash.hex(),
        result.receipt.log_index,
        result.check_code.text,
        result.verification_code,
        result.receipt_document,
    )


def _key_proven(client: Any, election: Any) -> Any:
    """The election key's proofs (voter_app.voting.check_key_proofs), checked once per worker
    process: a voter app checks them once per election, and the demo's voters of one worker
    share its check as they share its client (at 3072 bits it costs seconds)."""
    import dataclasses

    from voter_app.voting import check_key_proofs

    if _STATE.get("key_proven") != election.manifest.hash:
        check_key_proofs(client, election)
        _STATE["key_proven"] = election.manifest.hash
    return dataclasses.replace(election, key_proven=True)


@dataclass(frozen=True)
class CheckOutcome:
    personal_code: str
    error: str | None = None
    found: dict[str, int | frozenset[int]] | None = None  # the choices the stored ballot holds
    signer: str = ""  # personal code of the e-ID that signed it


def check(personal_code: str, check_code: str) -> CheckOutcome:
    """The vote check from a second device (`ivote vote check`): trust the election by its
    published fingerprint, fetch the stored ballot by the check code's prefix, verify
    signature, receipt and log inclusion, open every contest's choice under the code's seed."""
    from voter_app.check import check_vote
    from voter_app.code import CheckCode
    from voter_app.voting import fetch_election

    try:
        client = _STATE["client"]
        election = fetch_election(
            client, fingerprint=_STATE["fingerprint"], allow_test_key=_STATE["allow_test_key"]
        )
        result = check_vote(client, election, CheckCode.parse(check_code))
    except Exception as exc:  # reported by the demo
        return CheckOutcome(personal_code, f"{type(exc).__name__}: {exc}")
    return CheckOutcome(personal_code, None, dict(result.choices), result.voter.personal_code)


def check_job(arguments: tuple[str, str]) -> CheckOutcome:
    return check(*arguments)
