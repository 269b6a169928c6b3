"""The simulated election of `ivote demo`: districts, candidates and voters generated for the
chosen sizes, and what each simulated voter does (vote, revote, vote on paper, check their
vote). Everything is drawn with `secrets`; nothing here touches a file or the network.

The definition and voter list are written in the officials' input formats (docs/spec.md,
"Election definition" and "Voter list") and go through `ivote ceremony init` like any other.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections import Counter
from dataclasses import dataclass, field

_random = secrets.SystemRandom()

DISTRICT_NAMES = (
    "Kesklinn",
    "Lasnamäe",
    "Mustamäe",
    "Nõmme",
    "Pirita",
    "Haabersti",
    "Kristiine",
    "Põhja-Tallinn",
)
GIVEN_NAMES = (
    "Mari", "Jaan", "Liis", "Ants", "Kati", "Peeter", "Tiit", "Anu", "Rein", "Eve", "Juhan",
    "Kai", "Maarja", "Toomas", "Kristi", "Margus", "Piret", "Urmas", "Triin", "Andres",
)  # fmt: skip
SURNAMES = (
    "Tamm", "Saar", "Sepp", "Mägi", "Kask", "Kukk", "Rebane", "Ilves", "Pärn", "Koppel",
    "Lepik", "Kuusk", "Karu", "Lepp", "Puu", "Vaher", "Järv", "Mets", "Luik", "Raudsepp",
)  # fmt: skip
PARTIES = ("Green Party", "Citizens' List", "Blue Party", "Social Democrats", "")


@dataclass(frozen=True)
class Candidate:
    number: int
    name: str
    party: str


@dataclass(frozen=True)
class District:
    id: str
    name: str
    candidates: tuple[Candidate, ...]
    popularity: tuple[int, ...]  # relative weights the simulated voters choose by

    def draw(self, other_than: int | None = None) -> int:
        """A candidate number, drawn by popularity (another one than `other_than`, when there
        is another)."""
        pool = [c for c in self.candidates if c.number != other_than] or list(self.candidates)
        weights = [self.popularity[self.candidates.index(c)] for c in pool]
        return _random.choices(pool, weights=weights)[0].number


CONTEST_ID = "council"
CONTEST_NAME = "City council"


@dataclass(frozen=True)
class SimVoter:
    personal_code: str
    given_name: str
    surname: str
    district: str


@dataclass
class Plan:
    """Who does what. `casts` is filled in while voting: each voter's choices in cast order."""

    election_id: str
    districts: tuple[District, ...]
    voters: tuple[SimVoter, ...]
    revoters: frozenset[str]
    paper_voters: frozenset[str]
    checkers: frozenset[str]
    casts: dict[str, list[int]] = field(default_factory=dict)

    def district(self, district_id: str) -> District:
        return next(d for d in self.districts if d.id == district_id)

    def expected_results(self) -> dict[str, list[int]]:
        """Per district, votes per candidate (in the definition's order) from each voter's
        last cast, leaving out the voters who also voted on paper."""
        results = {}
        for district in self.districts:
            last = Counter(
                self.casts[voter.personal_code][-1]
                for voter in self.voters
                if voter.district == district.id
                and voter.personal_code not in self.paper_voters
                and self.casts.get(voter.personal_code)
            )
            results[district.id] = [last.get(c.number, 0) for c in district.candidates]
        return results

    def cast_count(self) -> int:
        return sum(len(choices) for choices in self.casts.values())


def personal_code() -> str:
    """A random Estonian-style personal code (isikukood): sex and century digit (3-6), birth
    date, serial, and the check digit by the official two-pass weighting."""
    sex_century = 3 + _random.randrange(2)  # 3 male, 4 female, born in the 1900s
    birth = dt.date(1930, 1, 1) + dt.timedelta(days=_random.randrange(365 * 75))
    if birth.year >= 2000:
        sex_century += 2  # 5 and 6 for the 2000s
    body = f"{sex_century}{birth:%y%m%d}{_random.randrange(1000):03d}"
    return body + str(_check_digit(body))


def _check_digit(body: str) -> int:
    digits = [int(c) for c in body]
    for weights in ((1, 2, 3, 4, 5, 6, 7, 8, 9, 1), (3, 4, 5, 6, 7, 8, 9, 1, 2, 3)):
        remainder = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
        if remainder < 10:
            return remainder
    return 0


def _district_name(index: int) -> str:
    base = DISTRICT_NAMES[index % len(DISTRICT_NAMES)]
    return base if index < len(DISTRICT_NAMES) else f"{base} {index // len(DISTRICT_NAMES) + 1}"


def _slug(name: str) -> str:
    table = str.maketrans({"ä": "a", "õ": "o", "ö": "o", "ü": "u", " ": "-"})
    return name.lower().translate(table)


def _chosen(codes: list[str], rate: float) -> frozenset[str]:
    """round(rate * len) of the codes, at least one when the rate is not zero."""
    if rate <= 0 or not codes:
        return frozenset()
    count = min(len(codes), max(1, round(rate * len(codes))))
    return frozenset(_random.sample(codes, count))


def make_plan(
    voters: int,
    districts: int,
    candidates: int,
    revote_rate: float,
    paper_rate: float,
    check_rate: float,
    now: dt.datetime,
) -> Plan:
    made_districts = []
    for d in range(districts):
        name = _district_name(d)
        names = _random.sample([f"{g} {s}" for g in GIVEN_NAMES for s in SURNAMES], candidates)
        people = [
            Candidate(100 * (d + 1) + c + 1, names[c], PARTIES[c % len(PARTIES)])
            for c in range(candidates)
        ]
        popularity = tuple(1 + _random.randrange(10) for _ in people)
        made_districts.append(District(_slug(name), name, tuple(people), popularity))
    unique: set[str] = set()
    while len(unique) < voters:
        unique.add(personal_code())
    codes = sorted(unique)
    _random.shuffle(codes)
    made_voters = tuple(
        SimVoter(
            code,
            _random.choice(GIVEN_NAMES),
            _random.choice(SURNAMES),
            made_districts[i % districts].id,
        )
        for i, code in enumerate(codes)
    )
    return Plan(
        election_id=f"demo-{now:%Y%m%d-%H%M%S}",
        districts=tuple(made_districts),
        voters=made_voters,
        revoters=_chosen(codes, revote_rate),
        paper_voters=_chosen(codes, paper_rate),
        checkers=_chosen(codes, check_rate),
    )


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def definition_toml(
    plan: Plan,
    *,
    start: dt.datetime,
    end: dt.datetime,
    key_bits: int,
    trustees: int,
    threshold: int,
    trust: dict[str, list[str]],
) -> str:
    """The election definition in the officials' TOML (examples/election.toml)."""
    lines = [
        '# Generated by `ivote demo`; format: docs/spec.md, "Election definition".',
        "[election]",
        f"id = {_toml_string(plan.election_id)}",
        f"name = {_toml_string(f'Demo city council election ({len(plan.voters)} voters)')}",
        f"start = {start.isoformat(timespec='seconds')}",
        f"end = {end.isoformat(timespec='seconds')}",
        f"max_voters = {max(1, len(plan.voters))}",
        f"key_bits = {key_bits}",
        f"trustees = {trustees}",
        f"threshold = {threshold}",
        "",
        "[trust]",
        "eid_ca_certificates = [" + ", ".join(map(_toml_string, trust["eid"])) + "]",
        "collector_certificates = [" + ", ".join(map(_toml_string, trust["collector"])) + "]",
        "",
    ]
    for district in plan.districts:
        lines += [
            "[[districts]]",
            f"id = {_toml_string(district.id)}",
            f"name = {_toml_string(district.name)}",
            "",
            "[[districts.contests]]",
            f"id = {_toml_string(CONTEST_ID)}",
            f"name = {_toml_string(CONTEST_NAME)}",
        ]
        for candidate in district.candidates:
            lines += [
                "[[districts.contests.candidates]]",
                f"number = {candidate.number}",
                f"name = {_toml_string(candidate.name)}",
            ]
            if candidate.party:
                lines.append(f"party = {_toml_string(candidate.party)}")
        lines.append("")
    return "\n".join(lines)


def voters_csv(plan: Plan) -> str:
    """The voter list in the officials' CSV (docs/spec.md, "Voter list")."""
    rows = ["personal_code,given_name,surname,district"]
    rows += [f"{v.personal_code},{v.given_name},{v.surname},{v.district}" for v in plan.voters]
    return "\n".join(rows) + "\n"
