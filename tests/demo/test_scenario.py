"""The demo's generated election: what the officials' own validation makes of it, and what the
demo expects the tally to report."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given
from hypothesis import strategies as st

from ceremonies.definition import load_definition
from ceremonies.pki import make_intermediate_ca, make_official, make_root_ca
from ivote.demo.report import expected_from
from ivote.demo.scenario import (
    CONTEST_ID,
    _check_digit,
    definition_toml,
    make_plan,
    personal_code,
    voters_csv,
)

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
ROOT = make_root_ca(now=NOW - dt.timedelta(days=1))
ISSUING = make_intermediate_ca(ROOT, now=NOW - dt.timedelta(days=1))
COLLECTOR = make_official(ROOT, "collector", now=NOW - dt.timedelta(days=1))


def test_personal_codes_carry_the_estonian_check_digit() -> None:
    assert _check_digit("3760503029") == 9  # 37605030299, the usual published example
    # first pass 43 mod 11 = 10, so the second weighting: 66 mod 11 = 0
    assert _check_digit("3900101011") == 0
    for _ in range(200):
        code = personal_code()
        assert len(code) == 11 and code.isdigit() and code[0] in "3456"
        assert int(code[-1]) == _check_digit(code[:-1])


def test_a_revoter_changes_their_mind() -> None:
    plan = make_plan(5, 1, 3, 0, 0, 0, NOW)
    district = plan.districts[0]
    for candidate in district.candidates:
        for _ in range(20):
            assert district.draw(other_than=candidate.number) != candidate.number
    lonely = make_plan(5, 1, 1, 0, 0, 0, NOW).districts[0]
    only = lonely.candidates[0].number
    assert lonely.draw(other_than=only) == only  # nobody else to vote for


@given(
    voters=st.integers(1, 40),
    districts=st.integers(1, 10),
    candidates=st.integers(1, 12),
    rate=st.floats(0, 1),
)
def test_generated_election_passes_the_officials_validation(
    tmp_path_factory, voters: int, districts: int, candidates: int, rate: float
) -> None:
    root: Path = tmp_path_factory.mktemp("definition")
    for name, signer in (("root", ROOT), ("issuing", ISSUING), ("collector", COLLECTOR)):
        (root / f"{name}.pem").write_bytes(signer.certificate.public_bytes(Encoding.PEM))
    plan = make_plan(voters, districts, candidates, rate, rate, rate, NOW)
    (root / "election.toml").write_text(
        definition_toml(
            plan,
            start=NOW - dt.timedelta(minutes=1),
            end=NOW + dt.timedelta(days=1),
            key_bits=512,
            trustees=3,
            threshold=2,
            trust={"eid": ["root.pem", "issuing.pem"], "collector": ["collector.pem"]},
        )
    )
    (root / "voters.csv").write_text(voters_csv(plan))
    loaded = load_definition(root / "election.toml", root / "voters.csv", NOW)
    manifest = loaded.manifest
    assert [d.id for d in manifest.districts] == [d.id for d in plan.districts]
    for district in plan.districts:
        contest = manifest.district(district.id).contest(CONTEST_ID)
        assert [c.number for c in contest.candidates] == [c.number for c in district.candidates]
    assert len(loaded.voter_list) == voters
    assert plan.revoters <= {v.personal_code for v in plan.voters}
    if rate > 0:
        assert plan.revoters and plan.paper_voters and plan.checkers


@given(data=st.data(), voters=st.integers(1, 30), districts=st.integers(1, 4))
def test_expected_counts_account_for_every_cast(
    data: st.DataObject, voters: int, districts: int
) -> None:
    plan = make_plan(voters, districts, 3, 0.3, 0.2, 0.0, NOW)
    for voter in plan.voters:
        numbers = [c.number for c in plan.district(voter.district).candidates]
        plan.casts[voter.personal_code] = data.draw(
            st.lists(st.sampled_from(numbers), min_size=0, max_size=3)
        )
    expected = expected_from(plan)
    voted = [v for v in plan.voters if plan.casts[v.personal_code]]
    counted = [v for v in voted if v.personal_code not in plan.paper_voters]
    total_counted = sum(c.counted for c in expected.counts.values())
    assert total_counted == len(counted)
    assert sum(sum(r) for r in expected.results.values()) == len(counted)
    assert sum(c.received for c in expected.counts.values()) == plan.cast_count()
    for counts in expected.counts.values():
        assert counts.accounted == counts.received
    for voter in counted:
        last = plan.casts[voter.personal_code][-1]
        district = plan.district(voter.district)
        position = [c.number for c in district.candidates].index(last)
        assert expected.results[voter.district][position] >= 1
