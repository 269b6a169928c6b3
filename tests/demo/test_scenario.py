"""The demo's generated elections (the Estonian default and the Thai scenario): what the
officials' own validation makes of them, what the simulated voters choose, and what the demo
expects the tally to report."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given, settings
from hypothesis import strategies as st

from ceremonies.definition import load_definition
from ceremonies.pki import make_intermediate_ca, make_official, make_root_ca
from formats import personal_codes
from formats.manifest import VOTE_NO, Manifest
from ivote.demo.report import expected_from
from ivote.demo.scenario import (
    ASSEMBLY_ID,
    ASSEMBLY_MARKS,
    CONTEST_ID,
    THAILAND,
    Plan,
    definition_toml,
    make_plan,
    personal_code,
    voters_csv,
)
from ivote.demo.thailand import PARTY_LIST_CONTEST, REFERENDUM_CONTEST

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
ROOT = make_root_ca(now=NOW - dt.timedelta(days=1))
ISSUING = make_intermediate_ca(ROOT, now=NOW - dt.timedelta(days=1))
COLLECTOR = make_official(ROOT, "collector", now=NOW - dt.timedelta(days=1))


def test_personal_codes_are_valid_estonian_codes() -> None:
    for _ in range(200):
        code = personal_code()
        assert code[0] in "3456"
        personal_codes.check(personal_codes.ESTONIAN_PERSONAL_CODE, code)


def test_a_revoter_changes_their_mind() -> None:
    plan = make_plan(5, 1, 3, 0, 0, 0, NOW)
    council = plan.districts[0].contests[0]
    for candidate in council.candidates:
        for _ in range(20):
            assert council.draw(other_than=candidate.number) != candidate.number
    lonely = make_plan(5, 1, 1, 0, 0, 0, NOW).districts[0].contests[0]
    only = lonely.candidates[0].number
    assert lonely.draw(other_than=only) == only  # nobody else to vote for


def loaded_manifest(root: Path, plan: Plan) -> tuple[Manifest, int]:
    """The officials' own validation of the plan's definition and voter list: the draft
    manifest and how many voters the list has."""
    for name, signer in (("root", ROOT), ("issuing", ISSUING), ("collector", COLLECTOR)):
        (root / f"{name}.pem").write_bytes(signer.certificate.public_bytes(Encoding.PEM))
    now = dt.datetime.now(plan.timezone).replace(microsecond=0)
    (root / "election.toml").write_text(
        definition_toml(
            plan,
            start=now - dt.timedelta(minutes=1),
            end=now + dt.timedelta(days=1),
            key_bits=512,
            trustees=3,
            threshold=2,
            trust={"eid": ["root.pem", "issuing.pem"], "collector": ["collector.pem"]},
        ),
        encoding="utf-8",
    )
    (root / "voters.csv").write_text(voters_csv(plan), encoding="utf-8")
    loaded = load_definition(root / "election.toml", root / "voters.csv", NOW)
    return loaded.manifest, len(loaded.voter_list)


@given(
    voters=st.integers(1, 40),
    districts=st.integers(1, 10),
    candidates=st.integers(1, 12),
    rate=st.floats(0, 1),
)
def test_generated_election_passes_the_officials_validation(
    tmp_path_factory, voters: int, districts: int, candidates: int, rate: float
) -> None:
    plan = make_plan(voters, districts, candidates, rate, rate, rate, NOW)
    manifest, listed = loaded_manifest(tmp_path_factory.mktemp("definition"), plan)
    assert [d.id for d in manifest.districts] == [d.id for d in plan.districts]
    for district in plan.districts:
        contest = manifest.district(district.id).contest(CONTEST_ID)
        assert contest.candidates == district.contests[0].candidates
        assert not contest.vote_no
    # the first district's assembly: mark up to 3 (at most every candidate), or none
    assembly = manifest.district(plan.districts[0].id).contest(ASSEMBLY_ID)
    assert (assembly.min_marks, assembly.max_marks) == (0, min(ASSEMBLY_MARKS, candidates))
    assert assembly == plan.districts[0].contests[1].contest
    assert not manifest.national_contests
    assert listed == voters
    assert plan.revoters <= {v.personal_code for v in plan.voters}
    if rate > 0:
        assert plan.revoters and plan.paper_voters and plan.checkers


def test_a_revoter_marks_another_set_in_the_assembly() -> None:
    plan = make_plan(5, 1, 4, 0, 0, 0, NOW)
    assembly = plan.districts[0].contests[1]
    numbers = {c.number for c in assembly.candidates}
    seen = set()
    for _ in range(200):
        first = assembly.draw_marks()
        assert 1 <= len(first) <= ASSEMBLY_MARKS and first <= numbers
        assert assembly.draw_marks(other_than=first) != first
        assert assembly.draw_marks(blank=True) == frozenset()
        assert assembly.draw_marks(other_than=frozenset(), blank=True)  # a blank voter revotes
        seen.add(first)
    assert len(seen) > 10  # sets of every size, by popularity
    lonely = make_plan(5, 1, 1, 0, 0, 0, NOW).districts[0].contests[1]
    only = frozenset({lonely.candidates[0].number})
    assert lonely.contest.rule == "Mark any number of the candidates, or none"
    assert lonely.draw_marks(other_than=only) == frozenset()  # no other set: blank


def test_the_first_districts_voters_mark_sets_some_blank() -> None:
    plan = make_plan(40, 2, 5, 0, 0, 0, NOW)
    first = plan.districts[0]
    assert [c.id for c in first.contests] == [CONTEST_ID, ASSEMBLY_ID]
    assert [c.id for c in plan.districts[1].contests] == [CONTEST_ID]
    voters = [v for v in plan.voters if v.district == first.id]
    assert plan.blank_voters and plan.blank_voters <= {v.personal_code for v in voters}
    for voter in voters:
        choices = plan.choose(voter)
        assert isinstance(choices[CONTEST_ID], int)
        marked = choices[ASSEMBLY_ID]
        assert isinstance(marked, frozenset)
        assert (marked == frozenset()) == (voter.personal_code in plan.blank_voters)


@given(data=st.data(), voters=st.integers(1, 30), districts=st.integers(1, 4))
def test_expected_counts_account_for_every_cast(
    data: st.DataObject, voters: int, districts: int
) -> None:
    plan = make_plan(voters, districts, 3, 0.3, 0.2, 0.0, NOW)
    for voter in plan.voters:
        numbers = [c.number for c in plan.district(voter.district).contests[0].candidates]
        members = [c.number for c in plan.districts[0].contests[1].candidates]
        casts = []
        for number in data.draw(st.lists(st.sampled_from(numbers), min_size=0, max_size=3)):
            cast: dict[str, int | frozenset[int]] = {CONTEST_ID: number}
            if voter.district == plan.districts[0].id:
                cast[ASSEMBLY_ID] = frozenset(
                    data.draw(st.sets(st.sampled_from(members), max_size=ASSEMBLY_MARKS))
                )
            casts.append(cast)
        plan.casts[voter.personal_code] = casts
    expected = expected_from(plan)
    voted = [v for v in plan.voters if plan.casts[v.personal_code]]
    counted = [v for v in voted if v.personal_code not in plan.paper_voters]
    total_counted = sum(c.counted for c in expected.counts.values())
    assert total_counted == len(counted)
    assert sum(sum(r[CONTEST_ID]) for r in expected.results.values()) == len(counted)
    assert sum(c.received for c in expected.counts.values()) == plan.cast_count()
    for counts in expected.counts.values():
        assert counts.accounted == counts.received
    for voter in counted:
        last = plan.casts[voter.personal_code][-1][CONTEST_ID]
        council = plan.district(voter.district).contests[0].contest
        assert isinstance(last, int)
        assert expected.results[voter.district][CONTEST_ID][council.index_of(last)] >= 1
    # the assembly: per member the counted ballots marking them, then the blank ones
    first = plan.districts[0].id
    lasts = [
        plan.casts[v.personal_code][-1][ASSEMBLY_ID] for v in counted if v.district == first
    ]
    members = [c.number for c in plan.districts[0].contests[1].candidates]
    assert expected.results[first][ASSEMBLY_ID] == [
        *(sum(number in marked for marked in lasts) for number in members),  # type: ignore[operator]
        sum(not marked for marked in lasts),
    ]


# -- the Thai scenario ---------------------------------------------------------------------


@settings(max_examples=25)  # each loads a whole Thai definition
@given(voters=st.integers(1, 30), districts=st.integers(1, 4), rate=st.floats(0, 1))
def test_thai_election_passes_the_officials_validation(
    tmp_path_factory, voters: int, districts: int, rate: float
) -> None:
    plan = make_plan(voters, districts, None, rate, rate, rate, NOW, THAILAND, rate)
    manifest, listed = loaded_manifest(tmp_path_factory.mktemp("definition"), plan)
    assert listed == voters
    assert manifest.personal_code_scheme == personal_codes.THAI_CITIZEN_ID
    assert manifest.name.languages() == ("en", "th")
    assert manifest.period.start.utcoffset() == dt.timedelta(hours=7)  # Bangkok time
    party_list, referendum = manifest.national_contests
    # 67 parties and "vote no"
    assert party_list.id == PARTY_LIST_CONTEST and party_list.vote_no
    assert [p.number for p in party_list.options] == [*range(1, 68), VOTE_NO]
    assert len({p.name.text("th") for p in party_list.candidates}) == 67
    assert len({p.name.text("en") for p in party_list.candidates}) == 67
    assert referendum.id == REFERENDUM_CONTEST and referendum.question is not None
    assert [a.name.text("th") for a in referendum.options] == [
        "เห็นชอบ", "ไม่เห็นชอบ", "ไม่แสดงความคิดเห็น",
    ]  # fmt: skip
    for index, district in enumerate(manifest.districts, 1):
        assert district.name.text("th") == f"เชียงใหม่ เขตเลือกตั้งที่ {index}"
        assert [c.id for c in district.contests] == ["mp", PARTY_LIST_CONTEST, REFERENDUM_CONTEST]
        mp = district.contests[0]
        assert mp.vote_no and 8 <= len(mp.candidates) <= 10
        assert [c.number for c in mp.candidates] == list(range(1, len(mp.candidates) + 1))
        for candidate in mp.candidates:
            assert candidate.name.languages() == candidate.party.languages() == ("en", "th")
            assert candidate.name.text("th").startswith(("นาย", "นาง"))
        # each candidate of a constituency stands for another party
        assert len({c.party.text("en") for c in mp.candidates}) == len(mp.candidates)
    for voter in plan.voters:
        assert voter.personal_code[0] in "12345678"
        personal_codes.check(personal_codes.THAI_CITIZEN_ID, voter.personal_code)


@settings(max_examples=25)
@given(voters=st.integers(1, 40), vote_no_rate=st.floats(0, 1))
def test_thai_voters_choose_in_every_contest(voters: int, vote_no_rate: float) -> None:
    plan = make_plan(voters, 3, 4, 1.0, 0.0, 0.0, NOW, THAILAND, vote_no_rate)
    for voter in plan.voters:
        first = plan.choose(voter)
        ballot = plan.ballot(voter.district)
        assert list(first) == [contest.id for contest in ballot]
        for contest in ballot:
            assert first[contest.id] in [o.number for o in contest.contest.options]
        if voter.personal_code in plan.no_voters:
            # "vote no" wherever the ballot has the box; the referendum has none
            assert first == first | {"mp": VOTE_NO, PARTY_LIST_CONTEST: VOTE_NO}
            assert first[REFERENDUM_CONTEST] != VOTE_NO
        else:
            assert VOTE_NO not in first.values()
        again = plan.choose(voter, first)  # a revoter changes their mind in every contest
        assert all(again[c] != first[c] for c in first)
        plan.casts[voter.personal_code] = [first, again]
    if vote_no_rate > 0:
        assert plan.no_voters
    expected = expected_from(plan)
    for district in plan.districts:
        contests = expected.results[district.id]
        assert list(contests) == ["mp", PARTY_LIST_CONTEST, REFERENDUM_CONTEST]
        voted = expected.counts.get(district.id)
        for contest in plan.ballot(district.id):
            counts = contests[contest.id]
            assert len(counts) == len(contest.contest.options)
            # every counted voter chose once in every contest
            assert sum(counts) == (voted.counted if voted else 0)
