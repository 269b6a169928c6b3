"""Voter lists: parsing, canonical hashing, change lists that chain versions and refuse what
they cannot do (formats.voters), and `ivote ceremony voters apply|list`."""

from __future__ import annotations

import random

import pytest
from ceremony_helpers import Workspace
from hypothesis import given
from hypothesis import strategies as st

from canonical.encoding import FormatError, canonical_bytes, parse_canonical
from formats.manifest import ElectionDirectory
from formats.voters import (
    InputFileError,
    Voter,
    VoterList,
    load_voter_lists,
    parse_change_csv,
    parse_voter_csv,
    voter_list_path,
    write_voter_list,
)

DISTRICTS = ["north", "south"]
HEADER = "action,personal_code,given_name,surname,district\n"


def base_list() -> VoterList:
    voters = parse_voter_csv(
        "personal_code,given_name,surname,district\n"
        "38001010001,Mari,Maasikas,north\n"
        "38001010002,Jaan,Tamm,north\n"
        "48001010003,Kati,Karu,south\n",
        "voters.csv",
        DISTRICTS,
    )
    return VoterList("e1", 1, None, voters)


def changes(rows: str):
    return parse_change_csv(HEADER + rows, "changes.csv")


def test_change_list_makes_a_chained_version() -> None:
    v1 = base_list()
    v2 = v1.apply(
        changes(
            "add,49001010004,Liis,Lepp,south\nremove,38001010002,,,\nmove,38001010001,,,south\n"
        ),
        DISTRICTS,
    )
    assert v2.list_version == 2 and v2.previous == v1.hash
    assert v2.district_of("49001010004") == "south"
    assert v2.district_of("38001010002") is None and "38001010002" in v1
    assert v2.district_of("38001010001") == "south"
    assert v2.voters["38001010001"].surname == "Maasikas"  # kept on a move
    assert v1.district_of("38001010001") == "north"  # old version unchanged
    assert v2.district_counts() == {"south": 3}
    v3 = v2.apply(changes("add,38001010002,Jaan,Tamm,north\n"), DISTRICTS)
    assert v3.previous == v2.hash and len({v1.hash, v2.hash, v3.hash}) == 3
    # Same voters as v1, but a different place in the chain: a different hash.
    assert set(v3.voters) == set(v1.voters) | {"49001010004"}


@pytest.mark.parametrize(
    ("rows", "field", "message"),
    [
        ("remove,99999999999,,,\n", "personal_code", "cannot remove 99999999999: not on the list"),
        ("add,38001010001,Mari,Maasikas,north\n", "personal_code", "duplicate add"),
        ("move,38001010001,,,west\n", "district", "unknown district 'west'"),
        ("add,49001010004,Liis,Lepp,west\n", "district", "unknown district 'west'"),
        ("move,99999999999,,,north\n", "personal_code", "cannot move 99999999999"),
        ("move,38001010001,,,north\n", "district", "38001010001 is already in district 'north'"),
    ],
)
def test_change_list_refusals(rows: str, field: str, message: str) -> None:
    with pytest.raises(InputFileError) as caught:
        base_list().apply(changes("add,49001010009,Ok,Row,north\n" + rows), DISTRICTS)
    assert f"changes.csv:3: {field}: {message}" in str(caught.value)


def test_duplicate_add_within_one_change_list() -> None:
    rows = "add,49001010004,Liis,Lepp,south\nadd,49001010004,Liis,Lepp,north\n"
    with pytest.raises(InputFileError, match=r"changes\.csv:3: personal_code: .*changed twice"):
        base_list().apply(changes(rows), DISTRICTS)


def test_change_list_cannot_exceed_max_voters() -> None:
    with pytest.raises(InputFileError, match="more than the election's max_voters 3"):
        base_list().apply(changes("add,49001010004,Liis,Lepp,south\n"), DISTRICTS, max_voters=3)


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ("delete,38001010001,,,\n", "changes.csv:2: action: unknown action 'delete'"),
        ("add,49001010004,,Lepp,south\n", "changes.csv:2: given_name: empty (needed to add)"),
        ("move,38001010001,,,\n", "changes.csv:2: district: empty (needed to move)"),
        ("remove,,,,\n", "changes.csv:2: personal_code: empty"),
        ("remove,1,2\n", "changes.csv:2: row: 3 fields, expected 5"),
    ],
)
def test_malformed_change_rows(rows: str, expected: str) -> None:
    with pytest.raises(InputFileError) as caught:
        changes(rows)
    assert expected in str(caught.value)


def test_empty_change_list_is_refused() -> None:
    with pytest.raises(InputFileError, match="the change list is empty"):
        changes("")


def test_chain_is_checked_when_loading(tmp_path) -> None:
    v1 = base_list()
    v2 = v1.apply(changes("remove,38001010002,,,\n"), DISTRICTS)
    v3 = v2.apply(changes("add,38001010002,Jaan,Tamm,south\n"), DISTRICTS)
    for version in (v1, v2, v3):
        write_voter_list(tmp_path, version)
    loaded = load_voter_lists(tmp_path, v1.hash, "e1", DISTRICTS)
    assert [v.hash for v in loaded] == [v1.hash, v2.hash, v3.hash]
    with pytest.raises(FileExistsError):
        write_voter_list(tmp_path, v3)
    with pytest.raises(FormatError, match="differs from the manifest"):
        load_voter_lists(tmp_path, bytes(32), "e1", DISTRICTS)
    with pytest.raises(FormatError, match="election_id"):
        load_voter_lists(tmp_path, v1.hash, "e2", DISTRICTS)
    # Rewriting version 2 (a voter slipped in) breaks the link from version 3.
    path = voter_list_path(tmp_path, 2)
    obj = parse_canonical(path.read_bytes())
    obj["voters"].append(
        {"personal_code": "99", "given_name": "Eve", "surname": "X", "district": "north"}
    )
    path.write_bytes(canonical_bytes(obj))
    with pytest.raises(FormatError, match=r"list-0003\.json\.previous: does not chain"):
        load_voter_lists(tmp_path, v1.hash, "e1", DISTRICTS)


def test_stored_list_must_be_sorted_and_known() -> None:
    obj = base_list().to_dict()
    obj["voters"].reverse()
    with pytest.raises(FormatError, match=r"voters\[1\].personal_code: voters not sorted"):
        VoterList.from_dict(obj)
    obj = base_list().to_dict()
    obj["voters"][-1]["personal_code"] += "\n"  # sorts last still; "$" would have let it in
    with pytest.raises(FormatError, match="is not a personal code"):
        VoterList.from_dict(obj)
    obj = base_list().to_dict()
    obj["voters"][0]["district"] = "west"
    with pytest.raises(FormatError, match="unknown district 'west'"):
        VoterList.from_dict(obj, districts=DISTRICTS)


codes = st.from_regex(r"[0-9]{11}", fullmatch=True)
names = (
    st.text(
        alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF, exclude_characters='",\\'),
        min_size=1,
        max_size=20,
    )
    .map(str.strip)
    .filter(bool)
)


@given(
    st.dictionaries(
        codes, st.tuples(names, names, st.sampled_from(DISTRICTS)), min_size=1, max_size=30
    ),
    st.randoms(use_true_random=False),
)
def test_csv_round_trip_and_hash_independent_of_row_order(entries, rng: random.Random) -> None:
    rows = [f"{code},{g},{s},{d}" for code, (g, s, d) in entries.items()]
    rng.shuffle(rows)
    text = "personal_code,given_name,surname,district\n" + "\n".join(rows) + "\n"
    parsed = parse_voter_csv(text, "v.csv", DISTRICTS)
    assert {v.personal_code: (v.given_name, v.surname, v.district) for v in parsed} == entries
    first = VoterList("e", 1, None, parsed)
    second = VoterList("e", 1, None, list(reversed(parsed)))
    assert first.hash == second.hash
    again = VoterList.from_dict(parse_canonical(canonical_bytes(first.to_dict())), "v")
    assert again.hash == first.hash
    # Any change to any voter changes the hash.
    code = rng.choice(sorted(entries))
    moved = [
        Voter(
            v.personal_code, v.given_name, v.surname, "north" if v.district == "south" else "south"
        )
        if v.personal_code == code
        else v
        for v in parsed
    ]
    assert VoterList("e", 1, None, moved).hash != first.hash


def test_cli_voters_apply_and_list(workspace: Workspace) -> None:
    assert workspace.init().exit_code == 0
    change_file = workspace.root / "changes.csv"
    change_file.write_text(HEADER + "add,49001010004,Liis,Lepp,south\nmove,38001010002,,,south\n")
    result = workspace.run(
        "voters", "apply", "--election", str(workspace.election), "--changes", str(change_file)
    )
    assert result.exit_code == 0, result.output
    assert "Voter list version 2: 4 voters (was 3 in version 1)" in result.output
    election = ElectionDirectory(workspace.election)
    lists = election.voter_lists(election.read_manifest())
    assert lists[1].previous == lists[0].hash
    assert f"Hash {lists[1].hash.hex()} chains to {lists[0].hash.hex()}" in result.output
    change_file.write_text(HEADER + "remove,00000000000,,,\n")
    result = workspace.run(
        "voters", "apply", "--election", str(workspace.election), "--changes", str(change_file)
    )
    assert result.exit_code != 0
    assert f"{change_file}:2: personal_code: cannot remove 00000000000" in result.output
    assert not voter_list_path(election.voters, 3).exists()
    result = workspace.run("voters", "list", "--election", str(workspace.election))
    assert result.exit_code == 0
    assert "version 1: 3 voters (north: 2, south: 1)" in result.output
    assert "version 2: 4 voters (north: 1, south: 3)" in result.output
