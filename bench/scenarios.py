"""The elections `ivote bench tally --scenario` builds: the definition (TOML, docs/spec.md
"Election definition"), the voters' personal codes, and the options each ballot chooses from.

- `default`: one district "d1" with one contest "c1" of --candidates candidates (a 1-of-L
  contest, no "vote no"), opaque personal codes.
- `thailand`: a Thai general election's ballot with a referendum: one constituency "khet-1"
  whose contest "mp" has --candidates candidates (default 10) and a "vote no" box, the national
  party list "party-list" of 67 parties and "vote no" ([[national_contests]]), and a national
  referendum "referendum" of 3 answers; Thai citizen IDs. One constituency is enough for the
  per-ballot figures (every ballot carries the same three contests whatever its district); the
  per-total work (decryption) is projected to Thailand's 400 constituencies instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

TRUSTEES, THRESHOLD = 3, 2
THAI_PARTIES = 67  # party-list parties on the ballot (the 2023 general election's count)
THAI_ANSWERS = 3  # referendum answers: agree, disagree, no opinion
THAI_CONSTITUENCIES = 400  # each one a district whose ballot carries the 3 contests
THAI_ELECTORATE = 52_000_000  # about the 2023 general election's eligible voters: max_voters


@dataclass(frozen=True)
class Scenario:
    name: str
    district: str  # every voter's district
    # (candidates, start, end, key_bits) -> the definition TOML
    definition: Callable[[int, dt.datetime, dt.datetime, int], str]
    personal_code: Callable[[int], str]  # voter i's personal code
    options: Callable[[int], dict[str, list[int]]]  # candidates -> contest id -> numbers
    districts_in_projection: int  # districts of the real election (for per-total work)
    # bytes per ballot, a CPU breakdown and projections too (bench.tally_figures); the default
    # scenario's output stays as it was
    detailed: bool = False


def _header(
    election_id: str, name: str, start: dt.datetime, end: dt.datetime, key_bits: int,
    max_voters: int, extra: tuple[str, ...] = (),
) -> list[str]:  # fmt: skip
    return [
        "[election]",
        f'id = "{election_id}"',
        f'name = "{name}"',
        f"start = {start.isoformat(timespec='seconds')}",
        f"end = {end.isoformat(timespec='seconds')}",
        f"max_voters = {max_voters}",
        f"key_bits = {key_bits}",
        f"trustees = {TRUSTEES}",
        f"threshold = {THRESHOLD}",
        *extra,
        "",
        "[trust]",
        'eid_ca_certificates = ["root.pem", "issuing.pem"]',
        'collector_certificates = ["collector.pem"]',
        "",
    ]


def _candidates(table: str, count: int, label: str, party: bool = False) -> list[str]:
    lines: list[str] = []
    for number in range(1, count + 1):
        lines += [f"[[{table}]]", f"number = {number}", f'name = "{label} {number}"']
        if party:
            lines.append(f'party = "Party {number}"')
    return lines


def _default_definition(
    candidates: int, start: dt.datetime, end: dt.datetime, key_bits: int
) -> str:
    lines = _header("bench-tally", "Tally benchmark", start, end, key_bits, 1_000_000)
    lines += ["[[districts]]", 'id = "d1"', 'name = "District 1"', ""]
    lines += ["[[districts.contests]]", 'id = "c1"', 'name = "Contest 1"']
    lines += _candidates("districts.contests.candidates", candidates, "Candidate")
    return "\n".join(lines) + "\n"


def _thai_definition(candidates: int, start: dt.datetime, end: dt.datetime, key_bits: int) -> str:
    lines = _header(
        "bench-thailand", "Thailand benchmark", start, end, key_bits, THAI_ELECTORATE,
        ('personal_code_scheme = "thai-citizen-id"',),
    )  # fmt: skip
    lines += ["[[districts]]", 'id = "khet-1"', 'name = "Constituency 1"', ""]
    lines += ["[[districts.contests]]", 'id = "mp"', 'name = "Constituency MP"', "vote_no = true"]
    lines += _candidates("districts.contests.candidates", candidates, "Candidate", party=True)
    lines += ["", "[[national_contests]]", 'id = "party-list"', 'name = "Party list"']
    lines += ["vote_no = true"]
    lines += _candidates("national_contests.candidates", THAI_PARTIES, "Party")
    lines += ["", "[[national_contests]]", 'id = "referendum"', 'name = "Referendum"']
    lines += ['question = "Do you agree that a new constitution should be drafted?"']
    lines += _candidates("national_contests.answers", THAI_ANSWERS, "Answer")
    return "\n".join(lines) + "\n"


def _thai_citizen_id(index: int) -> str:
    from formats.personal_codes import thai_check_digit

    first12 = f"1{index:011d}"
    return first12 + str(thai_check_digit(first12))


SCENARIOS = {
    "default": Scenario(
        "default",
        "d1",
        _default_definition,
        lambda index: f"3{index:010d}",
        lambda candidates: {"c1": list(range(1, candidates + 1))},
        1,
    ),
    "thailand": Scenario(
        "thailand",
        "khet-1",
        _thai_definition,
        _thai_citizen_id,
        lambda candidates: {
            # 0: "vote no" (formats.manifest.VOTE_NO)
            "mp": [*range(1, candidates + 1), 0],
            "party-list": [*range(1, THAI_PARTIES + 1), 0],
            "referendum": list(range(1, THAI_ANSWERS + 1)),
        },
        THAI_CONSTITUENCIES,
        detailed=True,
    ),
}
