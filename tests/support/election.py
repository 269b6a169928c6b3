"""A small real election for tests, made only through the library's own functions: a test PKI
(ceremonies.pki: root and issuing CA, organiser and collector, voters' e-IDs), the definition
and voter list on disk, `ceremonies.election.init_election`, every trustee's parameters
(`ceremonies.trustee_params`, real ones: milliseconds at 512 bits), the key ceremony
(`ceremonies.keygen.run_keygen`) on the fixture safe primes, a CRL, and ballots built and
signed as the voter app does (formats.ballot, formats.signed).

Each test package describes its election with an `ElectionSpec` and builds it once per
session; see tests/collector/conftest.py, tests/voter_app/conftest.py, tests/tallier."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from canonical.encoding import DOMAINS
from ceremonies.election import init_election
from ceremonies.keygen import run_keygen
from ceremonies.pki import (
    Revocation,
    make_crl,
    make_eid,
    make_intermediate_ca,
    make_official,
    make_root_ca,
)
from ceremonies.trustee_params import make_trustee_parameters
from crypto.eid import KeySigner, pkcs12_bytes
from formats.ballot import build_ballot
from formats.manifest import Manifest
from formats.signed import open_signed, sign_object
from formats.voters import Voter

FIXTURE_PRIMES = Path(__file__).parents[1] / "fixtures" / "safe_primes.json"
KEY_BITS = 512  # the fixture primes' modulus size
SCRYPT_COST = 1024  # tests only: the default cost takes about half a second per seal
PKCS12_ROUNDS = 1000  # likewise for PKCS#12 files (e-IDs, the collector's key)


def trustee_passphrase(index: int) -> str:
    return f"trustee {index} passphrase"


def pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(Encoding.PEM)


def der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(Encoding.DER)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


# -- the PKI ---------------------------------------------------------------------------------


def make_cas(now: dt.datetime) -> tuple[KeySigner, KeySigner]:
    """A test root CA and the TEST ID-card CA under it, both valid from `now`."""
    root = make_root_ca(now=now)
    return root, make_intermediate_ca(root, now=now)


def list_voters(codes: Mapping[str, Iterable[str]]) -> list[Voter]:
    """Voters with made-up names from {district: [personal code, ...]}."""
    return [
        Voter(code, f"Given{code[-3:]}", f"Surname{code[-3:]}", district)
        for district, district_codes in codes.items()
        for code in district_codes
    ]


@dataclass
class ElectionPki:
    """The CAs, the officials and the voters' e-IDs of a test election. `issued` is when it was
    made: CAs and officials are valid from 10 days before, e-IDs from 5 days before."""

    root: KeySigner
    issuing: KeySigner
    organiser: KeySigner
    collector: KeySigner
    voters: dict[str, Voter]  # the voter list, by personal code
    eids: dict[str, KeySigner]  # e-IDs by personal code (tests add e-IDs of others)
    issued: dt.datetime

    def issue_eid(self, voter: Voter, expired: bool = False) -> KeySigner:
        if expired:
            return make_eid(
                self.issuing,
                voter,
                not_before=self.issued - dt.timedelta(days=30),
                not_after=self.issued - dt.timedelta(days=1),
            )
        return make_eid(self.issuing, voter, not_before=self.issued - dt.timedelta(days=5))


def make_pki(
    voters: Iterable[Voter], now: dt.datetime | None = None, expired: Iterable[str] = ()
) -> ElectionPki:
    """The PKI, with an e-ID for every voter (those in `expired` expired yesterday)."""
    now = now or utc_now()
    before = now - dt.timedelta(days=10)
    root, issuing = make_cas(before)
    pki = ElectionPki(
        root,
        issuing,
        make_official(root, "organiser", now=before),
        make_official(root, "collector", now=before),
        {voter.personal_code: voter for voter in voters},
        {},
        now,
    )
    expired = set(expired)
    pki.eids = {
        code: pki.issue_eid(voter, expired=code in expired) for code, voter in pki.voters.items()
    }
    return pki


# -- the election ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ElectionSpec:
    """What the definition file says. `districts`: district -> contest -> candidate numbers;
    candidates are "Candidate N" unless `candidates` names them (number -> (name, party)),
    contests are named by their id unless `contest_names` says otherwise."""

    election_id: str
    name: str
    districts: Mapping[str, Mapping[str, Sequence[int]]]
    max_voters: int = 1000
    trustees: int = 2
    threshold: int = 1
    policy: Mapping[str, int] = field(default_factory=dict)
    contest_names: Mapping[str, str] = field(default_factory=dict)
    candidates: Mapping[int, tuple[str, str]] = field(default_factory=dict)
    personal_code_scheme: str = "opaque"  # formats.personal_codes; opaque is left unsaid
    # Written as it is after the districts: [[national_contests]] tables, and contests'
    # choices for first_choices (contest id -> a valid choice on every district's ballot).
    national_toml: str = ""
    national_choices: Mapping[str, int] = field(default_factory=dict)
    # Written as it is after the header of each of a district's own contests, per district
    # id: more keys of the contest, e.g. "vote_no = true".
    contest_toml: Mapping[str, str] = field(default_factory=dict)
    # Written after the header of every contest with this id (in any district): e.g.
    # "choose = { at_most = 3 }".
    contest_keys: Mapping[str, str] = field(default_factory=dict)

    def first_choices(self, district: str) -> dict[str, Any]:
        """Each contest's first candidate (marked alone in a choose-several contest): a valid
        choice when a test does not care which."""
        own = {
            contest: frozenset(numbers[:1]) if self.choose_several(contest) else numbers[0]
            for contest, numbers in self.districts[district].items()
        }
        return own | dict(self.national_choices)

    def choose_several(self, contest: str) -> bool:
        return "choose" in self.contest_keys.get(contest, "")

    def definition_toml(self, start: dt.datetime, end: dt.datetime) -> str:
        lines = [
            "[election]",
            f'id = "{self.election_id}"',
            f'name = "{self.name}"',
            f"start = {start.isoformat(timespec='seconds')}",
            f"end = {end.isoformat(timespec='seconds')}",
            f"max_voters = {self.max_voters}",
            f"key_bits = {KEY_BITS}",
            f"trustees = {self.trustees}",
            f"threshold = {self.threshold}",
            *(
                [f'personal_code_scheme = "{self.personal_code_scheme}"']
                if self.personal_code_scheme != "opaque"
                else []
            ),
            "",
            "[trust]",
            'eid_ca_certificates = ["root.pem", "issuing.pem"]',
            'collector_certificates = ["collector.pem"]',
            "",
        ]
        if self.policy:
            lines += ["[policy]", *(f"{k} = {v}" for k, v in self.policy.items()), ""]
        for district, contests in self.districts.items():
            lines += ["[[districts]]", f'id = "{district}"', f'name = "{district.title()}"', ""]
            for contest, numbers in contests.items():
                contest_name = self.contest_names.get(contest, contest)
                lines += ["[[districts.contests]]", f'id = "{contest}"', f'name = "{contest_name}"']
                if district in self.contest_toml:
                    lines.append(self.contest_toml[district])
                if contest in self.contest_keys:
                    lines.append(self.contest_keys[contest])
                for number in numbers:
                    name, party = self.candidates.get(number, (f"Candidate {number}", ""))
                    lines += [
                        "[[districts.contests.candidates]]",
                        f"number = {number}",
                        f'name = "{name}"',
                    ]
                    if party:
                        lines.append(f'party = "{party}"')
                lines.append("")
        if self.national_toml:
            lines.append(self.national_toml)
        return "\n".join(lines)


def signed_ballot(
    manifest: Manifest,
    signer: KeySigner,
    district: str,
    choices: Mapping[str, int],
    challenge: bytes,
) -> tuple[dict[str, Any], dict[str, tuple[int, ...]]]:
    """A ballot as the voter app makes it: encrypted, proved and signed with the e-ID; returns
    (the signed ballot, the encryption randomness per contest)."""
    payload, randomness = build_ballot(manifest, district, choices, challenge)
    return sign_object(signer, DOMAINS["ballot"], payload), randomness


@dataclass
class SmallElection:
    """A built election: `root` holds the definition, voter list and certificates, `directory`
    the election directory (manifest signed by the key ceremony, trustees' shares, crls/)."""

    root: Path
    directory: Path
    spec: ElectionSpec
    manifest: Manifest
    pki: ElectionPki
    start: dt.datetime
    end: dt.datetime
    revoked: list[Revocation] = field(default_factory=list)
    eid_files: dict[str, Path] = field(default_factory=dict)

    @property
    def voters(self) -> dict[str, Voter]:
        return self.pki.voters

    @property
    def eids(self) -> dict[str, KeySigner]:
        return self.pki.eids

    @property
    def issuing(self) -> KeySigner:
        return self.pki.issuing

    @property
    def organiser(self) -> KeySigner:
        return self.pki.organiser

    @property
    def collector(self) -> KeySigner:
        return self.pki.collector

    @property
    def fingerprint(self) -> str:
        return self.manifest.fingerprint

    def ballot(
        self,
        voter: str,
        challenge: bytes,
        choices: Mapping[str, int] | None = None,
        district: str | None = None,
        signer: KeySigner | None = None,
    ) -> tuple[dict[str, Any], dict[str, tuple[int, ...]]]:
        """A signed ballot of `voter` (for its own district and the first candidates unless
        told otherwise; `signer` signs in place of the voter's e-ID)."""
        district = district or self.voters[voter].district
        choices = choices or self.spec.first_choices(district)
        return signed_ballot(
            self.manifest, signer or self.eids[voter], district, choices, challenge
        )

    def open_receipt(self, document: dict[str, Any]) -> dict[str, Any]:
        """A receipt's payload, its signature checked against the collector's certificate."""
        payload, _, _ = open_signed(
            document, DOMAINS["receipt"], expected_cert=self.collector.certificate
        )
        return payload

    def revoke(self, voter: str, at: dt.datetime) -> None:
        """Revoke the voter's e-ID from `at` on; rewrites the CRL."""
        self.revoked.append(Revocation(self.eids[voter].certificate.serial_number, at))
        self.write_crl()

    def write_crl(self) -> None:
        """ELECTION/crls/issuing.crl: the issuing CA's CRL, current for 30 days."""
        crl = make_crl(
            self.issuing,
            self.revoked,
            number=len(self.revoked) + 1,
            this_update=self.pki.issued - dt.timedelta(days=1),
            next_update=self.pki.issued + dt.timedelta(days=30),
        )
        crls = self.directory / "crls"
        crls.mkdir(exist_ok=True)
        (crls / "issuing.crl").write_bytes(crl.public_bytes(Encoding.PEM))

    def write_paper_voters(self, codes: list[str], path: Path) -> Path:
        """The organiser-signed paper-voter list (formats.paper) for the newest voter list."""
        from canonical.files import write_canonical_json
        from formats.manifest import ElectionDirectory
        from formats.paper import sign_paper_voters

        voter_list = ElectionDirectory(self.directory).voter_lists(self.manifest)[-1]
        signed = sign_paper_voters(self.manifest, voter_list, tuple(codes), self.organiser)
        write_canonical_json(path, signed)
        return path

    def write_collector_key(self, passphrase: str) -> Path:
        """ELECTION/collector.p12, which `ivote collector` opens with the passphrase."""
        path = self.directory / "collector.p12"
        path.write_bytes(pkcs12_bytes(self.collector, passphrase, PKCS12_ROUNDS, "collector"))
        return path

    def write_eid_files(self, pin: str) -> dict[str, Path]:
        """Every e-ID as a PKCS#12 file under the PIN (ROOT/eids/CODE.p12), as voters hold them."""
        directory = self.root / "eids"
        directory.mkdir(exist_ok=True)
        for code, signer in self.eids.items():
            self.eid_files[code] = directory / f"{code}.p12"
            self.eid_files[code].write_bytes(pkcs12_bytes(signer, pin, PKCS12_ROUNDS, "e-ID"))
        return self.eid_files


def build_election(
    root: Path,
    spec: ElectionSpec,
    pki: ElectionPki,
    primes: tuple[int, int],
    start: dt.datetime,
    end: dt.datetime,
    revoked: Mapping[str, dt.datetime] | None = None,
) -> SmallElection:
    """Write the definition, voter list and certificates under `root`, run `init`, every
    trustee's parameters step and the key ceremony (trustees' passphrases
    `trustee_passphrase(i)`) into ROOT/election, and write the CRL revoking `revoked`
    (personal code -> from when)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, signer in (
        ("root", pki.root),
        ("issuing", pki.issuing),
        ("collector", pki.collector),
    ):
        (root / f"{name}.pem").write_bytes(pem(signer.certificate))
    (root / "election.toml").write_text(spec.definition_toml(start, end))
    rows = ["personal_code,given_name,surname,district"]
    rows += [
        f"{v.personal_code},{v.given_name},{v.surname},{v.district}" for v in pki.voters.values()
    ]
    (root / "voters.csv").write_text("\n".join(rows) + "\n")
    directory = root / "election"
    init_election(
        root / "election.toml", root / "voters.csv", directory, now=start - dt.timedelta(days=1)
    )
    for trustee in range(1, spec.trustees + 1):
        make_trustee_parameters(directory, trustee)
    manifest = run_keygen(
        directory,
        [trustee_passphrase(i) for i in range(1, spec.trustees + 1)],
        pki.organiser,
        test_primes=primes,
        scrypt_cost=SCRYPT_COST,
    )
    election = SmallElection(root, directory, spec, manifest, pki, start, end)
    election.revoked = [
        Revocation(pki.eids[code].certificate.serial_number, at)
        for code, at in (revoked or {}).items()
    ]
    election.write_crl()
    return election


# -- a Thai general election in small -------------------------------------------------------

THAI_NATIONAL_TOML = """\
[[national_contests]]
id = "party-list"
name = { en = "Party list", th = "แบบบัญชีรายชื่อ" }
vote_no = true
candidates = [
  { number = 1, name = { en = "Rice Farmers Party", th = "พรรคชาวนาไทย" } },
  { number = 2, name = { en = "Future Thailand Party", th = "พรรคอนาคตไทย" } },
  { number = 3, name = { en = "Mekong Party", th = "พรรคแม่โขง" } },
  { number = 4, name = { en = "Citizens' Party", th = "พรรคพลเมือง" } },
]

[[national_contests]]
id = "referendum"
name = { en = "Referendum", th = "การออกเสียงประชามติ" }
answers = [
  { number = 1, name = { en = "Agree", th = "เห็นชอบ" } },
  { number = 2, name = { en = "Disagree", th = "ไม่เห็นชอบ" } },
  { number = 3, name = { en = "No opinion", th = "ไม่แสดงความคิดเห็น" } },
]

[national_contests.question]
en = "Do you agree that a new constitution should be drafted?"
th = "ท่านเห็นชอบว่าสมควรมีการจัดทำรัฐธรรมนูญฉบับใหม่หรือไม่"
"""

# Two constituencies (one contest "mp" of three candidates and a "vote no" box each), the
# national party list of four parties and "vote no", a referendum of three answers; names in
# Thai and English; Thai citizen IDs. Voters: THAI_VOTERS.
THAI_SPEC = ElectionSpec(
    "th-2099",
    "Thai general election (test)",
    {"khet-1": {"mp": [1, 2, 3]}, "khet-2": {"mp": [1, 2, 3]}},
    contest_names={"mp": "Constituency MP"},
    candidates={
        1: ("Somchai Jaidee", "Rice Farmers Party"),
        2: ("Malee Srisuk", ""),
        3: ("Anan Boonmee", "Mekong Party"),
    },
    personal_code_scheme="thai-citizen-id",
    national_toml=THAI_NATIONAL_TOML,
    national_choices={"party-list": 1, "referendum": 1},
    contest_toml={"khet-1": "vote_no = true", "khet-2": "vote_no = true"},
)


def thai_citizen_id(body: str) -> str:
    """A 13-digit Thai citizen ID: the 12 digits given and their check digit."""
    from formats.personal_codes import thai_check_digit

    return body + str(thai_check_digit(body))


THAI_VOTERS = {
    thai_citizen_id("110170023070"): "khet-1",
    thai_citizen_id("110170023071"): "khet-1",
    thai_citizen_id("310050012345"): "khet-2",
    thai_citizen_id("310050012346"): "khet-2",
}


# A municipal election: a mayor (1 of 3) and a council where each voter marks up to 3
# candidates (or none: a blank council ballot counts as blank).
COUNCIL_SPEC = ElectionSpec(
    "council-2099",
    "Municipal election (test)",
    {
        "ward-1": {"mayor": [1, 2, 3], "council": [11, 12, 13, 14, 15]},
        "ward-2": {"mayor": [1, 2, 3], "council": [21, 22, 23, 24]},
    },
    contest_names={"mayor": "Mayor", "council": "Municipal council"},
    contest_keys={"council": "choose = { at_most = 3 }"},
)


def build_council_election(
    root: Path, primes: tuple[int, int], start: dt.datetime | None = None
) -> SmallElection:
    """COUNCIL_SPEC built (a 512-bit fixture key), open from yesterday for five days;
    voters v1..v3 in ward-1, v4..v5 in ward-2."""
    now = utc_now()
    start = start or now - dt.timedelta(days=1)
    codes = {"ward-1": ["v1", "v2", "v3"], "ward-2": ["v4", "v5"]}
    pki = make_pki(list_voters(codes), now)
    return build_election(root, COUNCIL_SPEC, pki, primes, start, start + dt.timedelta(days=6))


def build_thai_election(
    root: Path, primes: tuple[int, int], start: dt.datetime | None = None
) -> SmallElection:
    """THAI_SPEC built (a 512-bit fixture key), open from yesterday for five days."""
    now = utc_now()
    start = start or now - dt.timedelta(days=1)
    voters = [Voter(code, "Somchai", "Jaidee", district) for code, district in THAI_VOTERS.items()]
    pki = make_pki(voters, now)
    return build_election(root, THAI_SPEC, pki, primes, start, start + dt.timedelta(days=6))
