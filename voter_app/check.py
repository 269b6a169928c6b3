"""The vote check on a second device (`ivote vote check`, the app's /check page).

docs/spec.md, "Vote check", is the normative list. From the check code (voter_app.code) the
device asks the collector for the ballots whose hash begins with the code's prefix, takes the
one whose ciphertexts open under the randomness derived from the code's seed, and checks it in
full: its hash, its receipt and inclusion in the signed log, the voter's signature, the
candidates it holds, and the collector's signed statement of the voter's latest ballot (with
the newer ballot itself, signed by the same e-ID holder, when the checked one is not the
latest). The seed never leaves the device: the collector sees only the prefix.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from canonical.encoding import DOMAINS, FormatError, b64url, require
from crypto.eid import VoterIdentity
from crypto.errors import CryptoError
from formats.ballot import (
    Ballot,
    Choice,
    ballot_hash,
    ballot_randomness,
    choices_in,
    parse_ballot,
)
from formats.ballot import verification_code as verification_code_of
from formats.manifest import District
from formats.receipt import LatestStatement, Receipt
from formats.signed import open_signed
from i18n import N_, _
from voter_app.code import CheckCode
from voter_app.transport import (
    CollectorClient,
    CollectorMisbehaved,
    CollectorRefused,
    VoterAppError,
)
from voter_app.voting import Election, check_receipt, open_official

# The collector's refusals of a check, for the voter (the collector's own texts are English).
REFUSALS = {
    "check_window_over": N_(
        "The time to check this vote is over: the collector allows checks only for a while "
        "after the ballot was received."
    ),
    "check_limit_reached": N_(
        "This vote has been checked as many times as the collector allows."
    ),
    "not_found": N_(
        "The collector has no ballot with this check code. Check that you typed the code of "
        "your latest ballot and that this app uses the election's collector."
    ),
}
NO_BALLOT_OPENS = N_(
    "The collector's ballot for this check code does not hold any candidate under the code: "
    "it is not the ballot your voting app made, or the code has a mistake. Compare the code "
    "with the one your voting app showed; if it is the same, tell the election officials."
)


class CheckRefused(VoterAppError):
    """The collector refused the check (`reason`: its code), said for the voter."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class CheckResult:
    election: Election
    district: District
    choices: dict[str, Choice]  # contest id -> the candidate number (the marks) it holds
    voter: VoterIdentity
    receipt: Receipt
    received: dt.datetime
    verification_code: str
    latest: LatestStatement
    # the voter's newer ballot, when this one is not the latest: its receipt
    newer: Receipt | None

    @property
    def is_latest(self) -> bool:
        return self.newer is None


def _signed_ballot(
    election: Election, signed: Any, received_ms: int, where: str
) -> tuple[Ballot, VoterIdentity]:
    """The ballot's signature, its e-ID chaining to the election's CAs at reception, and the
    payload's structure."""
    manifest = election.manifest
    received = dt.datetime.fromtimestamp(received_ms / 1000, dt.UTC)
    try:
        payload, _, identity = open_signed(
            signed,
            DOMAINS["ballot"],
            trust=manifest.trust.eid_trust_store(require_crl=False),
            at=received,
            where=where,
        )
        ballot = parse_ballot(manifest, payload, where)
    except (FormatError, CryptoError) as exc:
        raise CollectorMisbehaved(f"the {where} does not check: {exc}") from exc
    assert identity is not None  # open_signed returns one whenever a trust store is given
    return ballot, identity


def _opens(election: Election, signed: Any, code: CheckCode) -> dict[str, Choice] | None:
    """The candidates the ballot holds under the code's seed, or None when it does not open."""
    manifest = election.manifest
    try:
        payload = require(signed, "payload", dict, "stored ballot")
        ballot = parse_ballot(manifest, payload, "stored ballot")
        return choices_in(manifest, ballot, ballot_randomness(manifest, ballot.district, code.seed))
    except (FormatError, CryptoError):
        return None


def check_vote(client: CollectorClient, election: Election, code: CheckCode) -> CheckResult:
    """Fetch the ballots the code's prefix names, find the one the code's seed opens and check
    it (docs/spec.md, "Vote check"). VoterAppError says what failed."""
    manifest = election.manifest
    try:
        answer = client.get(f"/v1/ballots/{b64url(code.ballot_prefix)}")
    except CollectorRefused as exc:
        if exc.code in REFUSALS:
            raise CheckRefused(exc.code, _(REFUSALS[exc.code])) from exc
        raise
    try:
        items = require(answer, "ballots", list, "vote check")
        if not items:
            raise FormatError("vote check.ballots", "empty")
        found = None
        for i, item in enumerate(items):
            signed = require(item, "ballot", dict, f"vote check.ballots[{i}]")
            if not code.matches(ballot_hash(signed)):
                raise CollectorMisbehaved(
                    "the collector returned a ballot whose hash does not begin with the prefix"
                )
            choices = _opens(election, signed, code)
            if choices is not None:
                found = (item, signed, choices)
                break
        if found is None:
            raise VoterAppError(_(NO_BALLOT_OPENS))
        item, signed, choices = found
        receipt_document = require(item, "receipt", dict, "vote check")
        latest_document = require(item, "latest", dict, "vote check")
        newer_document = item.get("newer")
    except FormatError as exc:
        raise CollectorMisbehaved(f"the collector's answer is malformed: {exc}") from exc
    this_hash = ballot_hash(signed)
    receipt = check_receipt(client, election, receipt_document, this_hash)
    ballot, identity = _signed_ballot(election, signed, receipt.received, "stored ballot")
    latest = _latest(election, latest_document, receipt)
    newer = None
    if not latest.is_latest:
        newer = _newer(client, election, newer_document, latest, identity)
    elif newer_document is not None:
        raise CollectorMisbehaved("the collector sent a newer ballot of the latest one")
    return CheckResult(
        election,
        manifest.district(ballot.district),
        choices,
        identity,
        receipt,
        dt.datetime.fromtimestamp(receipt.received / 1000, dt.UTC),
        verification_code_of(this_hash),
        latest,
        newer,
    )


def _latest(election: Election, document: Any, receipt: Receipt) -> LatestStatement:
    """The collector's signed latest-ballot statement, about this very ballot."""
    payload = open_official(election, document, DOMAINS["latest_ballot"], "latest statement")
    try:
        statement = LatestStatement.from_dict(payload, "latest statement")
    except FormatError as exc:
        raise CollectorMisbehaved(f"the collector's latest statement is malformed: {exc}") from exc
    if (
        statement.election_id != election.manifest.election_id
        or statement.ballot_hash != receipt.ballot_hash
        or statement.log_index != receipt.log_index
    ):
        raise CollectorMisbehaved("the collector's latest statement is about another ballot")
    if statement.log_size < receipt.head.size:
        raise CollectorMisbehaved("the collector's latest statement names a log that shrank")
    return statement


def _newer(
    client: CollectorClient,
    election: Election,
    document: Any,
    latest: LatestStatement,
    voter: VoterIdentity,
) -> Receipt:
    """The newer ballot the statement names: signed by the same voter, in the signed log at
    the statement's latest index."""
    try:
        signed = require({"newer": document}, "newer", dict, "vote check")
        newer_ballot = require(signed, "ballot", dict, "vote check.newer")
        newer_receipt = require(signed, "receipt", dict, "vote check.newer")
    except FormatError as exc:
        raise CollectorMisbehaved(
            f"the collector says a newer ballot counts but does not show it: {exc}"
        ) from exc
    receipt = check_receipt(client, election, newer_receipt, ballot_hash(newer_ballot))
    if receipt.log_index != latest.latest_index:
        raise CollectorMisbehaved("the newer ballot is not at the index the statement names")
    _, identity = _signed_ballot(election, newer_ballot, receipt.received, "newer ballot")
    if identity.personal_code != voter.personal_code:
        raise CollectorMisbehaved("the newer ballot the collector shows is another voter's")
    return receipt

