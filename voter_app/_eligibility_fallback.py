"""TEMPORARY (issue 16): stands in for voting.check_eligibility until the collector's
eligibility endpoint lands (branch `eligibility`); delete this file then.

It learns nothing from the collector: the voter's district is the manifest's only district
(an election of several districts is refused), the status is the manifest's period by this
computer's clock, and whether the voter is on the list is found out only at Cast.
"""

from __future__ import annotations

from dataclasses import dataclass

from crypto.eid import Signer, VoterIdentity
from formats.manifest import District
from voter_app.transport import CollectorClient, VoterAppError
from voter_app.voting import Election, check_own_certificate


@dataclass(frozen=True)
class Eligibility:
    voter: VoterIdentity
    district: District
    status: str
    has_ballot: bool


class NotEligible(VoterAppError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_eligibility(client: CollectorClient, election: Election, signer: Signer) -> Eligibility:
    voter = check_own_certificate(election, signer.certificate)
    districts = election.manifest.districts
    if len(districts) != 1:
        raise VoterAppError("this app cannot yet find your district in an election of several")
    return Eligibility(voter, districts[0], election.status(), False)
