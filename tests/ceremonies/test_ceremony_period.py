"""The voting period of `ivote ceremony init`: relative times in the definition ("now", "+7d"),
--start/--end on the command line, and the warnings when voting opens later or the refusal
when it is over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ceremony_helpers import DEFINITION, Workspace

from formats.manifest import ElectionDirectory

ABSOLUTE_START = "start = 2099-03-01T09:00:00+02:00"
ABSOLUTE_END = "end = 2099-03-06T20:00:00+02:00"


def period(workspace: Workspace) -> tuple[datetime, datetime]:
    manifest = ElectionDirectory(workspace.election).read_manifest()
    return manifest.period.start, manifest.period.end


def test_relative_period_in_the_definition_opens_now(workspace: Workspace) -> None:
    workspace.write_definition(
        DEFINITION.replace(ABSOLUTE_START, 'start = "now"').replace(ABSOLUTE_END, 'end = "+7d"')
    )
    before = datetime.now(UTC).replace(microsecond=0)
    result = workspace.init()
    after = datetime.now(UTC)
    assert result.exit_code == 0, result.output
    start, end = period(workspace)
    assert before <= start <= after and start.microsecond == 0
    assert end - start == timedelta(days=7)
    assert "voting opens later" not in result.output
    assert "Voting opens " in result.output


def test_start_and_end_options_replace_the_definitions(workspace: Workspace) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    result = workspace.run(
        "init",
        "--definition", str(workspace.definition),
        "--voters", str(workspace.voters),
        "--out", str(workspace.election),
        "--start", "+1h",
        "--end", "+30m",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    start, end = period(workspace)
    assert before + timedelta(hours=1) <= start <= datetime.now(UTC) + timedelta(hours=1)
    assert end - start == timedelta(minutes=30)
    assert "voting opens later" in result.output and "(in 60 minutes)" in result.output


def test_a_later_opening_is_a_clear_warning_with_the_way_to_open_now(
    workspace: Workspace,
) -> None:
    result = workspace.init()  # the definition's period is in 2099
    assert result.exit_code == 0, result.output
    assert "warning: voting opens later, on 1 March 2099, 09:00 UTC+02:00" in result.output
    assert "refuse every ballot" in result.output and "--start now" in result.output


def test_an_absolute_start_option(workspace: Workspace) -> None:
    result = workspace.run(
        "init",
        "--definition", str(workspace.definition),
        "--voters", str(workspace.voters),
        "--out", str(workspace.election),
        "--start", "2098-01-01T00:00:00Z",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    start, end = period(workspace)
    assert start == datetime(2098, 1, 1, tzinfo=UTC)
    assert end == datetime(2099, 3, 6, 18, tzinfo=UTC)


def test_a_closed_period_is_refused_with_the_way_out(workspace: Workspace) -> None:
    result = workspace.run(
        "init",
        "--definition", str(workspace.definition),
        "--voters", str(workspace.voters),
        "--out", str(workspace.election),
        "--start", "2001-01-01T00:00:00Z",
        "--end", "+7d",
    )  # fmt: skip
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "the voting period is in the past (it ended 2001-01-08T00:00:00+00:00)" in (
        result.output
    )
    assert "--start now --end +7d" in result.output
    assert not ElectionDirectory(workspace.election).manifest.exists()


def test_malformed_times_are_refused(workspace: Workspace) -> None:
    for start, end, problem in (
        ("tomorrow", "+7d", "election.start: not an RFC 3339 date-time"),
        ("now", "+7w", "election.end: not an RFC 3339 date-time"),
        ("now", "now", "election.end: not an RFC 3339 date-time"),  # "now" is for the start
    ):
        result = workspace.run(
            "init",
            "--definition", str(workspace.definition),
            "--voters", str(workspace.voters),
            "--out", str(workspace.election),
            "--start", start,
            "--end", end,
        )  # fmt: skip
        assert result.exit_code == 1, result.output
        assert problem in result.output and "Traceback" not in result.output
