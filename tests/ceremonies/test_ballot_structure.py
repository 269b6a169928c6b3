"""The Thai ballot structure in the election definition and the manifest: contests on every
district's ballot (national_contests), a "vote no" box, referendum questions, names in Thai
and English. Each is signed with the manifest, encoded in ballots and refused when malformed,
with the field named."""

from __future__ import annotations

import copy
import json
import secrets
from pathlib import Path

import pytest
from ceremony_helpers import DEFINITION, Workspace, line_of
from hypothesis import given, settings
from hypothesis import strategies as st
from support.election import THAI_VOTERS, SmallElection, build_thai_election

from canonical.encoding import FormatError, canonical_bytes
from crypto.membership import batch_verify
from formats.ballot import BallotError, ballot_statements, build_ballot, choices_in, parse_ballot
from formats.manifest import VOTE_NO, Manifest, ManifestError
from formats.names import Name
from i18n import language


@pytest.fixture(scope="module")
def thai(tmp_path_factory: pytest.TempPathFactory, safe_primes: dict) -> SmallElection:
    return build_thai_election(tmp_path_factory.mktemp("thai"), safe_primes[512])


def test_national_contests_are_on_every_ballot_and_signed_once(thai: SmallElection) -> None:
    manifest = thai.manifest
    for district in manifest.districts:
        assert [c.id for c in district.contests] == ["mp", "party-list", "referendum"]
        assert [c.national for c in district.contests] == [False, True, True]
    document = manifest.to_dict()
    assert [c["id"] for c in document["national_contests"]] == ["party-list", "referendum"]
    for district in document["districts"]:  # declared once, not copied into each district
        assert [c["id"] for c in district["contests"]] == ["mp"]
    assert Manifest.from_dict(document).canonical() == manifest.canonical()


def test_vote_no_is_the_last_option_and_the_referendum_has_its_question(
    thai: SmallElection,
) -> None:
    party_list = thai.manifest.contest("khet-1", "party-list")
    assert [o.number for o in party_list.options] == [1, 2, 3, 4, VOTE_NO]
    assert party_list.index_of(VOTE_NO) == 4 and party_list.options[-1].is_vote_no
    assert thai.manifest.contest_encoding("khet-1", "party-list").candidates == 5
    referendum = thai.manifest.contest("khet-2", "referendum")
    assert referendum.is_referendum and not referendum.vote_no
    assert [o.number for o in referendum.options] == [1, 2, 3]
    assert "answers" in referendum.to_dict() and "candidates" not in referendum.to_dict()
    with language("th"):
        assert str(referendum.question).startswith("ท่านเห็นชอบ")
        assert str(party_list.options[-1].name) == "ไม่ประสงค์ลงคะแนน"
    with language("en"):
        assert str(referendum.question).startswith("Do you agree")
        assert str(party_list.options[-1].name) == "Vote no"
        # asked for a language, a catalog name answers in it, whatever the current one
        assert party_list.options[-1].name.text("th") == "ไม่ประสงค์ลงคะแนน"


def test_names_follow_the_language_and_fall_back(thai: SmallElection) -> None:
    party_list = thai.manifest.contest("khet-1", "party-list")
    with language("th"):
        assert str(party_list.name) == "แบบบัญชีรายชื่อ"
        assert str(party_list.candidate(1).name) == "พรรคชาวนาไทย"
        # one text for every language: the same in Thai
        assert str(thai.manifest.district("khet-1").name) == "Khet-1"
    assert party_list.name.text("en") == "Party list"
    assert Name.of({"th": "เขต 1"}).text("en") == "เขต 1"  # only Thai given: shown in English too


def test_a_ballot_holds_every_contest_of_the_district(thai: SmallElection) -> None:
    manifest = thai.manifest
    choices = {"mp": VOTE_NO, "party-list": 3, "referendum": 2}
    payload, randomness = build_ballot(manifest, "khet-2", choices, secrets.token_bytes(32))
    ballot = parse_ballot(manifest, payload)
    assert choices_in(manifest, ballot, randomness) == choices
    with pytest.raises(BallotError, match="missing contest 'party-list'"):
        build_ballot(manifest, "khet-2", {"mp": 1, "referendum": 1}, secrets.token_bytes(32))
    without = copy.deepcopy(payload)
    del without["contests"]["party-list"]
    with pytest.raises(FormatError, match="party-list"):
        parse_ballot(manifest, without)
    with pytest.raises(BallotError, match="not a candidate number"):  # no vote no here
        build_ballot(
            manifest, "khet-2", {**choices, "referendum": VOTE_NO}, secrets.token_bytes(32)
        )


def test_the_voters_have_thai_citizen_ids(thai: SmallElection) -> None:
    assert thai.manifest.personal_code_scheme == "thai-citizen-id"
    assert set(thai.voters) == set(THAI_VOTERS)


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        (lambda d: d["national_contests"][0].update(vote_no=False), "vote_no", "false"),
        (lambda d: d.update(national_contests=[]), "national_contests", "empty"),
        (lambda d: d.update(name={}), "name", "no text"),
        (lambda d: d.update(name={"en": "E", "fr": "F"}), "name.fr", "not a language"),
        (lambda d: d.update(name={"en": 5}), "name.en", "expected a string"),
        (lambda d: d.update(name={"th": " "}), "name", "empty (th)"),
        (
            lambda d: d["national_contests"][1].update(candidates=[]),
            "national_contests[1]",
            "unknown field",
        ),
        (
            lambda d: d["national_contests"][1]["answers"].__delitem__(slice(1, None)),
            "national_contests[1].answers",
            "at least two answers",
        ),
        (
            lambda d: d["districts"][0]["contests"][0].update(id="party-list"),
            "districts[0].contests[0].id",
            "national_contests[0]",
        ),
        (
            lambda d: d["national_contests"].append(d["national_contests"][0]),
            "national_contests[2].id",
            "duplicate national contest",
        ),
    ],
)
def test_malformed_structures_are_refused_by_name(
    thai: SmallElection, change: object, field: str, problem: str
) -> None:
    document = json.loads(canonical_bytes(thai.manifest.to_dict()))
    change(document)  # type: ignore[operator]
    with pytest.raises(ManifestError) as caught:
        Manifest.from_dict(document)
    assert field in str(caught.value) and problem in str(caught.value), str(caught.value)


NATIONAL = """
[[national_contests]]
id = "party-list"
name = { en = "Party list", th = "แบบบัญชีรายชื่อ" }
vote_no = true
candidates = [{ number = 1, name = "Party A" }, { number = 2, name = "Party B" }]
"""


def expect_error(workspace: Workspace, text: str, fragment: str, field: str, message: str) -> None:
    workspace.write_definition(text)
    result = workspace.init()
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert f"{workspace.definition}:{line_of(text, fragment)}: {field}: " in result.output
    assert message in result.output, result.output


def test_definition_with_national_contests_vote_no_and_names(workspace: Workspace) -> None:
    text = DEFINITION + NATIONAL
    text = text.replace('name = "North"', 'name = { en = "North", th = "เหนือ" }')
    workspace.write_definition(text)
    result = workspace.init()
    assert result.exit_code == 0, result.output
    manifest = Manifest.from_bytes(Path(workspace.election, "manifest.json").read_bytes())
    assert [c.id for c in manifest.district("south").contests] == ["council", "party-list"]
    assert manifest.district("north").name.text("th") == "เหนือ"
    assert manifest.contest("north", "party-list").vote_no


def test_definition_problems_name_line_and_field(workspace: Workspace) -> None:
    base = DEFINITION
    expect_error(
        workspace,
        base.replace('name = "North"', 'name = { en = "North", de = "Nord" }'),
        'de = "Nord"',
        "districts[0].name.de",
        "'de' is not a language",
    )
    expect_error(
        workspace,
        base + NATIONAL.replace('id = "party-list"', 'id = "council"'),
        'id = "council"',
        "districts[0].contests[0].id",
        "has the id of national_contests[0]",
    )
    expect_error(
        workspace,
        base + NATIONAL.replace("vote_no = true", 'question = "Yes?"'),
        "candidates = [{ number = 1",
        "national_contests[0].candidates",
        "a referendum has answers, not candidates",
    )
    expect_error(
        workspace,
        base + NATIONAL.replace("vote_no = true", 'vote_no = "yes"'),
        'vote_no = "yes"',
        "national_contests[0].vote_no",
        "expected true or false",
    )


texts = st.text(
    st.characters(min_codepoint=32, max_codepoint=0x0E7F, blacklist_categories=("Cs",)),
    min_size=1,
    max_size=30,
).filter(lambda t: t.strip())
names = st.one_of(
    texts,
    st.dictionaries(st.sampled_from(["en", "th"]), texts, min_size=1),
)


@settings(max_examples=60, deadline=None)
@given(election=names, district=names, party=names, question=names)
def test_names_round_trip_through_the_manifest(
    thai: SmallElection, election: object, district: object, party: object, question: object
) -> None:
    document = json.loads(canonical_bytes(thai.manifest.to_dict()))
    document["name"] = election
    document["districts"][1]["name"] = district
    document["national_contests"][0]["candidates"][2]["name"] = party
    document["national_contests"][1]["question"] = question
    manifest = Manifest.from_dict(document, check_key=False)
    assert canonical_bytes(manifest.to_dict()) == canonical_bytes(document)
    assert Manifest.from_bytes(manifest.canonical(), check_key=False).hash == manifest.hash
    for value, name in (
        (election, manifest.name),
        (question, manifest.contest("khet-2", "referendum").question),
    ):
        assert name is not None
        if isinstance(value, str):
            assert name.text("en") == name.text("th") == value
        else:
            assert isinstance(value, dict)
            for code in ("en", "th"):
                assert name.text(code) == value.get(code, next(iter(value.values())))


def test_a_67_party_list_with_vote_no_splits_across_ciphertexts(thai: SmallElection) -> None:
    document = json.loads(canonical_bytes(thai.manifest.to_dict()))
    document["national_contests"][0]["candidates"] = [
        {"number": n, "name": {"en": f"Party {n}", "th": f"พรรคที่ {n}"}, "party": ""}
        for n in range(1, 68)
    ]
    manifest = Manifest.from_dict(document)
    encoding = manifest.contest_encoding("khet-1", "party-list")
    assert encoding.candidates == 68 and encoding.parts >= 2  # a 512-bit test key
    for choice in (1, 67, VOTE_NO):
        choices = {"mp": 2, "party-list": choice, "referendum": 3}
        payload, randomness = build_ballot(manifest, "khet-1", choices, secrets.token_bytes(32))
        ballot = parse_ballot(manifest, payload)
        assert len(ballot.contests["party-list"].ciphertexts) == encoding.parts
        assert choices_in(manifest, ballot, randomness) == choices
        assert batch_verify(ballot_statements(manifest, ballot)) == []  # every proof holds
