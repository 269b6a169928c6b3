"""The voter list: the one home for parsing, validating and hashing voter lists and change lists.

Officials write the list as CSV (`personal_code,given_name,surname,district`, the same file
`ivote ceremony pki issue` reads) and later change lists as CSV
(`action,personal_code,given_name,surname,district`, action add | remove | move). Each applied
change list yields a new list version whose hash chains to the previous one, as Estonia's
voter lists do; version 1's hash is in the manifest, so the whole chain is anchored there.

Stored form (docs/spec.md, "Voter list"): one canonical JSON file per version,
`voters/list-0001.json`, ... ; its hash is `H_d("ivote/v1/voter-list", file object)`.
The collector and the tallier use `load_voter_lists` and `VoterList.district_of` for
eligibility: personal code -> district at a list version.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from canonical.encoding import (
    DOMAINS,
    FormatError,
    b64url,
    canonical_bytes,
    check_version,
    domain_hash,
    parse_b64url,
    parse_canonical,
    require,
)
from canonical.files import write_atomic
from formats import personal_codes
from formats.personal_codes import OPAQUE

VOTER_COLUMNS = ("personal_code", "given_name", "surname", "district")
CHANGE_COLUMNS = ("action", "personal_code", "given_name", "surname", "district")
CHANGE_ACTIONS = ("add", "remove", "move")
MAX_NAME_LENGTH = 200
LIST_FILE_PATTERN = "list-{:04d}.json"


@dataclass(frozen=True)
class Problem:
    """One problem in an input file: where (file, line, field) and what."""

    source: str
    line: int | None
    field: str
    message: str

    def render(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: {self.field}: {self.message}"


class InputFileError(FormatError):
    """Every problem found in one or more officials' input files; each names file, line, field."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        if not self.problems:
            raise ValueError("InputFileError needs at least one problem")
        first = self.problems[0]
        super().__init__(first.field, first.message)
        self.args = ("\n".join(problem.render() for problem in self.problems),)


@dataclass(frozen=True)
class Voter:
    personal_code: str
    given_name: str
    surname: str
    district: str

    def to_dict(self) -> dict[str, str]:
        return {
            "personal_code": self.personal_code,
            "given_name": self.given_name,
            "surname": self.surname,
            "district": self.district,
        }


@dataclass(frozen=True)
class Change:
    """One row of a change list; `line` and `source` locate it for error messages."""

    action: str
    personal_code: str
    given_name: str
    surname: str
    district: str
    source: str = "changes"
    line: int | None = None


def _check_personal_code(code: str, scheme: str = OPAQUE) -> str | None:
    if not code:
        return "empty"
    return personal_codes.problem(scheme, code)


def _check_name(name: str) -> str | None:
    if not name:
        return "empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"longer than {MAX_NAME_LENGTH} characters"
    if any(ord(ch) < 32 for ch in name):
        return "contains control characters"
    return None


def _csv_rows(
    data: bytes | str, source: str, columns: tuple[str, ...], problems: list[Problem]
) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a CSV file with exactly `columns` (in any order); blank lines are skipped."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")  # spreadsheets like to write a BOM
        except UnicodeDecodeError as exc:
            problems.append(Problem(source, None, "encoding", f"not UTF-8 ({exc.reason})"))
            return
    else:
        text = data.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            problems.append(Problem(source, 1, "header", f"missing; expected {','.join(columns)}"))
            return
        names = [cell.strip() for cell in header]
        unknown = [name for name in names if name not in columns]
        missing = [name for name in columns if name not in names]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if unknown or missing or repeated:
            parts = []
            if missing:
                parts.append("missing column(s) " + ", ".join(missing))
            if unknown:
                parts.append("unknown column(s) " + ", ".join(unknown))
            if repeated:
                parts.append("repeated column(s) " + ", ".join(repeated))
            problems.append(
                Problem(source, 1, "header", "; ".join(parts) + f" (expected {','.join(columns)})")
            )
            return
        for row in reader:
            line = reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != len(names):
                problems.append(
                    Problem(source, line, "row", f"{len(row)} fields, expected {len(names)}")
                )
                continue
            yield line, {name: cell.strip() for name, cell in zip(names, row, strict=True)}
    except csv.Error as exc:
        problems.append(Problem(source, reader.line_num, "row", f"malformed CSV ({exc})"))


def parse_voter_csv(
    data: bytes | str,
    source: str = "voters.csv",
    districts: Iterable[str] | None = None,
    scheme: str = OPAQUE,
) -> list[Voter]:
    """Parse and validate a voter list CSV; raises InputFileError listing every problem.

    With `districts`, every voter's district must be one of them (the election definition's);
    every personal code must fit `scheme` (formats.personal_codes).
    """
    known = set(districts) if districts is not None else None
    problems: list[Problem] = []
    voters: list[Voter] = []
    first_line: dict[str, int] = {}
    for line, row in _csv_rows(data, source, VOTER_COLUMNS, problems):
        row_ok = True
        for field in VOTER_COLUMNS:
            if field == "personal_code":
                problem = _check_personal_code(row[field], scheme)
            else:
                problem = _check_name(row[field])
            if problem:
                problems.append(Problem(source, line, field, problem))
                row_ok = False
        code, district = row["personal_code"], row["district"]
        if code and code in first_line:
            problems.append(
                Problem(
                    source,
                    line,
                    "personal_code",
                    f"duplicate voter {code} (first on line {first_line[code]})",
                )
            )
            row_ok = False
        elif code:
            first_line[code] = line
        if known is not None and district and district not in known:
            problems.append(Problem(source, line, "district", _unknown_district(district, known)))
            row_ok = False
        if row_ok:
            voters.append(Voter(code, row["given_name"], row["surname"], district))
    if not problems and not voters:
        problems.append(Problem(source, None, "voters", "the list has no voters"))
    if problems:
        raise InputFileError(problems)
    return voters


def read_voter_csv(
    path: str | os.PathLike[str], districts: Iterable[str] | None = None, scheme: str = OPAQUE
) -> list[Voter]:
    """Read a voter list CSV file (see parse_voter_csv); a missing file is a clear error."""
    return parse_voter_csv(_read_bytes(path), str(path), districts, scheme)


def parse_change_csv(
    data: bytes | str, source: str = "changes.csv", scheme: str = OPAQUE
) -> list[Change]:
    """Parse a change list CSV; each row's fields are checked for its action, every personal
    code against `scheme` (a code that does not fit can be neither added nor on the list)."""
    problems: list[Problem] = []
    changes: list[Change] = []
    for line, row in _csv_rows(data, source, CHANGE_COLUMNS, problems):
        action = row["action"].lower()
        row_problems: list[Problem] = []
        if action not in CHANGE_ACTIONS:
            row_problems.append(
                Problem(
                    source,
                    line,
                    "action",
                    f"unknown action {row['action']!r} (expected {', '.join(CHANGE_ACTIONS)})",
                )
            )
        code_problem = _check_personal_code(row["personal_code"], scheme)
        if code_problem:
            row_problems.append(Problem(source, line, "personal_code", code_problem))
        # add needs everything; move needs the new district; remove needs only the code.
        required = {"add": ("given_name", "surname", "district"), "move": ("district",)}
        for field in required.get(action, ()):
            problem = _check_name(row[field])
            if problem:
                row_problems.append(Problem(source, line, field, f"{problem} (needed to {action})"))
        problems.extend(row_problems)
        if not row_problems:
            changes.append(
                Change(
                    action,
                    row["personal_code"],
                    row["given_name"],
                    row["surname"],
                    row["district"],
                    source,
                    line,
                )
            )
    if not problems and not changes:
        problems.append(Problem(source, None, "changes", "the change list is empty"))
    if problems:
        raise InputFileError(problems)
    return changes


def read_change_csv(path: str | os.PathLike[str], scheme: str = OPAQUE) -> list[Change]:
    return parse_change_csv(_read_bytes(path), str(path), scheme)


def _read_bytes(path: str | os.PathLike[str]) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise InputFileError([Problem(str(path), None, "file", "not found")]) from exc
    except OSError as exc:
        raise InputFileError([Problem(str(path), None, "file", str(exc.strerror))]) from exc


def _unknown_district(district: str, known: Iterable[str]) -> str:
    return f"unknown district {district!r} (the election has {', '.join(sorted(known))})"


class VoterList:
    """One version of the voter list: who may vote, and in which district."""

    def __init__(
        self,
        election_id: str,
        list_version: int,
        previous: bytes | None,
        voters: Iterable[Voter],
    ) -> None:
        if list_version < 1:
            raise ValueError("list versions start at 1")
        if (list_version == 1) != (previous is None):
            raise ValueError("version 1 and only version 1 has no previous hash")
        self.election_id = election_id
        self.list_version = list_version
        self.previous = previous
        by_code: dict[str, Voter] = {}
        for voter in voters:
            if voter.personal_code in by_code:
                raise ValueError(f"duplicate voter {voter.personal_code}")
            by_code[voter.personal_code] = voter
        self._voters = dict(sorted(by_code.items()))

    @property
    def voters(self) -> Mapping[str, Voter]:
        return self._voters

    def __len__(self) -> int:
        return len(self._voters)

    def __contains__(self, personal_code: object) -> bool:
        return personal_code in self._voters

    def district_of(self, personal_code: str) -> str | None:
        """The voter's district at this list version, or None when not on the list."""
        voter = self._voters.get(personal_code)
        return voter.district if voter else None

    def district_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for voter in self._voters.values():
            counts[voter.district] = counts.get(voter.district, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "election_id": self.election_id,
            "list_version": self.list_version,
            "previous": None if self.previous is None else b64url(self.previous),
            "voters": [voter.to_dict() for voter in self._voters.values()],
        }

    @cached_property
    def hash(self) -> bytes:
        """H_d("ivote/v1/voter-list", list object): commits to this version and its past."""
        return domain_hash(DOMAINS["voter_list"], self.to_dict())

    @classmethod
    def from_dict(
        cls,
        obj: Any,
        where: str = "voter_list",
        districts: Iterable[str] | None = None,
        scheme: str = OPAQUE,
    ) -> VoterList:
        check_version(obj, where)
        extra = set(obj) - {"version", "election_id", "list_version", "previous", "voters"}
        if extra:
            raise FormatError(f"{where}.{sorted(extra)[0]}", "unknown field")
        election_id = require(obj, "election_id", str, where)
        list_version = require(obj, "list_version", int, where)
        if list_version < 1:
            raise FormatError(f"{where}.list_version", "must be at least 1")
        previous_raw = obj.get("previous")
        if "previous" not in obj:
            raise FormatError(f"{where}.previous", "missing")
        if list_version == 1:
            if previous_raw is not None:
                raise FormatError(f"{where}.previous", "must be null in version 1")
            previous = None
        else:
            previous = parse_b64url(previous_raw, f"{where}.previous")
            if len(previous) != 32:
                raise FormatError(f"{where}.previous", "not a SHA-256 hash")
        raw_voters = require(obj, "voters", list, where)
        known = set(districts) if districts is not None else None
        voters: list[Voter] = []
        last_code = ""
        for index, item in enumerate(raw_voters):
            at = f"{where}.voters[{index}]"
            if not isinstance(item, dict) or set(item) != set(VOTER_COLUMNS):
                raise FormatError(at, f"expected an object with {', '.join(VOTER_COLUMNS)}")
            fields = {name: require(item, name, str, at) for name in VOTER_COLUMNS}
            for name, value in fields.items():
                if name == "personal_code":
                    problem = _check_personal_code(value, scheme)
                else:
                    problem = _check_name(value)
                if problem:
                    raise FormatError(f"{at}.{name}", problem)
            # Sorted and unique: the one canonical order, so equal lists hash equally.
            if fields["personal_code"] <= last_code:
                raise FormatError(f"{at}.personal_code", "voters not sorted or duplicated")
            last_code = fields["personal_code"]
            if known is not None and fields["district"] not in known:
                raise FormatError(f"{at}.district", _unknown_district(fields["district"], known))
            voters.append(Voter(**fields))
        return cls(election_id, list_version, previous, voters)

    def apply(
        self,
        changes: Iterable[Change],
        districts: Iterable[str],
        max_voters: int | None = None,
    ) -> VoterList:
        """The next list version after `changes`, applied in order; every problem is reported."""
        changes = list(changes)
        known = set(districts)
        current = dict(self._voters)
        problems: list[Problem] = []
        changed: dict[str, int | None] = {}
        for change in changes:
            code = change.personal_code

            def problem(field: str, message: str, change: Change = change) -> None:
                problems.append(Problem(change.source, change.line, field, message))

            if code in changed:
                earlier = changed[code]
                problem(
                    "personal_code",
                    f"{code} is changed twice in one change list"
                    + (f" (first on line {earlier})" if earlier else ""),
                )
                continue
            changed[code] = change.line
            existing = current.get(code)
            if change.action == "add":
                if existing is not None:
                    problem(
                        "personal_code",
                        f"duplicate add: {code} is already on the list (version "
                        f"{self.list_version}, district {existing.district})",
                    )
                elif change.district not in known:
                    problem("district", _unknown_district(change.district, known))
                else:
                    current[code] = Voter(code, change.given_name, change.surname, change.district)
            elif change.action == "remove":
                if existing is None:
                    problem(
                        "personal_code",
                        f"cannot remove {code}: not on the list (version {self.list_version})",
                    )
                else:
                    del current[code]
            elif change.action == "move":
                if existing is None:
                    problem(
                        "personal_code",
                        f"cannot move {code}: not on the list (version {self.list_version})",
                    )
                elif change.district not in known:
                    problem("district", _unknown_district(change.district, known))
                elif change.district == existing.district:
                    problem("district", f"{code} is already in district {change.district!r}")
                else:
                    current[code] = Voter(
                        code,
                        change.given_name or existing.given_name,
                        change.surname or existing.surname,
                        change.district,
                    )
            else:
                problem("action", f"unknown action {change.action!r}")
        if not problems and max_voters is not None and len(current) > max_voters:
            problems.append(
                Problem(
                    changes[0].source if changes else "changes",
                    None,
                    "voters",
                    f"the list would have {len(current)} voters, more than the election's "
                    f"max_voters {max_voters} (the ballot encoding is sized for it)",
                )
            )
        if problems:
            raise InputFileError(problems)
        return VoterList(self.election_id, self.list_version + 1, self.hash, current.values())


def voter_list_path(directory: str | os.PathLike[str], list_version: int) -> Path:
    return Path(directory) / LIST_FILE_PATTERN.format(list_version)


def write_voter_list(directory: str | os.PathLike[str], voter_list: VoterList) -> Path:
    """Write one list version (canonical JSON); an existing version is never overwritten."""
    path = voter_list_path(directory, voter_list.list_version)
    if path.exists():
        raise FileExistsError(f"{path} already exists")
    write_atomic(path, canonical_bytes(voter_list.to_dict()) + b"\n")
    return path


def load_voter_lists(
    directory: str | os.PathLike[str],
    anchor: bytes,
    election_id: str,
    districts: Iterable[str] | None = None,
    scheme: str = OPAQUE,
) -> list[VoterList]:
    """Every list version in `directory`, oldest first, with the chain checked.

    `anchor` is the manifest's hash of version 1; each later version must name the previous
    version's hash. Raises FormatError naming the file at fault.
    """
    known = list(districts) if districts is not None else None
    versions: list[VoterList] = []
    list_version = 1
    while True:
        path = voter_list_path(directory, list_version)
        if not path.exists():
            break
        what = str(path)
        try:
            obj = parse_canonical(path.read_bytes(), what)
        except OSError as exc:
            raise FormatError(what, f"cannot read: {exc.strerror}") from exc
        voter_list = VoterList.from_dict(obj, what, known, scheme)
        if voter_list.list_version != list_version:
            raise FormatError(f"{what}.list_version", f"is {voter_list.list_version}")
        if voter_list.election_id != election_id:
            raise FormatError(f"{what}.election_id", f"is not {election_id!r}")
        if list_version == 1:
            if voter_list.hash != anchor:
                raise FormatError(what, "hash differs from the manifest's voter_list.hash")
        elif voter_list.previous != versions[-1].hash:
            raise FormatError(f"{what}.previous", "does not chain to the previous version")
        versions.append(voter_list)
        list_version += 1
    if not versions:
        raise FormatError(str(voter_list_path(directory, 1)), "file not found")
    return versions
