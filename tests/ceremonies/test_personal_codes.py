"""Personal-code schemes (formats.personal_codes): the Thai citizen ID and the Estonian
personal code with their check digits, the opaque default, the manifest field that names the
scheme, and the voter lists, change lists and paper-voter lists checked by it."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from ceremony_helpers import DEFINITION, VOTERS, Workspace, line_of, make_ca
from hypothesis import given
from hypothesis import strategies as st

from canonical.encoding import FormatError
from formats.manifest import ElectionDirectory, Manifest, ManifestError
from formats.paper import parse_paper_voter_input
from formats.personal_codes import (
    ESTONIAN_PERSONAL_CODE,
    OPAQUE,
    SCHEMES,
    THAI_CITIZEN_ID,
    check,
    estonian_check_digit,
    problem,
    thai_check_digit,
)
from formats.voters import InputFileError, VoterList, parse_change_csv, parse_voter_csv

# -- generators of valid codes (written from the rules, not from the module) ------------------


def thai_x(first12: str) -> int:
    return sum((14 - i) * int(d) for i, d in enumerate(first12, 1)) % 11


def thai_code(first12: str) -> str:
    return first12 + str((11 - thai_x(first12)) % 10)


thai_first12 = st.builds(
    lambda head, rest: str(head) + rest,
    st.integers(1, 8),
    st.from_regex(r"[0-9]{11}", fullmatch=True),
)
thai_codes = thai_first12.map(thai_code)


def estonian_sums(first10: str) -> tuple[int, int]:
    digits = [int(d) for d in first10]
    one = sum(w * d for w, d in zip((1, 2, 3, 4, 5, 6, 7, 8, 9, 1), digits, strict=True)) % 11
    two = sum(w * d for w, d in zip((3, 4, 5, 6, 7, 8, 9, 1, 2, 3), digits, strict=True)) % 11
    return one, two


def estonian_code(first10: str) -> str:
    one, two = estonian_sums(first10)
    digit = one if one != 10 else (two if two != 10 else 0)
    return first10 + str(digit)


CENTURIES = {1: 1800, 2: 1800, 3: 1900, 4: 1900, 5: 2000, 6: 2000}
@st.composite
def estonian_code_with_date(draw: st.DrawFn) -> str:
    g = draw(st.integers(1, 6))
    century = CENTURIES[g]
    born = draw(st.dates(dt.date(century, 1, 1), dt.date(century + 99, 12, 31)))
    serial = draw(st.integers(0, 999))
    return estonian_code(f"{g}{born:%y%m%d}{serial:03d}")


def other_digit(digit: str, data: st.DataObject) -> str:
    return str(data.draw(st.sampled_from([d for d in range(10) if str(d) != digit])))


# -- known codes -------------------------------------------------------------------------------


def test_known_codes() -> None:
    check(ESTONIAN_PERSONAL_CODE, "37605030299")  # the standard's example
    assert estonian_check_digit("3760503029") == 9
    # 1-1017-00230-70-6 is often cited as a valid Thai ID, but the formula says otherwise:
    # x = 13*1 + 12*1 + 11*0 + 10*1 + 9*7 + 8*0 + 7*0 + 6*2 + 5*3 + 4*0 + 3*7 + 2*0 = 146,
    # 146 mod 11 = 3, d13 = (11 - 3) mod 10 = 8. The same digits with 8 are valid.
    assert thai_x("110170023070") == 3 and thai_check_digit("110170023070") == 8
    check(THAI_CITIZEN_ID, "1101700230708")
    with pytest.raises(FormatError, match="the check digit does not match"):
        check(THAI_CITIZEN_ID, "1101700230706")


@pytest.mark.parametrize(
    ("scheme", "code", "message"),
    [
        (THAI_CITIZEN_ID, "110170023070", "12 digits, expected 13"),
        (THAI_CITIZEN_ID, "11017002307088", "14 digits, expected 13"),
        (THAI_CITIZEN_ID, "1-1017-00230-70-8", "is not 13 digits"),
        (THAI_CITIZEN_ID, "๑101700230708", "is not 13 digits"),  # Thai digits are not 0-9
        (THAI_CITIZEN_ID, "0101700230708", "starts with a digit from 1 to 8"),
        (THAI_CITIZEN_ID, "9101700230708", "starts with a digit from 1 to 8"),
        (ESTONIAN_PERSONAL_CODE, "3760503029", "10 digits, expected 11"),
        (ESTONIAN_PERSONAL_CODE, "3760503029X", "is not 11 digits"),
        (ESTONIAN_PERSONAL_CODE, "77605030299", "starts with a digit from 1 to 6"),
        (ESTONIAN_PERSONAL_CODE, "37602300299", "760230 (YYMMDD) is not a date of birth"),
        (ESTONIAN_PERSONAL_CODE, "30002290002", "000229 (YYMMDD) is not a date of birth in the 19"),
        (ESTONIAN_PERSONAL_CODE, "37605030298", "the check digit does not match"),
        (OPAQUE, "", "empty"),
        (OPAQUE, "3800 101", "is not a personal code"),
        (OPAQUE, "ok\n", "is not a personal code"),
    ],
)
def test_each_problem_is_named(scheme: str, code: str, message: str) -> None:
    with pytest.raises(FormatError, match=re.escape(message)) as raised:
        check(scheme, code)
    assert raised.value.field == "personal_code"
    assert problem(scheme, code) == raised.value.problem


def test_leap_days_follow_the_century() -> None:
    check(ESTONIAN_PERSONAL_CODE, estonian_code("5000229000"))  # 2000-02-29
    message = problem(ESTONIAN_PERSONAL_CODE, estonian_code("3000229000"))  # 1900-02-29
    assert message == "000229 (YYMMDD) is not a date of birth in the 1900s"


def test_the_opaque_scheme_is_todays_rule() -> None:
    for code in ("38001010001", "A-1", "x" * 64, "1101700230706"):
        check(OPAQUE, code)
    for code in ("-A", "x" * 65, "a_b", "a b"):
        assert problem(OPAQUE, code)
    with pytest.raises(ValueError, match="unknown personal-code scheme"):
        check("dutch-bsn", "123")


def test_the_message_never_reveals_the_right_check_digit() -> None:
    message = problem(THAI_CITIZEN_ID, "1101700230706") or ""
    assert "8" not in message and message == "the check digit does not match"


# -- properties --------------------------------------------------------------------------------


@given(thai_codes)
def test_every_generated_thai_id_passes(code: str) -> None:
    check(THAI_CITIZEN_ID, code)
    check(OPAQUE, code)  # every scheme's codes are opaque codes too


@given(thai_codes, st.integers(1, 13), st.data())
def test_a_changed_thai_digit_fails_except_where_the_scheme_cannot_see_it(
    code: str, position: int, data: st.DataObject
) -> None:
    """x -> d13 = (11 - x) mod 10 maps x = 0 and x = 10 both to 1, and digit 3's weight is
    14 - 3 = 11, 0 mod 11: a change there never moves x. Every other one-digit change fails."""
    changed = code[: position - 1] + other_digit(code[position - 1], data) + code[position:]
    passes = problem(THAI_CITIZEN_ID, changed) is None
    if position == 13:
        assert not passes
    elif position == 1 and changed[0] in "09":
        assert not passes  # the first digit's rule
    elif position == 3:
        assert passes  # provably undetected: weight 11
    else:
        assert passes == ({thai_x(code[:12]), thai_x(changed[:12])} == {0, 10})


def test_thai_blind_spots_exist() -> None:
    """The two blind spots above are real, not just allowed by the test."""
    assert problem(THAI_CITIZEN_ID, "1111700230708") is None  # digit 3 changed 0 -> 1
    # x = 13 + 3 * 1 + 2 * 3 = 22 = 0 mod 11, d13 = 1; digit 4 (weight 10) up by one: x = 10
    assert thai_x("100000000013") == 0 and thai_x("100100000013") == 10
    check(THAI_CITIZEN_ID, "1000000000131")
    check(THAI_CITIZEN_ID, "1001000000131")


@given(estonian_code_with_date())
def test_every_generated_estonian_code_passes(code: str) -> None:
    check(ESTONIAN_PERSONAL_CODE, code)
    check(OPAQUE, code)


@given(estonian_code_with_date(), st.integers(1, 11), st.data())
def test_a_changed_estonian_digit_fails_unless_a_first_round_sum_is_ten(
    code: str, position: int, data: st.DataObject
) -> None:
    """Weights 1..9, 1 are all non-zero mod 11, so a one-digit change moves the first-round sum;
    the check digit can only stay when the old or new first-round sum is 10 (the second round
    or the 0 fallback). The check digit itself is unique."""
    changed = code[: position - 1] + other_digit(code[position - 1], data) + code[position:]
    passes = problem(ESTONIAN_PERSONAL_CODE, changed) is None
    if position == 11:
        assert not passes
    elif passes:
        assert 10 in (estonian_sums(code[:10])[0], estonian_sums(changed[:10])[0])


# -- the manifest ------------------------------------------------------------------------------


def test_the_manifest_carries_the_scheme_and_old_manifests_mean_opaque(
    draft_manifest: Manifest,
) -> None:
    assert draft_manifest.personal_code_scheme == OPAQUE
    old = draft_manifest.to_dict()
    assert "personal_code_scheme" not in old  # opaque keeps the manifest's bytes and hash
    assert Manifest.from_dict(old, check_key=False).personal_code_scheme == OPAQUE
    thai = dict(old, personal_code_scheme=THAI_CITIZEN_ID)
    parsed = Manifest.from_dict(thai, check_key=False)
    assert parsed.personal_code_scheme == THAI_CITIZEN_ID and parsed.to_dict() == thai
    assert parsed.hash != draft_manifest.hash  # signed: the scheme cannot be swapped
    for bad in ("opaque", "dutch-bsn", 7):
        with pytest.raises(ManifestError, match="personal_code_scheme"):
            Manifest.from_dict(dict(old, personal_code_scheme=bad), check_key=False)


@pytest.fixture
def draft_manifest(tmp_path: Path) -> Manifest:
    from ceremonies.definition import load_definition

    (tmp_path / "ca.pem").write_bytes(make_ca())
    (tmp_path / "election.toml").write_text(DEFINITION)
    (tmp_path / "voters.csv").write_text(VOTERS)
    return load_definition(
        tmp_path / "election.toml", tmp_path / "voters.csv", dt.datetime(2099, 1, 1, tzinfo=dt.UTC)
    ).manifest


# -- lists -------------------------------------------------------------------------------------

GOOD = ["1101700230708", thai_code("310050012345"), thai_code("812345678901")]
BAD_CHECK = GOOD[1][:12] + str((int(GOOD[1][12]) + 1) % 10)


def test_a_voter_list_with_a_wrong_thai_check_digit_is_refused_naming_its_line() -> None:
    rows = ["personal_code,given_name,surname,district"] + [f"{c},A,B,north" for c in GOOD]
    rows.insert(3, f"{BAD_CHECK},C,D,north")
    rows.append("12345,E,F,north")
    with pytest.raises(InputFileError) as raised:
        parse_voter_csv("\n".join(rows), "voters.csv", ["north"], THAI_CITIZEN_ID)
    lines = str(raised.value).splitlines()
    assert lines == [
        "voters.csv:4: personal_code: the check digit does not match",
        "voters.csv:6: personal_code: 5 digits, expected 13",
    ]
    # the same list is fine under the opaque default
    assert len(parse_voter_csv("\n".join(rows), "voters.csv", ["north"])) == 5


def test_a_change_list_and_a_stored_list_are_checked_by_the_scheme() -> None:
    with pytest.raises(InputFileError, match=r"changes\.csv:3: personal_code: the check digit"):
        parse_change_csv(
            "action,personal_code,given_name,surname,district\n"
            f"add,{GOOD[0]},A,B,north\nadd,{BAD_CHECK},C,D,north\n",
            "changes.csv",
            THAI_CITIZEN_ID,
        )
    csv = f"personal_code,given_name,surname,district\n{BAD_CHECK},A,B,n\n"
    stored = VoterList("e1", 1, None, parse_voter_csv(csv)).to_dict()
    VoterList.from_dict(stored)
    with pytest.raises(FormatError, match=r"voters\[0\]\.personal_code: the check digit"):
        VoterList.from_dict(stored, scheme=THAI_CITIZEN_ID)


def test_a_paper_voter_list_with_a_wrong_check_digit_is_refused_naming_its_line() -> None:
    voters = parse_voter_csv(
        "personal_code,given_name,surname,district\n" + "".join(f"{c},A,B,n\n" for c in GOOD),
        scheme=THAI_CITIZEN_ID,
    )
    voter_list = VoterList("e1", 1, None, voters)
    text = f"# paper voters\n{GOOD[0]}\n{BAD_CHECK}\n\n9101700230708\n{GOOD[2]}\n"
    with pytest.raises(InputFileError) as raised:
        parse_paper_voter_input(text.encode(), "paper.txt", voter_list, THAI_CITIZEN_ID)
    assert str(raised.value).splitlines() == [
        "paper.txt:3: personal_code: the check digit does not match",
        "paper.txt:5: personal_code: a Thai citizen ID starts with a digit from 1 to 8",
    ]
    ok = f"{GOOD[0]}\n{GOOD[2]}\n".encode()
    assert parse_paper_voter_input(ok, "p", voter_list, THAI_CITIZEN_ID) == (GOOD[0], GOOD[2])


def test_every_scheme_is_listed() -> None:
    assert SCHEMES == (OPAQUE, THAI_CITIZEN_ID, ESTONIAN_PERSONAL_CODE)


# -- the ceremonies' commands ------------------------------------------------------------------

THAI_DEFINITION_LINE = 'personal_code_scheme = "thai-citizen-id"\n'


def thai_workspace(workspace: Workspace) -> Workspace:
    workspace.write_definition(
        DEFINITION.replace("threshold = 2\n", "threshold = 2\n" + THAI_DEFINITION_LINE)
    )
    workspace.write_voters(
        "personal_code,given_name,surname,district\n"
        + "".join(
            f"{code},Somchai,Jaidee,{district}\n"
            for code, district in zip(GOOD, ["north", "north", "south"], strict=True)
        )
    )
    return workspace


def test_init_names_the_line_of_a_code_that_does_not_fit(workspace: Workspace) -> None:
    thai_workspace(workspace)
    workspace.voters.write_text(workspace.voters.read_text() + f"{BAD_CHECK},A,B,north\n")
    result = workspace.init()
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert f"{workspace.voters}:5: personal_code: the check digit does not match" in result.output
    assert not workspace.election.exists() or not any(workspace.election.iterdir())


def test_init_names_the_line_of_an_unknown_scheme(workspace: Workspace) -> None:
    text = DEFINITION.replace("threshold = 2\n", 'threshold = 2\npersonal_code_scheme = "bsn"\n')
    workspace.write_definition(text)
    result = workspace.init()
    assert result.exit_code != 0
    line = line_of(text, "personal_code_scheme")
    assert (
        f"{workspace.definition}:{line}: election.personal_code_scheme: unknown personal-code "
        "scheme 'bsn' (expected one of opaque, thai-citizen-id, estonian-personal-code)"
    ) in result.output


def test_thai_election_through_init_changes_and_paper_voters(workspace: Workspace) -> None:
    thai_workspace(workspace)
    assert workspace.init().exit_code == 0
    election = ElectionDirectory(workspace.election)
    manifest = election.read_manifest(check_key=False)
    assert manifest.personal_code_scheme == THAI_CITIZEN_ID
    changes = workspace.root / "changes.csv"
    changes.write_text(
        "action,personal_code,given_name,surname,district\n"
        f"add,{thai_code('112345678901')},A,B,north\nadd,{BAD_CHECK},C,D,south\n"
    )
    args = ("voters", "apply", "--election", str(workspace.election), "--changes", str(changes))
    result = workspace.run(*args)
    assert result.exit_code != 0
    assert f"{changes}:3: personal_code: the check digit does not match" in result.output
    assert len(election.voter_lists(manifest)) == 1
    result = workspace.keygen()
    assert result.exit_code == 0, result.output
    codes = workspace.root / "paper.txt"
    codes.write_text(f"{GOOD[0]}\n{BAD_CHECK}\n")
    out = workspace.root / "paper.signed.json"
    result = workspace.run(
        "paper-voters", "--election", str(workspace.election), "--list", str(codes),
        "--organiser-key", str(workspace.organiser), "--organiser-passphrase-file",
        str(workspace.organiser_passphrase), "--out", str(out),
    )  # fmt: skip
    assert result.exit_code != 0
    assert f"{codes}:2: personal_code: the check digit does not match" in result.output
    assert not out.exists()
