"""`-h` prints help on every command and subcommand of `ivote`, the same as `--help`, and
help is in Thai with --lang th."""

from __future__ import annotations

import os
from collections.abc import Iterator

import click
from click.testing import CliRunner
from support.collector_process import run_ivote

from ivote.cli import main


def command_tree(
    command: click.Command, path: list[str], context: click.Context
) -> Iterator[list[str]]:
    yield path
    if isinstance(command, click.Group):
        for name in command.list_commands(context):
            sub = command.get_command(context, name)
            assert sub is not None, name
            yield from command_tree(sub, [*path, name], click.Context(sub, parent=context))


def test_dash_h_prints_help_for_every_command() -> None:
    runner = CliRunner()
    paths = list(command_tree(main, [], click.Context(main)))
    # every role's group and its commands, the officials' nested groups included
    for expected in (["ceremony", "pki", "officials"], ["ceremony", "voters", "apply"],
                     ["collector", "close"], ["tally", "combine"], ["verify"], ["demo"]):
        assert expected in paths
    assert len(paths) >= 35
    for path in paths:
        short = runner.invoke(main, [*path, "-h"])
        assert short.exit_code == 0, (path, short.output)
        assert short.output.startswith("Usage: "), (path, short.output)
        assert "-h, --help" in short.output, path
        assert short.output == runner.invoke(main, [*path, "--help"]).output, path


def test_help_of_the_officials_commands_in_thai() -> None:
    env = {**os.environ, "LANG": "C.UTF-8", "LANGUAGE": ""}
    result = run_ivote("--lang", "th", "ceremony", "init", "-h", env=env)
    assert result.returncode == 0, result.stderr
    assert "ตรวจสอบ" in result.stdout  # "Validate the definition ..." in Thai
    assert "--definition" in result.stdout and "--start" in result.stdout


def test_every_command_and_option_help_is_a_text_of_the_catalogs() -> None:
    """Help written as `help=_("...")` is in the catalogs (and so in Thai); a docstring or a
    bare string is not. Each help text is its msgid or its Thai text (the language the module
    was imported in), or one with its {placeholders} filled. The benchmarks are for developers
    and stay English."""
    import re

    import i18n
    from i18n import update

    marked: set[str] = set()
    for package in update.PACKAGES + update.THIRD_PARTY:
        for message in update.extract(package):
            if message.id:
                marked.update(message.id if isinstance(message.id, tuple) else (message.id,))
    # a role module imported while an earlier test spoke Thai holds the Thai help: as good
    for path in i18n.catalog_paths("th"):
        for message in i18n.read_catalog(path, "th"):
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            if ids[0] in marked:
                strings = message.string if isinstance(message.string, tuple) else (
                    message.string,
                )
                marked.update(text for text in strings if text)
    patterns = [
        re.compile(re.sub(r"\\\{\w+\\\}", ".+?", re.escape(text)) + "$", re.S)
        for text in marked
        if "{" in text
    ]

    def is_marked(text: str) -> bool:
        return text in marked or any(p.match(text) for p in patterns)

    unmarked = []
    for path in command_tree(main, [], click.Context(main)):
        if path[:1] == ["bench"]:
            continue
        command = main
        context = click.Context(main)
        for name in path:
            assert isinstance(command, click.Group)
            command = command.get_command(context, name)  # type: ignore[assignment]
            context = click.Context(command, parent=context)
        texts = [("help", command.help)] + [
            (f"{param.name}", param.help)
            for param in command.params
            if isinstance(param, click.Option) and param.help and not param.hidden
        ]
        for where, text in texts:
            if text and not is_marked(text):
                unmarked.append(f"ivote {' '.join(path)} {where}: {text[:60]!r}")
    assert unmarked == [], "\n".join(unmarked)
