"""The election definition (TOML, written by officials) -> a draft manifest and voter list v1.

Every problem in the definition, the voter list and the certificate files it names is reported
at once, each with file, line and field (formats.voters.InputFileError). The content rules are
the manifest's own (formats.manifest.semantic_problems); this module adds what only makes
sense when an election is being created: the period must not be over already, and the voter
list must fit max_voters.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from formats.manifest import (
    Candidate,
    Contest,
    District,
    FieldPath,
    Manifest,
    Period,
    Policy,
    Trust,
    VoterListRef,
    format_time,
    render_path,
    semantic_problems,
)
from formats.names import Name, name_problems
from formats.personal_codes import OPAQUE, SCHEMES
from formats.voters import InputFileError, Problem, VoterList, read_voter_csv
from i18n import _, format_datetime, ngettext

ELECTION_KEYS = {
    "id", "name", "start", "end", "max_voters", "key_bits", "trustees", "threshold",
    "personal_code_scheme",
}  # fmt: skip
TOP_KEYS = {"election", "trust", "policy", "districts", "national_contests"}
CONTEST_KEYS = {"id", "name", "candidates", "vote_no", "question", "answers", "choose"}
# choose = { exactly = k } | { at_most = k } | { min = a, max = b } | "approval"
CHOOSE_FORMS = ({"exactly"}, {"at_most"}, {"min", "max"})
# A relative time: "+30m", "+12h", "+7d" (start: after `ceremony init` runs; end: after start).
RELATIVE = re.compile(r"^\+([0-9]{1,4})([mhd])$")
UNITS = {"m": "minutes", "h": "hours", "d": "days"}
POLICY_DEFAULTS = Policy()


@dataclass
class Definition:
    """A validated election: the draft manifest, voter list version 1 and any warnings."""

    manifest: Manifest
    voter_list: VoterList
    warnings: list[str] = field(default_factory=list)


# -- finding the line of a field in a TOML file ------------------------------------------

_BARE_KEY = r"[A-Za-z0-9_-]+"
_KEY_LINE = re.compile(rf"^\s*({_BARE_KEY}(?:\s*\.\s*{_BARE_KEY})*)\s*=")
_HEADER = re.compile(rf"^\s*(\[\[?)\s*({_BARE_KEY}(?:\s*\.\s*{_BARE_KEY})*)\s*\]\]?")


def toml_lines(text: str) -> dict[FieldPath, int]:
    """Map field paths to the line that defines them, e.g. ("districts", 1, "name") -> 17.

    tomllib gives no positions for values, so this follows headers, [[array]] counts and
    `key =` lines. It only places error messages; the values come from tomllib.
    """
    lines: dict[FieldPath, int] = {}
    array_counts: dict[FieldPath, int] = {}
    current: FieldPath = ()
    in_multiline: str | None = None

    def resolve(keys: list[str]) -> FieldPath:
        path: FieldPath = ()
        for key in keys:
            path = (*path, key)
            if path in array_counts:
                path = (*path, array_counts[path])
        return path

    for number, raw in enumerate(text.splitlines(), 1):
        if in_multiline:
            if raw.count(in_multiline) % 2 == 1:
                in_multiline = None
            continue
        header = _HEADER.match(raw)
        if header:
            keys = [key.strip() for key in header.group(2).split(".")]
            if header.group(1) == "[[":
                base = (*resolve(keys[:-1]), keys[-1])
                array_counts[base] = array_counts.get(base, -1) + 1
                current = (*base, array_counts[base])
                lines.setdefault(base, number)
            else:
                current = resolve(keys)
            lines[current] = number
            continue
        key_line = _KEY_LINE.match(raw)
        if key_line:
            keys = [key.strip() for key in key_line.group(1).split(".")]
            lines.setdefault((*current, *keys), number)
            for quote in ('"""', "'''"):
                if raw.count(quote) % 2 == 1:
                    in_multiline = quote
    return lines


def line_of(lines: Mapping[FieldPath, int], path: FieldPath) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return None


def toml_path(path: FieldPath) -> FieldPath:
    """Where a manifest field comes from in the definition file."""
    head = path[0] if path else ""
    if head == "election_id":
        return ("election", "id")
    if head == "name":
        return ("election", "name")
    if head == "period":
        return ("election", *path[1:]) if len(path) > 1 else ("election", "start")
    if head in {"max_voters", "key_bits", "trustees", "threshold", "personal_code_scheme"}:
        return ("election", head)
    return path


# -- reading the definition ---------------------------------------------------------------


class _Collector:
    """Gathers problems with their lines while the definition is read."""

    def __init__(self, source: str, lines: Mapping[FieldPath, int]) -> None:
        self.source = source
        self.lines = lines
        self.problems: list[Problem] = []

    def add(self, path: FieldPath, message: str) -> None:
        self.problems.append(
            Problem(self.source, line_of(self.lines, path), render_path(path), message)
        )

    def table(self, obj: Any, path: FieldPath, allowed: set[str]) -> Mapping[str, Any]:
        if not isinstance(obj, Mapping):
            self.add(path, _("expected a table"))
            return {}
        for key in obj:
            if key not in allowed:
                self.add(
                    (*path, key),
                    _("unknown field (expected one of {fields})").format(
                        fields=", ".join(sorted(allowed))
                    ),
                )
        return obj

    def get(
        self, obj: Mapping[str, Any], key: str, kind: type, path: FieldPath, default: Any = None
    ) -> Any:
        if key not in obj:
            if default is not None:
                return default
            self.add((*path, key), _("missing"))
            return None
        value = obj[key]
        if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
            name = {
                int: _("an integer"),
                str: _("a string"),
                bool: _("true or false"),
                list: _("an array"),
            }
            self.add(
                (*path, key),
                _("expected {kind}, got {value}").format(
                    kind=name.get(kind, kind.__name__), value=repr(value)
                ),
            )
            return None
        return value

    def name(self, obj: Mapping[str, Any], key: str, path: FieldPath) -> Name | None:
        """A name: a string, or a table with a text per language ({ en = "...", th = "..." })."""
        if key not in obj:
            self.add((*path, key), _("missing"))
            return None
        problems = list(name_problems(obj[key]))
        for sub_path, problem in problems:
            self.add((*path, key, *sub_path), problem)
        if problems:
            return None
        name = Name.of(obj[key])
        return Name(tuple((code, text.strip()) for code, text in name.texts))

    def time(
        self,
        obj: Mapping[str, Any],
        key: str,
        path: FieldPath,
        base: datetime | None,
        now: datetime | None = None,
    ) -> datetime | None:
        """An absolute date-time, or a relative one: "now" (start only: `now`) or "+N" with
        m, h or d (after `base`: now for the start, the start for the end)."""
        if key not in obj:
            self.add((*path, key), _("missing"))
            return None
        value = obj[key]
        where = (*path, key)
        if isinstance(value, str):
            text = value.strip()
            relative = RELATIVE.match(text)
            if text == "now" and now is not None:
                return now
            if relative:
                if base is None:
                    return None  # the start it is relative to has its own problem
                amount = timedelta(**{UNITS[relative.group(2)]: int(relative.group(1))})
                return base + amount
            try:
                value = datetime.fromisoformat(text)
            except ValueError:
                message = (
                    _('not an RFC 3339 date-time, "now", or a duration such as "+7d": {value}')
                    if now is not None
                    else _('not an RFC 3339 date-time or a duration such as "+7d": {value}')
                )
                self.add(where, message.format(value=repr(value)))
                return None
        if not isinstance(value, datetime):
            kind = _("a date without a time") if isinstance(value, date) else repr(value)
            self.add(
                where, _("expected a date-time with time zone, got {kind}").format(kind=kind)
            )
            return None
        if value.tzinfo is None:
            self.add(where, _("needs a time zone offset (e.g. 2027-03-01T09:00:00+02:00)"))
            return None
        if value.microsecond:
            self.add(where, _("fractional seconds are not supported"))
            return None
        return value


def _read_certificates(
    paths: list[Any], base: Path, path: FieldPath, collect: _Collector
) -> tuple[bytes, ...]:
    found: list[bytes] = []
    for index, name in enumerate(paths):
        where = (*path, index)
        if not isinstance(name, str) or not name:
            collect.add(where, _("expected a certificate file path"))
            continue
        file = (base / name) if not Path(name).is_absolute() else Path(name)
        try:
            data = file.read_bytes()
        except OSError as exc:
            collect.add(where, f"{file}: {exc.strerror or _('cannot read')}")
            continue
        try:
            if b"-----BEGIN" in data:
                certificates = x509.load_pem_x509_certificates(data)
            else:
                certificates = [x509.load_der_x509_certificate(data)]
        except ValueError as exc:
            collect.add(
                where,
                _("{file}: not a PEM or DER X.509 certificate ({problem})").format(
                    file=file, problem=exc
                ),
            )
            continue
        found.extend(certificate.public_bytes(Encoding.DER) for certificate in certificates)
    return tuple(found)


def _parse_districts(raw: Any, collect: _Collector) -> tuple[District, ...]:
    if not isinstance(raw, list):
        collect.add(("districts",), _("expected [[districts]] tables"))
        return ()
    districts = []
    for d_index, d_raw in enumerate(raw):
        d_path: FieldPath = ("districts", d_index)
        d_obj = collect.table(d_raw, d_path, {"id", "name", "contests"})
        contests = _parse_contests(
            collect.get(d_obj, "contests", list, d_path) or [], (*d_path, "contests"), collect
        )
        district_id = collect.get(d_obj, "id", str, d_path)
        district_name = collect.name(d_obj, "name", d_path)
        if district_id is not None and district_name is not None:
            districts.append(District(district_id, district_name, contests))
    return tuple(districts)


def _parse_contests(raw: list[Any], path: FieldPath, collect: _Collector) -> tuple[Contest, ...]:
    """[[districts.contests]] or [[national_contests]]: candidates, or a referendum's
    question and answers, and optionally vote_no = true."""
    contests = []
    for c_index, c_raw in enumerate(raw):
        c_path: FieldPath = (*path, c_index)
        c_obj = collect.table(c_raw, c_path, CONTEST_KEYS)
        referendum = "question" in c_obj
        list_key = "answers" if referendum else "candidates"
        wrong_key = "candidates" if referendum else "answers"
        if wrong_key in c_obj:
            collect.add(
                (*c_path, wrong_key),
                _("a referendum has answers, not candidates")
                if referendum
                else _("answers belong to a referendum: give its question too"),
            )
        candidates = []
        for k_index, k_raw in enumerate(collect.get(c_obj, list_key, list, c_path, []) or []):
            k_path: FieldPath = (*c_path, list_key, k_index)
            keys = {"number", "name"} if referendum else {"number", "name", "party"}
            k_obj = collect.table(k_raw, k_path, keys)
            number = collect.get(k_obj, "number", int, k_path)
            name = collect.name(k_obj, "name", k_path)
            party = collect.name(k_obj, "party", k_path) if "party" in k_obj else Name.plain("")
            if number is not None and name is not None and party is not None:
                candidates.append(Candidate(number, name, party))
        contest_id = collect.get(c_obj, "id", str, c_path)
        contest_name = collect.name(c_obj, "name", c_path)
        question = collect.name(c_obj, "question", c_path) if referendum else None
        vote_no = collect.get(c_obj, "vote_no", bool, c_path, False)
        bounds = _parse_choose(c_obj, c_path, len(candidates), collect)
        complete = contest_id is not None and contest_name is not None and vote_no is not None
        if complete and bounds is not None and (question is not None or not referendum):
            contests.append(
                Contest(
                    contest_id,
                    contest_name,
                    tuple(candidates),
                    vote_no,
                    question=question,
                    min_marks=bounds[0],
                    max_marks=bounds[1],
                )
            )
    return tuple(contests)


def _parse_choose(
    c_obj: Mapping[str, Any], c_path: FieldPath, candidates: int, collect: _Collector
) -> tuple[int, int] | None:
    """How many candidates a ballot marks: (min, max); (1, 1) without `choose`; None (with a
    problem added) when the field is malformed. Whether the bounds fit the contest is the
    manifest's check."""
    if "choose" not in c_obj:
        return 1, 1
    path: FieldPath = (*c_path, "choose")
    value = c_obj["choose"]
    if value == "approval":
        return 0, candidates
    keys = set(value) if isinstance(value, Mapping) else None
    if keys not in CHOOSE_FORMS:
        collect.add(
            path,
            _(
                'expected { exactly = K }, { at_most = K }, { min = A, max = B } or "approval"'
            ),
        )
        return None
    numbers = {key: collect.get(value, key, int, path) for key in sorted(keys)}
    if any(number is None for number in numbers.values()):
        return None
    if "exactly" in numbers:
        return numbers["exactly"], numbers["exactly"]
    if "at_most" in numbers:
        return 0, numbers["at_most"]
    return numbers["min"], numbers["max"]


def load_definition(
    definition_path: str | Path,
    voters_path: str | Path,
    now: datetime | None = None,
    start: str | None = None,
    end: str | None = None,
) -> Definition:
    """Read and validate the definition and the voter list; InputFileError lists every problem.

    `start` and `end` (`ceremony init --start/--end`) replace the definition's, in the same
    forms. The manifest always holds absolute times: a relative one is fixed here, `now` being
    this moment in the machine's time zone, to the second."""
    definition_path = Path(definition_path)
    source = str(definition_path)
    now = (now or datetime.now(UTC).astimezone()).replace(microsecond=0)
    try:
        data = definition_path.read_bytes()
    except OSError as exc:
        raise InputFileError(
            [Problem(source, None, "file", exc.strerror or _("cannot read"))]
        ) from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError([Problem(source, None, "encoding", _("not UTF-8"))]) from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line = int(match.group(1)) if match else None
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        if match:
            message += " " + _("(column {column})").format(column=match.group(2))
        raise InputFileError(
            [
                Problem(
                    source, line, "syntax", _("malformed TOML: {problem}").format(problem=message)
                )
            ]
        ) from exc

    collect = _Collector(source, toml_lines(text))
    collect.table(raw, (), TOP_KEYS)
    election = collect.table(raw.get("election", {}), ("election",), ELECTION_KEYS)
    if "election" not in raw:
        collect.add(("election",), _("missing [election] table"))
    ep: FieldPath = ("election",)
    election_id = collect.get(election, "id", str, ep)
    name = collect.name(election, "name", ep)
    period = dict(election)
    if start is not None:
        period["start"] = start
    if end is not None:
        period["end"] = end
    opens = collect.time(period, "start", ep, now, now)
    closes = collect.time(period, "end", ep, opens)
    numbers = {
        key: collect.get(election, key, int, ep)
        for key in ("max_voters", "key_bits", "trustees", "threshold")
    }
    scheme = collect.get(election, "personal_code_scheme", str, ep, OPAQUE)
    if scheme is not None and scheme not in SCHEMES:
        collect.add(
            (*ep, "personal_code_scheme"),
            _("unknown personal-code scheme {scheme} (expected one of {schemes})").format(
                scheme=repr(scheme), schemes=", ".join(SCHEMES)
            ),
        )
        scheme = None

    trust_raw = collect.table(
        raw.get("trust", {}), ("trust",), {"eid_ca_certificates", "collector_certificates"}
    )
    if "trust" not in raw:
        collect.add(("trust",), _("missing [trust] table (eid_ca_certificates = [...])"))
    base = definition_path.parent
    eid_paths = (
        collect.get(trust_raw, "eid_ca_certificates", list, ("trust",)) if "trust" in raw else []
    )
    collector_paths = collect.get(trust_raw, "collector_certificates", list, ("trust",), [])
    trust = Trust(
        _read_certificates(eid_paths or [], base, ("trust", "eid_ca_certificates"), collect),
        _read_certificates(
            collector_paths or [], base, ("trust", "collector_certificates"), collect
        ),
    )

    policy_raw = collect.table(
        raw.get("policy", {}),
        ("policy",),
        {"vote_check_window_minutes", "max_checks", "publish_observer_bundle"},
    )
    pp: FieldPath = ("policy",)
    window = collect.get(
        policy_raw, "vote_check_window_minutes", int, pp, POLICY_DEFAULTS.vote_check_window_minutes
    )
    max_checks = collect.get(policy_raw, "max_checks", int, pp, POLICY_DEFAULTS.max_checks)
    bundle = policy_raw.get("publish_observer_bundle", False)
    if not isinstance(bundle, bool):
        collect.add(
            (*pp, "publish_observer_bundle"),
            _("expected true or false, got {value}").format(value=repr(bundle)),
        )
    national = _parse_contests(
        collect.get(raw, "national_contests", list, (), []) or [], ("national_contests",), collect
    )
    districts = _parse_districts(raw.get("districts", []), collect)
    if "districts" not in raw:
        collect.add(("districts",), _("missing [[districts]] tables"))

    # The voter list is checked against the districts we could read, even with other problems.
    voter_problems: list[Problem] = []
    voters = []
    try:
        voters = read_voter_csv(
            voters_path,
            [district.id for district in districts] if districts else None,
            scheme or OPAQUE,
        )
    except InputFileError as exc:
        voter_problems.extend(exc.problems)

    fields = [election_id, name, opens, closes, window, max_checks, scheme, *numbers.values()]
    if collect.problems or any(value is None for value in fields):
        raise InputFileError(collect.problems + voter_problems)

    assert election_id is not None and name is not None and opens and closes
    voter_list = VoterList(election_id, 1, None, voters) if voters else None
    manifest = Manifest(
        election_id=election_id,
        name=name,
        period=Period(opens, closes),
        districts=districts,
        max_voters=numbers["max_voters"],
        key_bits=numbers["key_bits"],
        trustees=numbers["trustees"],
        threshold=numbers["threshold"],
        trust=trust,
        voter_list=VoterListRef(1, voter_list.hash if voter_list else bytes(32), len(voters) or 1),
        policy=Policy(window, max_checks, bool(bundle)),
        personal_code_scheme=scheme or OPAQUE,
        national_contests=tuple(national),
    )
    for path, message in semantic_problems(manifest):
        if path[0] == "voter_list":
            voter_problems.append(Problem(str(voters_path), None, "voters", message))
        else:
            collect.add(toml_path(path), message)
    warnings: list[str] = []
    for path, message in _time_problems(manifest, now, warnings):
        collect.add(path, message)
    if collect.problems or voter_problems or voter_list is None:
        raise InputFileError(collect.problems + voter_problems)
    return Definition(manifest, voter_list, warnings)


def _time_problems(
    manifest: Manifest, now: datetime, warnings: list[str]
) -> Iterator[tuple[FieldPath, str]]:
    period = manifest.period
    if period.end <= now:
        yield (
            ("election", "end"),
            _(
                "the voting period is in the past (it ended {end}); give a later end, or set "
                "the period with `ceremony init --start now --end +7d`"
            ).format(end=format_time(period.end)),
        )
    elif period.start < now:
        warnings.append(
            _("voting opens at once: the period started {start}").format(
                start=format_datetime(period.start)
            )
        )
    elif period.start > now:
        warnings.append(
            _(
                "voting opens later, on {start} (in {wait}): until then the collector and "
                "the voters' apps refuse every ballot. To open it at once: "
                "ivote ceremony init ... --start now"
            ).format(start=format_datetime(period.start), wait=_wait(period.start - now))
        )
    if manifest.key_bits < 3072:
        warnings.append(
            _("key_bits {bits} is a test size; a real election needs 3072").format(
                bits=manifest.key_bits
            )
        )


def _wait(delta: timedelta) -> str:
    """How long until voting opens, in the largest whole unit."""
    minutes = int(delta.total_seconds() // 60)
    if minutes >= 2 * 24 * 60:
        days = minutes // (24 * 60)
        return ngettext("{count} day", "{count} days", days).format(count=days)
    if minutes >= 120:
        hours = minutes // 60
        return ngettext("{count} hour", "{count} hours", hours).format(count=hours)
    return ngettext("{count} minute", "{count} minutes", minutes).format(count=minutes)
