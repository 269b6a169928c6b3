"""Choose-several contests in the voter app without a collector: the rule's words, the bounds'
refusals, and (hypothesis) that any valid marking typed the way the CLI shows it (numbers,
names in either language, the summary's "11 Name (Party)", commas, a blank word) reads back
as the same set; an audit's revealed marks against what the ballot holds."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from voter_helpers import VoterElection

from canonical.encoding import FORMAT_VERSION, b64url, hex_int, object_hash
from formats.ballot import build_ballot
from formats.manifest import Candidate, Contest, District, Manifest
from formats.names import Name
from i18n import language
from voter_app.marks import marks_problem, resolve_marks, typed
from voter_app.transport import VoterAppError
from voter_app.voting import AUDIT_KIND, choices_json, describe, verify_audit


def contest_of(count: int, low: int, high: int) -> Contest:
    candidates = tuple(
        Candidate(
            10 + i,
            Name.of({"en": f"Person {chr(65 + i)}", "th": f"ผู้สมัคร {chr(0x0E01 + i)}"}),
            "Green" if i % 2 else "",
        )
        for i in range(count)
    )
    return Contest("council", "Municipal council", candidates, min_marks=low, max_marks=high)


@pytest.mark.parametrize(
    ("count", "low", "high", "en", "th"),
    [
        (5, 0, 3, "Mark up to 3 candidates, or none",
         "ทำเครื่องหมายเลือกผู้สมัครได้ไม่เกิน 3 คน หรือไม่ทำเครื่องหมายเลย"),
        (5, 0, 1, "Mark up to 1 candidate, or none",
         "ทำเครื่องหมายเลือกผู้สมัครได้ไม่เกิน 1 คน หรือไม่ทำเครื่องหมายเลย"),
        (5, 2, 2, "Mark exactly 2 candidates", "ทำเครื่องหมายเลือกผู้สมัคร 2 คนพอดี"),
        (5, 1, 3, "Mark between 1 and 3 candidates", "ทำเครื่องหมายเลือกผู้สมัครได้ตั้งแต่ 1 ถึง 3 คน"),
        (4, 0, 4, "Mark any number of the candidates, or none",
         "ทำเครื่องหมายเลือกผู้สมัครได้กี่คนก็ได้ หรือไม่ทำเครื่องหมายเลย"),
    ],
)  # fmt: skip
def test_the_rule_in_both_languages(
    count: int, low: int, high: int, en: str, th: str
) -> None:
    contest = contest_of(count, low, high)
    with language("en"):
        assert contest.rule == en
    with language("th"):
        assert contest.rule == th


def test_the_bounds_refusals_name_the_contest() -> None:
    between = contest_of(5, 1, 3)
    with language("en"):
        assert marks_problem(between, 4) == "Municipal council: 4 marked, too many: mark at most 3."
        assert marks_problem(between, 0) == "Municipal council: nothing marked: mark at least 1."
        assert [marks_problem(between, n) for n in (1, 2, 3)] == [None] * 3
        assert marks_problem(contest_of(5, 2, 3), 1) == (
            "Municipal council: 1 marked, too few: mark at least 2."
        )
        with pytest.raises(VoterAppError, match="nothing marked"):
            resolve_marks(between, "none")
        with pytest.raises(VoterAppError, match="10 Person A is given twice"):
            resolve_marks(between, "10, person a")
        assert resolve_marks(contest_of(5, 0, 3), " , ") == frozenset()


def markings(draw: st.DrawFn) -> tuple[Contest, frozenset[int], str]:
    count = draw(st.integers(1, 8))
    low = draw(st.integers(0, count))
    high = draw(st.integers(max(low, 1), count))
    contest = contest_of(count, low, high)
    numbers = [c.number for c in contest.candidates]
    marked = draw(st.lists(st.sampled_from(numbers), min_size=low, max_size=high, unique=True))
    pieces = []
    for number in marked:
        candidate = contest.candidate(number)
        form = draw(st.sampled_from(["number", "en", "th", "shown_en", "shown_th"]))
        if form == "number":
            text = str(number)
        elif form in ("en", "th"):
            text = candidate.name.text(form)
            text = draw(st.sampled_from([text, text.upper(), text.replace(" ", "  ")]))
        else:
            with language(form[-2:]):
                text = describe(contest, number)
        pieces.append(draw(st.sampled_from(["", " "])) + text + draw(st.sampled_from(["", " "])))
    if not marked:
        text = draw(st.sampled_from(["", " ", "none", "Blank", "ไม่ทำเครื่องหมาย", "-"]))
    else:
        text = draw(st.sampled_from([",", ", "])).join(pieces)
        text += draw(st.sampled_from(["", ","]))
    return contest, frozenset(marked), text


@given(st.composite(markings)())
def test_a_valid_marking_typed_reads_back_as_the_same_set(
    case: tuple[Contest, frozenset[int], str],
) -> None:
    contest, marked, text = case
    assert resolve_marks(contest, text) == marked
    # the numbers the CLI would type, and the summary's own words, read back too
    assert resolve_marks(contest, typed(contest, marked)) == marked
    for code in ("en", "th"):
        with language(code):
            shown = describe(contest, marked)
        if marked:
            assert resolve_marks(contest, shown) == marked


def audit_of(manifest: Manifest, claimed: dict[str, Any]) -> dict[str, Any]:
    """An audit document of a ward-1 ballot marking 11 and 14 in the council, revealing
    `claimed` as its choices."""
    payload, randomness = build_ballot(
        manifest, "ward-1", {"mayor": 1, "council": frozenset({11, 14})}, bytes(32)
    )
    return {
        "version": FORMAT_VERSION,
        "kind": AUDIT_KIND,
        "payload": payload,
        "payload_hash": b64url(object_hash(payload)),
        "choices": claimed,
        "randomness": {cid: [hex_int(r) for r in rs] for cid, rs in randomness.items()},
    }


def test_an_audit_reveals_the_marks_and_a_false_claim_is_refused(
    council_election: VoterElection,
) -> None:
    manifest = council_election.manifest
    honest = choices_json({"mayor": 1, "council": frozenset({14, 11})})
    assert honest == {"mayor": 1, "council": [11, 14]}
    result = verify_audit(manifest, audit_of(manifest, honest))
    assert result.choices == {"mayor": 1, "council": frozenset({11, 14})}
    # an app that encrypted other marks than it shows is caught
    with pytest.raises(VoterAppError, match="the app did not encrypt honestly") as caught:
        verify_audit(manifest, audit_of(manifest, {"mayor": 1, "council": [11, 15]}))
    # the message names the contest that differs and both markings, as a voter reads them
    message = str(caught.value)
    assert "Municipal council: 11 " in message and "15 " in message
    assert "frozenset" not in message and "Mayor" not in message
    with pytest.raises(VoterAppError, match="a candidate is given twice"):
        verify_audit(manifest, audit_of(manifest, {"mayor": 1, "council": [11, 11, 14]}))


def test_choice_options_single_and_several_contests() -> None:
    """`--choice` values as the CLI reads them: CONTEST=... also for a single contest, and a
    choose-several contest's marks over several options taken together."""
    from voter_app.cli import _choices

    council = contest_of(5, 0, 3)
    alone = District("ward-1", "Ward 1", (council,))
    with language("en"):
        assert _choices(alone, ("council=10,Person C",)) == {"council": frozenset({10, 12})}
        assert _choices(alone, ("11",)) == {"council": frozenset({11})}
        assert _choices(alone, ("council=",)) == {"council": frozenset()}
        mayor = Contest("mayor", "Mayor", (Candidate(1, "One"), Candidate(2, "Two")))
        both = District("ward-1", "Ward 1", (mayor, council))
        assert _choices(both, ("mayor=2", "council=10", "council= 14")) == {
            "mayor": 2, "council": frozenset({10, 14})
        }  # fmt: skip
        with pytest.raises(VoterAppError, match="4 marked, too many"):
            _choices(both, ("mayor=1", "council=10,11", "council=12,13"))
