"""The tally's cleansing (formats.cleansing, step 2) under a Thai-citizen-ID election: a
ballot signed by an e-ID whose personal code does not fit the scheme is `not-eligible`, saying
so without naming the code; a listed voter's ballot is valid; and the voter list versions the
tally reads are checked by the manifest's scheme."""

from __future__ import annotations

import datetime as dt

import pytest
from support.election import ElectionSpec, build_election, list_voters, make_pki, utc_now

from canonical.encoding import FormatError
from formats.cleansing import CastBallot, _check_entry
from formats.manifest import ElectionDirectory
from formats.personal_codes import THAI_CITIZEN_ID, thai_check_digit
from formats.voters import Voter, VoterList


def thai(first12: str) -> str:
    return first12 + str(thai_check_digit(first12))


VOTER = thai("310050000001")
BAD_CHECK = VOTER[:12] + str((int(VOTER[12]) + 1) % 10)


def test_cleansing_refuses_a_certificate_whose_code_does_not_fit(
    tmp_path, safe_primes: dict  # type: ignore[no-untyped-def]
) -> None:
    now = utc_now()
    pki = make_pki(list_voters({"bangkok": [VOTER]}), now)
    pki.eids[BAD_CHECK] = pki.issue_eid(Voter(BAD_CHECK, "Somchai", "Jaidee", "bangkok"))
    spec = ElectionSpec(
        "thai-tally",
        "Thai tally",
        {"bangkok": {"constituency": [1, 2]}},
        personal_code_scheme=THAI_CITIZEN_ID,
    )
    start = now - dt.timedelta(days=1)
    election = build_election(
        tmp_path, spec, pki, safe_primes[512], start, now + dt.timedelta(days=5)
    )
    manifest = election.manifest
    voters = ElectionDirectory(election.directory).voter_lists(manifest)[-1]
    trust = manifest.trust.eid_trust_store(require_crl=False)
    received = int(now.timestamp() * 1000)

    good, _ = election.ballot(VOTER, b"\x01" * 32)
    checked, _ = _check_entry(manifest, voters, trust, CastBallot(0, good, received))
    assert checked.valid and checked.voter == VOTER

    bad, _ = election.ballot(VOTER, b"\x02" * 32, signer=election.eids[BAD_CHECK])
    checked, _ = _check_entry(manifest, voters, trust, CastBallot(1, bad, received))
    assert checked.reason == "not-eligible"
    assert checked.detail == (
        "the signer's personal code does not fit the election's personal-code scheme "
        "(thai-citizen-id)"
    )

    # A stored list version holding a code that does not fit is refused when read.
    stored = VoterList(
        manifest.election_id, 1, None, [Voter(BAD_CHECK, "A", "B", "bangkok")]
    ).to_dict()
    with pytest.raises(FormatError, match="the check digit does not match"):
        VoterList.from_dict(stored, scheme=manifest.personal_code_scheme)
