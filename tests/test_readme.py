"""README's by-hand election runs as written: every `ivote` command and option README shows
exists, and the officials' path (test CA, officials' keys, definition, key ceremony, e-IDs,
CRL, close, export, paper-voter list, tally, decryption, combination, verification) runs in
a temporary directory exactly as README gives it. The only changes are the ones README names
for a trial: the sample definition's key_bits made a TEST size (with the fixture primes and
--allow-test-key), the passphrases typed at the prompts, and README's placeholders filled in."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from support.election import FIXTURE_PRIMES

from ivote.cli import main

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
CA, ORGANISER, COLLECTOR = "ca passphrase", "organiser passphrase", "collector passphrase"
TRUSTEES = [f"trustee {index} passphrase" for index in range(1, 6)]


def by_hand_section() -> str:
    text = README.read_text(encoding="utf-8")
    return text[text.index("## Running a real election by hand") : text.index("## Architecture")]


def readme_commands() -> list[list[str]]:
    """Every `ivote ...` line of the by-hand section's code blocks, continuation lines joined,
    comments dropped, as argument lists (README's "[--option VALUE]" brackets removed)."""
    commands = []
    for block in re.findall(r"```\n(.*?)```", by_hand_section(), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #")[0].strip()
            if line.startswith("ivote "):
                commands.append(shlex.split(line.replace("[", " ").replace("]", " "))[1:])
    return commands


def resolve(arguments: list[str]) -> tuple[click.Command, list[str]]:
    """The click command an argument list names, and the arguments after its name."""
    context = click.Context(main)
    command: click.Command = main
    rest = list(arguments)
    while rest and rest[0] == "--lang":  # the one option of `ivote` itself
        rest = rest[2:]
    while isinstance(command, click.Group) and rest and rest[0] in command.list_commands(context):
        command = command.get_command(context, rest.pop(0))  # type: ignore[assignment]
    return command, rest


def test_readme_opens_with_the_two_commands() -> None:
    first_block = re.search(r"```\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert first_block is not None
    lines = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert lines == ["make demo", "make test"]


def test_readme_says_how_to_run_ivote_from_the_venv() -> None:
    section = by_hand_section()
    assert "source .venv/bin/activate" in section and ".venv/bin/ivote" in section
    # before the first command that needs it
    assert section.index("source .venv/bin/activate") < section.index("ivote ceremony")


def test_every_command_and_option_readme_uses_exists() -> None:
    commands = readme_commands()
    assert len(commands) >= 20
    for arguments in commands:
        command, rest = resolve(arguments)
        assert not isinstance(command, click.Group), f"no such command: ivote {arguments}"
        known = {name for param in command.params for name in param.opts}
        for token in rest:
            if token.startswith("--"):
                assert token.split("=")[0] in known, f"ivote {' '.join(arguments)}: {token}"
        result = CliRunner().invoke(main, [*arguments[: len(arguments) - len(rest)], "-h"])
        # the help, in whichever language the command asks for (README shows --lang th too)
        assert result.exit_code == 0 and "-h, --help" in result.output, result.output


def test_the_sample_definition_and_readme_agree() -> None:
    sample = (ROOT / "examples" / "election.toml").read_text(encoding="utf-8")
    section = by_hand_section()
    assert 'start = "now"' in sample and 'end = "+7d"' in sample
    assert 'start = "now"' in section and "key_bits = 3072" in section
    assert "key_bits = 3072" in sample


class Trial:
    """README's commands, run in order in one directory, with what a person would type."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.runner = CliRunner()
        self.fingerprint = ""
        monkeypatch.chdir(root)
        monkeypatch.setenv("IVOTE_COLLECTOR_PASSPHRASE", COLLECTOR)

    def run(self, arguments: list[str], answers: list[str] = ()) -> str:  # type: ignore[assignment]
        result = self.runner.invoke(
            main, arguments, input="".join(f"{answer}\n" for answer in answers)
        )
        assert result.exit_code == 0, (arguments, result.output)
        assert "Traceback" not in result.output
        return result.output


def fill_in(arguments: list[str], trial: Trial, code: str) -> list[str] | None:
    """README's placeholders filled in; None for a command the trial does not run."""
    name = resolve(arguments)[0].name
    text = " ".join(arguments)
    if name in {"to-token", "serve", "apply"} or arguments[0] == "vote":
        return None  # SoftHSM (tests/eid), a server (tests/collector), voters (tests/voter_app)
    text = text.replace("FINGERPRINT", trial.fingerprint).replace("CODE", code)
    filled = [token for token in shlex.split(text) if token not in {"...", "--db"}]
    if name == "decrypt":  # "..." stands for the third trustee of the sample's 3 of 5
        filled += ["--share", "ELECTION/trustees/trustee-5.share"]
    if name == "combine":
        filled += ["--shares", "SHARES/shares-5.json"]
    if name == "verify":
        filled = [token for token in filled if token not in {"--json"}]
        filled = [t for t in filled if not t.startswith(("--organiser-cert", "organiser.pem"))]
        filled = [t for t in filled if t not in {"--bundle", "observers-bundle.json"}]
    return filled


def test_the_officials_path_runs_as_readme_gives_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # README: mkdir trial && cp examples/election.toml examples/voters.csv trial/ && cd trial
    for name in ("election.toml", "voters.csv"):
        shutil.copy(ROOT / "examples" / name, tmp_path / name)
    definition = tmp_path / "election.toml"
    # a TEST-size key, as README allows for a trial (the suite never searches a real key)
    definition.write_text(definition.read_text().replace("key_bits = 3072", "key_bits = 512"))
    (tmp_path / "paper-voters.txt").write_text("")
    code = (tmp_path / "voters.csv").read_text().splitlines()[-1].split(",")[0]
    trial = Trial(tmp_path, monkeypatch)
    ran = []
    for arguments in readme_commands():
        filled = fill_in(arguments, trial, code)
        if filled is None:
            continue
        command, _ = resolve(filled)
        answers: list[str] = []
        if command.name == "init" and filled[1] == "pki":
            answers = [CA, CA]
        elif command.name == "officials":
            answers = [CA, ORGANISER, ORGANISER, COLLECTOR, COLLECTOR]
        elif command.name == "keygen":
            filled += ["--test-primes", str(FIXTURE_PRIMES), "--scrypt-cost", "1024"]
            answers = [ORGANISER] + [p for t in TRUSTEES for p in (t, t)]
        elif command.name in {"issue", "crl"}:
            answers = [CA]
        elif command.name == "paper-voters":
            answers = [ORGANISER]
        elif command.name == "decrypt":
            answers = [TRUSTEES[1], TRUSTEES[3], TRUSTEES[4]]
        if any(param.name == "allow_test_key" for param in command.params):
            filled.append("--allow-test-key")
        output = trial.run(filled, answers)
        ran.append(command.name)
        if command.name == "trustee-params":  # README shows trustee 1; the others likewise
            assert re.search(r"\n  [0-9a-f]{4}(?: [0-9a-f]{4}){15}\n", output), output
            for index in range(2, len(TRUSTEES) + 1):
                trial.run([*filled[:-1], str(index)])
        if command.name == "init" and filled[1] != "pki":
            assert "voting opens later" not in output  # the sample opens now
        if command.name == "keygen":
            printed = re.search(r"\n  ([0-9a-f]{4}(?: [0-9a-f]{4}){15})\n", output)
            assert printed is not None, output
            trial.fingerprint = printed.group(1).replace(" ", "")
        if command.name == "close":
            assert "Ballots received: 0" in output and "root hash " in output
    assert ran[:17] == [
        "init", "officials", "init", "trustee-params", "keygen", "show", "issue", "revoke",
        "crl", "close", "export", "paper-voters", "process", "decrypt", "combine", "verify",
        "verify",
    ]  # fmt: skip
    assert set(ran[17:]) <= {"verify", "results"}  # the observers' other commands
    assert (tmp_path / "RECORD" / "record.json").is_file()
