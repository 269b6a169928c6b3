"""Ballots of a choose-several contest (the council test election: up to 3 marks or none):
built from sets of candidate numbers, parsed, proven, checked by the vote check, sized, and
refused by name when the marking breaks the contest's rule."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.election import COUNCIL_SPEC, SmallElection, build_council_election

from canonical.encoding import canonical_bytes
from crypto.membership import batch_verify
from formats.ballot import (
    BallotError,
    ballot_randomness,
    ballot_statements,
    build_ballot,
    choices_in,
    max_ballot_bytes,
    parse_ballot,
)

WARD_1 = COUNCIL_SPEC.districts["ward-1"]["council"]  # 11..15


@pytest.fixture(scope="module")
def council(tmp_path_factory: pytest.TempPathFactory, safe_primes: dict) -> SmallElection:
    return build_council_election(tmp_path_factory.mktemp("council"), safe_primes[512])


def test_the_manifest_carries_the_rule(council: SmallElection) -> None:
    contest = council.manifest.contest("ward-1", "council")
    assert (contest.min_marks, contest.max_marks) == (0, 3)
    assert contest.choose_several and contest.blank_allowed and contest.counts_size == 6
    assert contest.to_dict()["choose"] == {"min": 0, "max": 3}
    mayor = council.manifest.contest("ward-1", "mayor")
    assert not mayor.choose_several and "choose" not in mayor.to_dict()
    enc = council.manifest.contest_encoding("ward-1", "council")
    assert (enc.ciphertexts, enc.digits, enc.parts) == (6, 6, 1)


@settings(max_examples=10, deadline=None)
@given(marked=st.sets(st.sampled_from(WARD_1), max_size=3))
def test_any_valid_marking_makes_a_valid_ballot(
    council: SmallElection, marked: set[int]
) -> None:
    manifest = council.manifest
    seed = secrets.token_bytes(16)
    randomness = ballot_randomness(manifest, "ward-1", seed)
    assert [len(randomness[c]) for c in ("mayor", "council")] == [1, 6]
    choices: dict[str, Any] = {"mayor": 2, "council": frozenset(marked)}
    payload, used = build_ballot(manifest, "ward-1", choices, secrets.token_bytes(32), randomness)
    ballot = parse_ballot(manifest, json.loads(canonical_bytes(payload)))
    statements = ballot_statements(manifest, ballot)
    assert len(statements) == 1 + 6 + 1  # mayor; six marks (five and the blank box); count
    assert batch_verify(statements) == []
    assert choices_in(manifest, ballot, used) == choices
    assert len(canonical_bytes(payload)) < max_ballot_bytes(manifest)


@pytest.mark.parametrize(
    ("council_choice", "problem"),
    [
        (frozenset({11, 12, 13, 14}), "4 marks"),
        ([11, 11], "marked twice"),
        (frozenset({21}), "21 is not a candidate number"),
        (11, "not a collection"),
        ("11", "not a collection"),
        (frozenset({True}), "not a candidate number"),
    ],
)
def test_markings_that_break_the_rule_are_refused_by_name(
    council: SmallElection, council_choice: Any, problem: str
) -> None:
    with pytest.raises(BallotError, match=problem) as caught:
        build_ballot(
            council.manifest,
            "ward-1",
            {"mayor": 1, "council": council_choice},
            secrets.token_bytes(32),
        )
    assert caught.value.field == "choices.council"


def test_a_set_is_refused_for_a_one_of_l_contest(council: SmallElection) -> None:
    with pytest.raises(BallotError, match="not a candidate number") as caught:
        build_ballot(
            council.manifest,
            "ward-1",
            {"mayor": frozenset({1}), "council": frozenset()},
            secrets.token_bytes(32),
        )
    assert caught.value.field == "choices.mayor"


def test_the_vote_check_refuses_a_ballot_made_with_other_randomness(
    council: SmallElection,
) -> None:
    manifest = council.manifest
    choices: dict[str, Any] = {"mayor": 1, "council": frozenset({12, 15})}
    payload, _ = build_ballot(manifest, "ward-1", choices, secrets.token_bytes(32))
    ballot = parse_ballot(manifest, payload)
    other = ballot_randomness(manifest, "ward-1", secrets.token_bytes(16))
    with pytest.raises(BallotError, match="holds"):
        choices_in(manifest, ballot, other)


def test_a_ballot_with_a_mark_missing_is_refused_by_name(council: SmallElection) -> None:
    manifest = council.manifest
    payload, _ = build_ballot(
        manifest, "ward-1", {"mayor": 1, "council": frozenset({11})}, secrets.token_bytes(32)
    )
    payload["contests"]["council"]["ciphertexts"].pop()
    with pytest.raises(BallotError) as caught:
        parse_ballot(manifest, payload)
    assert caught.value.field == "ballot.contests.council.ciphertexts"
    assert "5 entries, expected 6" in str(caught.value)
