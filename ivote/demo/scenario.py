"""The simulated election of `ivote demo`: districts, contests, candidates and voters generated
for the chosen scenario and sizes, and what each simulated voter does (vote in every contest of
their ballot, vote no, revote, vote on paper, check their vote). Everything is drawn with
`secrets`; nothing here touches a file or the network.

Two scenarios: "estonia" (the default: a Tallinn city council election, one contest per
district, and in the first district also a district assembly where each voter marks up to 3
candidates, or none: a choose-several contest) and "thailand" (a Thai general election in
small, ivote.demo.thailand: constituency MPs, the national party list and a referendum on
every ballot, "vote no" boxes, names in Thai and English, Thai citizen IDs).

The definition and voter list are written in the officials' input formats (docs/spec.md,
"Election definition" and "Voter list") and go through `ivote ceremony init` like any other.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from formats.manifest import VOTE_NO, Candidate, Contest
from formats.names import Name
from formats.personal_codes import OPAQUE, estonian_check_digit

_random = secrets.SystemRandom()

ESTONIA = "estonia"
THAILAND = "thailand"
SCENARIOS = (ESTONIA, THAILAND)

# What a contest's options are, for the demo's tables: people, parties or a question's answers.
KIND_CANDIDATES, KIND_PARTIES, KIND_ANSWERS = "candidates", "parties", "answers"

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

CONTEST_ID = "council"
CONTEST_NAME = "City council"
# The first district's choose-several contest: mark up to ASSEMBLY_MARKS of its candidates
ASSEMBLY_ID = "assembly"
ASSEMBLY_NAME = "District assembly"
ASSEMBLY_MARKS = 3
BLANK_RATE = 0.2  # of the first district's voters, who leave the assembly blank


@dataclass(frozen=True)
class SimContest:
    """A contest as the manifest will have it, and how popular each option is with the
    simulated voters."""

    contest: Contest
    popularity: tuple[int, ...]  # relative weights, one per candidate (not for "vote no")
    kind: str = KIND_CANDIDATES

    @property
    def id(self) -> str:
        return self.contest.id

    @property
    def name(self) -> Name:
        return self.contest.name

    @property
    def candidates(self) -> tuple[Candidate, ...]:
        return self.contest.candidates

    def draw_marks(
        self, other_than: frozenset[int] | None = None, blank: bool = False
    ) -> frozenset[int]:
        """A choose-several contest's marked numbers: none when asked and the contest allows
        a blank ballot, else between max(min, 1) and max candidates drawn by popularity
        (another set than `other_than`, when there is one)."""
        contest = self.contest
        if blank and contest.blank_allowed and other_than != frozenset():
            return frozenset()
        low = max(contest.min_marks, 1)
        marked: frozenset[int] = frozenset()
        for _attempt in range(20):
            pool = list(self.candidates)
            weights = [self.popularity[index] for index in range(len(pool))]
            marked = frozenset()
            for _mark in range(_random.randint(low, contest.max_marks)):
                picked = _random.choices(range(len(pool)), weights=weights)[0]
                marked |= {pool.pop(picked).number}
                del weights[picked]
            if marked != other_than:
                return marked
        # always the same set (one candidate, or every one): blank instead, where allowed
        return frozenset() if contest.blank_allowed else marked

    def draw(self, other_than: int | None = None, vote_no: bool = False) -> int:
        """A choice number: "vote no" when asked and the contest has the box, else a
        candidate drawn by popularity (another one than `other_than`, when there is one)."""
        if vote_no and self.contest.vote_no and other_than != VOTE_NO:
            return VOTE_NO
        pool = [c for c in self.candidates if c.number != other_than] or list(self.candidates)
        weights = [self.popularity[self.candidates.index(c)] for c in pool]
        return _random.choices(pool, weights=weights)[0].number


@dataclass(frozen=True)
class District:
    id: str
    name: Name
    contests: tuple[SimContest, ...]  # its own; the plan's national contests come after them


@dataclass(frozen=True)
class SimVoter:
    personal_code: str
    given_name: str
    surname: str
    district: str


# contest id -> choice number (a choose-several contest: the marked numbers), every contest of
# the ballot
Choices = dict[str, int | frozenset[int]]


@dataclass
class Plan:
    """Who does what. `casts` is filled in while voting: each voter's choices in cast order."""

    scenario: str
    election_id: str
    name: Name
    districts: tuple[District, ...]
    voters: tuple[SimVoter, ...]
    revoters: frozenset[str]
    paper_voters: frozenset[str]
    checkers: frozenset[str]
    no_voters: frozenset[str] = frozenset()  # they vote no wherever the ballot has the box
    blank_voters: frozenset[str] = frozenset()  # they mark nothing where blank is allowed
    national: tuple[SimContest, ...] = ()  # on every district's ballot, after its own
    personal_code_scheme: str = OPAQUE
    timezone: dt.tzinfo = dt.UTC  # of the voting period the definition gives
    language: str = "en"  # what the demo speaks for this scenario unless --lang says
    casts: dict[str, list[Choices]] = field(default_factory=dict)

    def district(self, district_id: str) -> District:
        return next(d for d in self.districts if d.id == district_id)

    def ballot(self, district_id: str) -> tuple[SimContest, ...]:
        """The contests on a district's ballot, in the manifest's order."""
        return self.district(district_id).contests + self.national

    def contests(self) -> Iterator[tuple[District, SimContest]]:
        """Every (district, contest) the record has a result for."""
        for district in self.districts:
            for contest in self.ballot(district.id):
                yield district, contest

    def choose(self, voter: SimVoter, before: Choices | None = None) -> Choices:
        """A voter's choice in every contest of their ballot; a revoter (`before` given)
        changes their mind in each contest where there is another option."""
        vote_no = voter.personal_code in self.no_voters
        blank = voter.personal_code in self.blank_voters
        choices: Choices = {}
        for contest in self.ballot(voter.district):
            earlier = None if before is None else before[contest.id]
            if contest.contest.choose_several:
                assert earlier is None or isinstance(earlier, frozenset)
                choices[contest.id] = contest.draw_marks(earlier, blank and before is None)
            else:
                assert earlier is None or isinstance(earlier, int)
                choices[contest.id] = contest.draw(earlier, vote_no and before is None)
        return choices

    def expected_results(self) -> dict[str, dict[str, list[int]]]:
        """Per district and contest, votes per option (the manifest's order, "vote no"
        last) from each voter's last cast, leaving out the voters who also voted on paper; in
        a choose-several contest the ballots marking each candidate, then (where allowed) the
        blank ballots, as the record's results count them."""
        blank = -1  # the key of a blank choose-several ballot: never a choice number
        last: dict[str, Counter[tuple[str, int]]] = {d.id: Counter() for d in self.districts}
        for voter in self.voters:
            casts = self.casts.get(voter.personal_code)
            if casts and voter.personal_code not in self.paper_voters:
                for contest_id, choice in casts[-1].items():
                    if isinstance(choice, frozenset):
                        marks = choice or {blank}
                        last[voter.district].update((contest_id, n) for n in marks)
                    else:
                        last[voter.district][(contest_id, choice)] += 1
        return {
            district.id: {
                contest.id: [
                    last[district.id][(contest.id, number)]
                    for number in [option.number for option in contest.contest.options]
                    + ([blank] if contest.contest.blank_allowed else [])
                ]
                for contest in self.ballot(district.id)
            }
            for district in self.districts
        }

    def cast_count(self) -> int:
        return sum(len(choices) for choices in self.casts.values())


def personal_code() -> str:
    """A random Estonian-style personal code (isikukood): sex and century digit (3-6), birth
    date, serial, and the check digit of the Estonian standard."""
    sex_century = 3 + _random.randrange(2)  # 3 male, 4 female, born in the 1900s
    birth = dt.date(1930, 1, 1) + dt.timedelta(days=_random.randrange(365 * 75))
    if birth.year >= 2000:
        sex_century += 2  # 5 and 6 for the 2000s
    body = f"{sex_century}{birth:%y%m%d}{_random.randrange(1000):03d}"
    return body + str(estonian_check_digit(body))


def _district_name(index: int) -> str:
    base = DISTRICT_NAMES[index % len(DISTRICT_NAMES)]
    return base if index < len(DISTRICT_NAMES) else f"{base} {index // len(DISTRICT_NAMES) + 1}"


def _slug(name: str) -> str:
    table = str.maketrans({"ä": "a", "õ": "o", "ö": "o", "ü": "u", " ": "-"})
    return name.lower().translate(table)


def chosen(codes: list[str], rate: float, avoid: frozenset[str] = frozenset()) -> frozenset[str]:
    """round(rate * len) of the codes, at least one when the rate is not zero; codes not in
    `avoid` first, as long as there are enough."""
    if rate <= 0 or not codes:
        return frozenset()
    count = min(len(codes), max(1, round(rate * len(codes))))
    preferred = [code for code in codes if code not in avoid]
    if len(preferred) >= count:
        return frozenset(_random.sample(preferred, count))
    others = [code for code in codes if code in avoid]
    return frozenset(preferred + _random.sample(others, count - len(preferred)))


def make_plan(
    voters: int,
    districts: int,
    candidates: int | None,
    revote_rate: float,
    paper_rate: float,
    check_rate: float,
    now: dt.datetime,
    scenario: str = ESTONIA,
    vote_no_rate: float = 0.05,
) -> Plan:
    """The election of `scenario`; `candidates` per district (None: the scenario's own
    number, 8 in Estonia, 8 to 10 in Thailand)."""
    if scenario == THAILAND:
        from ivote.demo.thailand import make_thai_plan

        return make_thai_plan(
            voters, districts, candidates, revote_rate, paper_rate, check_rate, vote_no_rate, now
        )
    if scenario != ESTONIA:
        raise ValueError(f"unknown scenario {scenario!r}")
    candidates = candidates or 8
    made_districts = []
    for d in range(districts):
        name = _district_name(d)
        everyone = [f"{g} {s}" for g in GIVEN_NAMES for s in SURNAMES]
        names = _random.sample(everyone, 2 * candidates)  # the assembly's are the second half
        people = tuple(
            Candidate(100 * (d + 1) + c + 1, names[c], PARTIES[c % len(PARTIES)])
            for c in range(candidates)
        )
        popularity = tuple(1 + _random.randrange(10) for _ in people)
        council = SimContest(Contest(CONTEST_ID, Name.plain(CONTEST_NAME), people), popularity)
        contests = (council,)
        if d == 0:  # the first district also elects its assembly: mark up to 3, or none
            members = tuple(
                Candidate(c + 1, names[candidates + c], PARTIES[c % len(PARTIES)])
                for c in range(candidates)
            )
            assembly = Contest(
                ASSEMBLY_ID,
                Name.plain(ASSEMBLY_NAME),
                members,
                min_marks=0,
                max_marks=min(ASSEMBLY_MARKS, candidates),
            )
            liked = tuple(1 + _random.randrange(10) for _ in members)
            contests = (council, SimContest(assembly, liked))
        made_districts.append(District(_slug(name), Name.plain(name), contests))
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
        scenario=ESTONIA,
        election_id=f"demo-{now:%Y%m%d-%H%M%S}",
        name=Name.plain(f"Demo city council election ({len(made_voters)} voters)"),
        districts=tuple(made_districts),
        voters=made_voters,
        revoters=chosen(codes, revote_rate),
        paper_voters=chosen(codes, paper_rate),
        checkers=chosen(codes, check_rate),
        blank_voters=chosen(
            [v.personal_code for v in made_voters if v.district == made_districts[0].id],
            BLANK_RATE,
        ),
    )


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _toml_name(name: Name) -> str:
    """A name as the definition writes it: one string, or { en = "...", th = "..." }."""
    value = name.to_json()
    if isinstance(value, str):
        return _toml_string(value)
    return "{ " + ", ".join(f"{code} = {_toml_string(text)}" for code, text in value.items()) + " }"


def _contest_toml(table: str, contest: Contest) -> list[str]:
    lines = [
        f"[[{table}]]",
        f"id = {_toml_string(contest.id)}",
        f"name = {_toml_name(contest.name)}",
    ]
    if contest.vote_no:
        lines.append("vote_no = true")
    if contest.choose_several:  # the definition's forms (docs/spec.md, "Election definition")
        low, high = contest.min_marks, contest.max_marks
        form = (
            f"at_most = {high}"
            if low == 0
            else f"exactly = {high}" if low == high else f"min = {low}, max = {high}"
        )
        lines.append(f"choose = {{ {form} }}")
    if contest.question is not None:
        lines.append(f"question = {_toml_name(contest.question)}")
        for answer in contest.candidates:
            lines += [
                f"[[{table}.answers]]",
                f"number = {answer.number}",
                f"name = {_toml_name(answer.name)}",
            ]
        return lines
    for candidate in contest.candidates:
        lines += [
            f"[[{table}.candidates]]",
            f"number = {candidate.number}",
            f"name = {_toml_name(candidate.name)}",
        ]
        if candidate.party:
            lines.append(f"party = {_toml_name(candidate.party)}")
    return lines


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
        f"name = {_toml_name(plan.name)}",
        f"start = {start.isoformat(timespec='seconds')}",
        f"end = {end.isoformat(timespec='seconds')}",
        f"max_voters = {max(1, len(plan.voters))}",
        f"key_bits = {key_bits}",
        f"trustees = {trustees}",
        f"threshold = {threshold}",
    ]
    if plan.personal_code_scheme != OPAQUE:
        lines.append(f"personal_code_scheme = {_toml_string(plan.personal_code_scheme)}")
    lines += [
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
            f"name = {_toml_name(district.name)}",
            "",
        ]
        for contest in district.contests:
            lines += [*_contest_toml("districts.contests", contest.contest), ""]
    for contest in plan.national:
        lines += [*_contest_toml("national_contests", contest.contest), ""]
    return "\n".join(lines)


def voters_csv(plan: Plan) -> str:
    """The voter list in the officials' CSV (docs/spec.md, "Voter list")."""
    rows = ["personal_code,given_name,surname,district"]
    rows += [f"{v.personal_code},{v.given_name},{v.surname},{v.district}" for v in plan.voters]
    return "\n".join(rows) + "\n"
