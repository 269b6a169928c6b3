"""`ivote ceremony init`: every validation error names file, line and field; a good definition
makes a draft manifest and voter list v1; an existing election is never overwritten."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ceremony_helpers import DEFINITION, VOTERS, Workspace, line_of, make_ca

from canonical.encoding import canonical_bytes
from formats.manifest import ElectionDirectory, Manifest


def init_error(workspace: Workspace) -> str:
    result = workspace.init()
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    assert not ElectionDirectory(workspace.election).manifest.exists()
    return result.output


def expect_definition_error(
    workspace: Workspace, text: str, fragment: str, field: str, message: str, occurrence: int = 1
) -> None:
    workspace.write_definition(text)
    output = init_error(workspace)
    location = f"{workspace.definition}:{line_of(text, fragment, occurrence)}: {field}: "
    assert location in output, output
    assert message in output, output


def test_good_definition_makes_a_draft_manifest(workspace: Workspace) -> None:
    result = workspace.init()
    assert result.exit_code == 0, result.output
    election = ElectionDirectory(workspace.election)
    data = election.manifest.read_bytes()
    manifest = Manifest.from_bytes(data)
    assert data == canonical_bytes(manifest.to_dict()) + b"\n"
    assert manifest.is_draft and manifest.public_key is None
    assert manifest.election_id == "test-2099"
    assert [d.id for d in manifest.districts] == ["north", "south"]
    south = manifest.contest("south", "council")
    assert [(c.number, str(c.name), str(c.party)) for c in south.candidates] == [
        (201, "Kati Karu", "Green"),
        (202, "Peeter Puu", ""),
    ]
    assert manifest.period.start.isoformat() == "2099-03-01T09:00:00+02:00"
    assert manifest.policy.vote_check_window_minutes == 30 and manifest.policy.max_checks == 3
    assert len(manifest.trust.eid_ca_certificates) == 1
    lists = election.voter_lists(manifest)
    assert len(lists) == 1 and len(lists[0]) == 3
    assert lists[0].district_of("48001010003") == "south"
    assert manifest.voter_list.hash == lists[0].hash and manifest.voter_list.voters == 3
    assert "test size" in result.output  # 512-bit key warning


def test_policy_defaults_apply_when_the_table_is_absent(workspace: Workspace) -> None:
    text = DEFINITION.replace(
        "[policy]\nvote_check_window_minutes = 30\nmax_checks = 3\n"
        "publish_observer_bundle = false\n",
        "",
    )
    workspace.write_definition(text)
    assert workspace.init().exit_code == 0
    manifest = ElectionDirectory(workspace.election).read_manifest()
    assert manifest.policy.to_dict() == {
        "vote_check_window_minutes": 30,
        "max_checks": 3,
        "publish_observer_bundle": False,
    }


def test_refuses_to_overwrite_an_existing_election(workspace: Workspace) -> None:
    assert workspace.init().exit_code == 0
    before = ElectionDirectory(workspace.election).manifest.read_bytes()
    workspace.write_definition(DEFINITION.replace("Test election", "Another election"))
    result = workspace.init()
    assert result.exit_code != 0
    assert "already holds an election" in result.output
    assert ElectionDirectory(workspace.election).manifest.read_bytes() == before


def test_duplicate_voter(workspace: Workspace) -> None:
    workspace.write_voters(VOTERS + "38001010002,Jaan,Teine,south\n")
    output = init_error(workspace)
    assert f"{workspace.voters}:5: personal_code: duplicate voter 38001010002" in output
    assert "first on line 3" in output


def test_unknown_district_in_voter_list(workspace: Workspace) -> None:
    workspace.write_voters(VOTERS.replace("Karu,south", "Karu,west"))
    output = init_error(workspace)
    assert f"{workspace.voters}:4: district: unknown district 'west'" in output


def test_malformed_voter_csv(workspace: Workspace) -> None:
    workspace.write_voters(VOTERS + "38001010009,Only,three\n")
    assert f"{workspace.voters}:5: row: 3 fields, expected 4" in init_error(workspace)
    workspace.write_voters("code,name,district\n1,A,north\n")
    output = init_error(workspace)
    assert f"{workspace.voters}:1: header: missing column(s)" in output
    workspace.write_voters(VOTERS + '38001010009,"unterminated,x,north\n')
    assert f"{workspace.voters}:" in init_error(workspace)


def test_bad_personal_code_and_empty_name(workspace: Workspace) -> None:
    workspace.write_voters(VOTERS + "3800 101,X,Y,north\n38001010010,,Y,north\n")
    output = init_error(workspace)
    assert f"{workspace.voters}:5: personal_code: '3800 101' is not a personal code" in output
    assert f"{workspace.voters}:6: given_name: empty" in output


def test_more_voters_than_max_voters(workspace: Workspace) -> None:
    workspace.write_definition(DEFINITION.replace("max_voters = 1000", "max_voters = 2"))
    output = init_error(workspace)
    assert f"{workspace.voters}: voters: 3 voters, more than max_voters 2" in output


def test_empty_candidate_list(workspace: Workspace) -> None:
    start = DEFINITION.index("candidates = [")
    text = DEFINITION[:start] + "candidates = []\n"
    expect_definition_error(
        workspace,
        text,
        "candidates = []",
        "districts[1].contests[0].candidates",
        "contest 'council' has an empty candidate list",
    )


def test_contest_without_candidates_key(workspace: Workspace) -> None:
    start = DEFINITION.index("candidates = [")
    expect_definition_error(
        workspace,
        DEFINITION[:start],
        "[[districts.contests]]",
        "districts[1].contests[0].candidates",
        "empty candidate list",
        occurrence=2,
    )


def test_duplicate_candidate_number(workspace: Workspace) -> None:
    text = DEFINITION.replace("number = 102", "number = 101")
    expect_definition_error(
        workspace,
        text,
        "number = 101",
        "districts[0].contests[0].candidates[1].number",
        "duplicate candidate number 101",
        occurrence=2,
    )


def test_duplicate_candidate_number_in_inline_table(workspace: Workspace) -> None:
    text = DEFINITION.replace("number = 202", "number = 201")
    workspace.write_definition(text)
    output = init_error(workspace)
    # Inline tables have no line of their own: the message points at the array's line.
    assert (
        f"{workspace.definition}:{line_of(text, 'candidates = [')}: "
        "districts[1].contests[0].candidates[1].number: duplicate candidate number 201"
    ) in output


def test_duplicate_district(workspace: Workspace) -> None:
    text = DEFINITION.replace('id = "south"', 'id = "north"')
    expect_definition_error(
        workspace,
        text,
        'id = "north"',
        "districts[1].id",
        "duplicate district 'north'",
        occurrence=2,
    )


def test_period_end_before_start(workspace: Workspace) -> None:
    text = DEFINITION.replace("end = 2099-03-06", "end = 2099-02-06")
    expect_definition_error(
        workspace, text, "end = ", "election.end", "ends (2099-02-06T20:00:00+02:00) before it"
    )


def test_period_in_the_past(workspace: Workspace) -> None:
    text = DEFINITION.replace("2099-03", "2001-03")
    expect_definition_error(
        workspace, text, "end = ", "election.end", "the voting period is in the past"
    )


def test_period_without_time_zone(workspace: Workspace) -> None:
    text = DEFINITION.replace("start = 2099-03-01T09:00:00+02:00", "start = 2099-03-01T09:00:00")
    expect_definition_error(
        workspace, text, "start = ", "election.start", "needs a time zone offset"
    )


def test_period_as_rfc3339_string_is_accepted(workspace: Workspace) -> None:
    text = DEFINITION.replace("start = 2099-03-01T09:00:00+02:00", 'start = "2099-03-01T07:00:00Z"')
    workspace.write_definition(text)
    assert workspace.init().exit_code == 0
    manifest = ElectionDirectory(workspace.election).read_manifest()
    assert manifest.to_dict()["period"]["start"] == "2099-03-01T07:00:00+00:00"


def test_too_many_candidates_for_the_key_size(workspace: Workspace) -> None:
    # max_voters 3 -> 2-bit digits, 255 per 512-bit plaintext; 1100 candidates need 5 parts,
    # more than the base 4 allows.
    candidates = ", ".join(f'{{ number = {i}, name = "C{i}" }}' for i in range(1, 1101))
    start = DEFINITION.index("candidates = [")
    text = DEFINITION[:start] + f"candidates = [{candidates}]\n"
    text = text.replace("max_voters = 1000", "max_voters = 3")
    expect_definition_error(
        workspace,
        text,
        "candidates = [",
        "districts[1].contests[0].candidates",
        "1100 candidates with max_voters 3 cannot be encoded under a 512-bit key",
    )


def test_threshold_above_trustees(workspace: Workspace) -> None:
    text = DEFINITION.replace("threshold = 2", "threshold = 4")
    expect_definition_error(
        workspace, text, "threshold = ", "election.threshold", "threshold 4 is more than the 3"
    )


def test_key_size_out_of_range(workspace: Workspace) -> None:
    text = DEFINITION.replace("key_bits = 512", "key_bits = 100")
    expect_definition_error(
        workspace, text, "key_bits = ", "election.key_bits", "100 is not an even key size"
    )


def test_wrong_type(workspace: Workspace) -> None:
    text = DEFINITION.replace("trustees = 3", 'trustees = "three"')
    expect_definition_error(
        workspace, text, "trustees = ", "election.trustees", "expected an integer, got 'three'"
    )


def test_missing_field(workspace: Workspace) -> None:
    text = DEFINITION.replace('name = "North"\n', "")
    expect_definition_error(workspace, text, "[[districts]]", "districts[0].name", "missing")


def test_unknown_field(workspace: Workspace) -> None:
    text = DEFINITION.replace("threshold = 2", "threshold = 2\nthreshhold = 2")
    expect_definition_error(workspace, text, "threshhold", "election.threshhold", "unknown field")


def test_malformed_toml_names_the_line(workspace: Workspace) -> None:
    text = DEFINITION.replace('name = "Test election"', 'name = "Test election')
    expect_definition_error(workspace, text, 'name = "Test election', "syntax", "malformed TOML")


def test_bad_identifier(workspace: Workspace) -> None:
    text = DEFINITION.replace('id = "test-2099"', 'id = "test 2099!"')
    expect_definition_error(
        workspace, text, 'id = "test 2099!"', "election.id", "is not an identifier"
    )


def test_untrusted_certificate_files(workspace: Workspace) -> None:
    (workspace.root / "leaf.pem").write_bytes(make_ca("Not a CA", ca=False))
    text = DEFINITION.replace('["ca.pem"]', '["leaf.pem"]')
    expect_definition_error(
        workspace,
        text,
        "eid_ca_certificates",
        "trust.eid_ca_certificates[0]",
        "not a CA certificate",
    )
    text = DEFINITION.replace('["ca.pem"]', '["missing.pem"]')
    expect_definition_error(
        workspace, text, "eid_ca_certificates", "trust.eid_ca_certificates[0]", "missing.pem"
    )
    (workspace.root / "junk.pem").write_text("-----BEGIN CERTIFICATE-----\nnope\n")
    text = DEFINITION.replace('["ca.pem"]', '["junk.pem"]')
    expect_definition_error(
        workspace, text, "eid_ca_certificates", "trust.eid_ca_certificates[0]", "not a PEM"
    )


def test_no_trusted_ca(workspace: Workspace) -> None:
    text = DEFINITION.replace('["ca.pem"]', "[]")
    expect_definition_error(
        workspace,
        text,
        "eid_ca_certificates",
        "trust.eid_ca_certificates",
        "at least one e-ID CA",
    )


def test_every_problem_is_reported_at_once(workspace: Workspace) -> None:
    text = DEFINITION.replace("threshold = 2", "threshold = 9").replace(
        "number = 102", "number = 101"
    )
    workspace.write_definition(text)
    workspace.write_voters(VOTERS.replace("Karu,south", "Karu,west"))
    output = init_error(workspace)
    assert "election.threshold" in output
    assert "candidates[1].number" in output
    assert "unknown district 'west'" in output


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        ("vote_check_window_minutes = 0", "policy.vote_check_window_minutes"),
        ("max_checks = -1", "policy.max_checks"),
        ('publish_observer_bundle = "yes"', "policy.publish_observer_bundle"),
    ],
)
def test_bad_policy(workspace: Workspace, policy: str, field: str) -> None:
    key = policy.split(" = ")[0]
    lines = [policy if line.startswith(key + " ") else line for line in DEFINITION.splitlines()]
    text = "\n".join(lines) + "\n"
    workspace.write_definition(text)
    output = init_error(workspace)
    assert f"{workspace.definition}:{line_of(text, policy)}: {field}: " in output


def test_manifest_json_is_canonical_and_names_no_voter(workspace: Workspace) -> None:
    assert workspace.init().exit_code == 0
    manifest_text = ElectionDirectory(workspace.election).manifest.read_text()
    parsed = json.loads(manifest_text)
    assert manifest_text == json.dumps(parsed, sort_keys=True, separators=(",", ":")) + "\n"
    assert "38001010001" not in manifest_text and "Maasikas, Mari" not in manifest_text


def test_the_example_election_is_valid(tmp_path) -> None:
    from datetime import UTC, datetime, timedelta

    from ceremonies.definition import load_definition

    examples = Path(__file__).parents[2] / "examples"
    (tmp_path / "election.toml").write_bytes((examples / "election.toml").read_bytes())
    for name, ca in (("pki/root-ca.pem", True), ("pki/id-card-ca.pem", True)):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(make_ca(name, ca=ca))
    (tmp_path / "officials").mkdir()
    (tmp_path / "officials/collector.pem").write_bytes(make_ca("collector", ca=False))
    now = datetime(2027, 1, 1, tzinfo=UTC)
    loaded = load_definition(tmp_path / "election.toml", examples / "voters.csv", now=now)
    assert loaded.manifest.key_bits == 3072 and loaded.manifest.trustees == 5
    assert len(loaded.voter_list) == 8 and not loaded.warnings
    # the sample opens when `ceremony init` runs, for a week: a newcomer can vote at once
    assert loaded.manifest.period.start == now
    assert loaded.manifest.period.end == now + timedelta(days=7)
