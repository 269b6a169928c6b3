"""Choose-several contests in the election definition and the manifest: every `choose` form
gives its bounds; bad forms and bounds the contest cannot have are refused by `ivote ceremony
init`, naming the line and the field; the manifest's `choose` object round-trips, and bounds
outside the rules (or exactly one written out) are refused, naming the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ceremony_helpers import DEFINITION, Workspace, line_of
from hypothesis import given, settings
from hypothesis import strategies as st

from canonical.encoding import canonical_bytes
from formats.manifest import Manifest, ManifestError
from ivote.cli import main

ASSEMBLY = """
[[districts.contests]]
id = "assembly"
name = "District assembly"
{choose}
candidates = [
  {{ number = 1, name = "Liis Lepik" }},
  {{ number = 2, name = "Ants Kask" }},
  {{ number = 3, name = "Eve Mets" }},
  {{ number = 4, name = "Rein Luik" }},
]
"""
FIELD = "districts[0].contests[1].choose"  # north's second contest


def with_assembly(choose: str, extra: str = "") -> str:
    """The test definition with a 4-candidate assembly in north, after its council."""
    south = '[[districts]]\nid = "south"'
    assembly = ASSEMBLY.format(choose=choose).replace('name = "District assembly"\n',
                                                      f'name = "District assembly"\n{extra}')
    return DEFINITION.replace(south, assembly.lstrip("\n") + "\n" + south)


def initialised(workspace: Workspace, text: str) -> Manifest:
    workspace.write_definition(text)
    result = workspace.init()
    assert result.exit_code == 0, result.output
    return Manifest.from_bytes(Path(workspace.election, "manifest.json").read_bytes())


@pytest.mark.parametrize(
    ("choose", "bounds", "rule"),
    [
        ("choose = { exactly = 2 }", (2, 2), "Mark exactly 2 candidates"),
        ("choose = { at_most = 3 }", (0, 3), "Mark up to 3 candidates, or none"),
        ("choose = { at_most = 1 }", (0, 1), "Mark up to 1 candidate, or none"),
        ("choose = { min = 1, max = 3 }", (1, 3), "Mark between 1 and 3 candidates"),
        ("choose = { min = 0, max = 4 }", (0, 4), "Mark any number of the candidates, or none"),
        ('choose = "approval"', (0, 4), "Mark any number of the candidates, or none"),
        ("choose = { exactly = 4 }", (4, 4), "Mark exactly 4 candidates"),
    ],
)
def test_every_choose_form_gives_its_bounds(
    workspace: Workspace, choose: str, bounds: tuple[int, int], rule: str
) -> None:
    manifest = initialised(workspace, with_assembly(choose))
    assembly = manifest.contest("north", "assembly")
    assert (assembly.min_marks, assembly.max_marks) == bounds
    assert assembly.choose_several and assembly.rule == rule
    assert assembly.blank_allowed == (bounds[0] == 0)
    assert assembly.counts_size == 4 + (bounds[0] == 0)
    written = json.loads(Path(workspace.election, "manifest.json").read_text())
    contest = written["districts"][0]["contests"][1]
    assert contest["choose"] == {"min": bounds[0], "max": bounds[1]}
    council = manifest.contest("north", "council")
    assert not council.choose_several and council.rule is None


@pytest.mark.parametrize(
    "choose", ["choose = { exactly = 1 }", "choose = { min = 1, max = 1 }", ""]
)
def test_exactly_one_is_the_field_left_out(workspace: Workspace, choose: str) -> None:
    manifest = initialised(workspace, with_assembly(choose))
    assembly = manifest.contest("north", "assembly")
    assert (assembly.min_marks, assembly.max_marks) == (1, 1) and not assembly.choose_several
    written = json.loads(Path(workspace.election, "manifest.json").read_text())
    assert "choose" not in written["districts"][0]["contests"][1]


def expect_error(workspace: Workspace, text: str, fragment: str, field: str, message: str) -> None:
    workspace.write_definition(text)
    result = workspace.init()
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert f"{workspace.definition}:{line_of(text, fragment)}: {field}: " in result.output, (
        result.output
    )
    assert message in result.output, result.output
    assert not Path(workspace.election, "manifest.json").exists()


FORM = 'expected { exactly = K }, { at_most = K }, { min = A, max = B } or "approval"'
BOUNDS = "need 0 <= min <= max, 1 <= max <= the number of candidates"


@pytest.mark.parametrize(
    ("choose", "field", "message"),
    [
        ('choose = { at_most = "3" }', f"{FIELD}.at_most", "expected an integer"),
        ("choose = { exactly = 2.0 }", f"{FIELD}.exactly", "expected an integer"),
        ("choose = { at_most = true }", f"{FIELD}.at_most", "expected an integer"),
        ("choose = { most = 3 }", FIELD, FORM),
        ("choose = { min = 1 }", FIELD, FORM),
        ("choose = { exactly = 2, at_most = 3 }", FIELD, FORM),
        ('choose = "approve"', FIELD, FORM),
        ("choose = 3", FIELD, FORM),
        ("choose = { at_most = 0 }", FIELD, BOUNDS),
        ("choose = { exactly = 0 }", FIELD, BOUNDS),
        ("choose = { min = 3, max = 2 }", FIELD, BOUNDS),
        ("choose = { at_most = 5 }", FIELD, BOUNDS),
        ("choose = { exactly = 5 }", FIELD, BOUNDS),
        ("choose = { min = -1, max = 2 }", FIELD, BOUNDS),
    ],
)
def test_bad_forms_and_bounds_name_the_line_and_field(
    workspace: Workspace, choose: str, field: str, message: str
) -> None:
    expect_error(workspace, with_assembly(choose), choose, field, message)


def test_choose_with_vote_no_is_refused(workspace: Workspace) -> None:
    text = with_assembly("choose = { at_most = 2 }", extra="vote_no = true\n")
    expect_error(workspace, text, "choose = { at_most = 2 }", FIELD, 'has a "vote no" box')


def test_choose_on_a_referendum_is_refused(workspace: Workspace) -> None:
    referendum = """
[[national_contests]]
id = "referendum"
name = "Referendum"
question = "Yes or no?"
choose = { at_most = 2 }
answers = [{ number = 1, name = "Yes" }, { number = 2, name = "No" }]
"""
    expect_error(
        workspace, DEFINITION + referendum, "choose = { at_most = 2 }",
        "national_contests[0].choose", "takes one answer",
    )  # fmt: skip


# -- the manifest's `choose` object -------------------------------------------------------

CANDIDATES = 4


def valid_bounds() -> st.SearchStrategy[tuple[int, int]]:
    return (
        st.integers(1, CANDIDATES)
        .flatmap(lambda high: st.tuples(st.integers(0, high), st.just(high)))
        .filter(lambda bounds: bounds != (1, 1))
    )


def test_the_manifest_choose_round_trips_and_bad_bounds_are_refused(
    workspace: Workspace,
) -> None:
    initialised(workspace, with_assembly("choose = { at_most = 3 }"))
    original: dict[str, Any] = json.loads(
        Path(workspace.election, "manifest.json").read_text()
    )

    def document(choose: object) -> dict[str, Any]:
        changed = json.loads(json.dumps(original))
        changed["districts"][0]["contests"][1]["choose"] = choose
        return changed

    @settings(max_examples=40, deadline=None)
    @given(bounds=valid_bounds())
    def round_trip(bounds: tuple[int, int]) -> None:
        doc = document({"min": bounds[0], "max": bounds[1]})
        manifest = Manifest.from_dict(doc)
        assert canonical_bytes(manifest.to_dict()) == canonical_bytes(doc)
        again = Manifest.from_bytes(manifest.canonical())
        assembly = again.contest("north", "assembly")
        assert (assembly.min_marks, assembly.max_marks) == bounds
        assert again.hash == manifest.hash
        encoding = again.contest_encoding("north", "assembly")
        assert (encoding.min_marks, encoding.max_marks) == bounds
        assert encoding.digits == CANDIDATES + (bounds[0] == 0)

    @settings(max_examples=60, deadline=None)
    @given(low=st.integers(-3, 7), high=st.integers(-3, 7))
    def bad_bounds(low: int, high: int) -> None:
        if 0 <= low <= high and 1 <= high <= CANDIDATES:
            return
        with pytest.raises(ManifestError) as caught:
            Manifest.from_dict(document({"min": low, "max": high}))
        assert FIELD in str(caught.value) and BOUNDS in str(caught.value), str(caught.value)

    round_trip()
    bad_bounds()
    for choose, message in (
        ({"min": 1, "max": 1}, "exactly one (leave the field out)"),
        ({"min": 0, "max": 2, "seats": 2}, "seats"),
        ({"min": 0}, "max"),
        ({"min": "0", "max": 2}, "min"),
        ([0, 2], FIELD),
    ):
        with pytest.raises(ManifestError) as caught:
            Manifest.from_dict(document(choose))
        assert FIELD in str(caught.value) and message in str(caught.value), str(caught.value)


def test_ceremony_show_gives_the_rule(workspace: Workspace) -> None:
    initialised(workspace, with_assembly("choose = { min = 1, max = 3 }"))
    shown = workspace.run("show", "--election", str(workspace.election))
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    [index] = [i for i, line in enumerate(lines) if "District assembly (assembly)" in line]
    # under the contest's name, in its table cell
    assert "Mark between 1 and 3 candidates" in lines[index + 1]
    assert shown.output.count("Mark ") == 1  # the councils choose exactly one: no rule
    thai = workspace.runner.invoke(
        main, ["--lang", "th", "ceremony", "show", "--election", str(workspace.election)]
    )
    assert "ทำเครื่องหมายเลือกผู้สมัครได้ตั้งแต่ 1 ถึง 3 คน" in thai.output, thai.output
