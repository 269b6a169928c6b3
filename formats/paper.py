"""The paper-voter list: voters who voted on paper, whose i-votes the tally cancels.

docs/spec.md, "Paper-voter list". Whoever carries this list to the tallier could cancel any
i-vote with it, or drop it and let a voter be counted twice, so it is a document the organiser
signs (`ivote ceremony paper-voters`) for one election and one voter-list version, and the tally
and the record name it by hash. Its payload:

    {"version": 1, "kind": "ivote/paper-voters", "election_id", "manifest_hash": b64url,
     "voter_list": {"list_version": k, "hash": b64url}, "personal_codes": [sorted, unique]}

signed under DOMAINS["paper_voters"] by the certificate that signed the manifest.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

from canonical.encoding import (
    DOMAINS,
    FormatError,
    b64url,
    check_version,
    object_hash,
    parse_b64url,
    require,
)
from canonical.files import read_json_file
from crypto.eid import Signer
from formats import personal_codes
from formats.manifest import Manifest
from formats.personal_codes import OPAQUE, PERSONAL_CODE_RE
from formats.signed import open_signed, sign_object
from formats.voters import InputFileError, Problem, VoterList

PAPER_VOTERS_KIND = "ivote/paper-voters"
PAPER_VOTERS_FILE = "paper-voters.signed.json"
_FIELDS = {"version", "kind", "election_id", "manifest_hash", "voter_list", "personal_codes"}


@dataclass(frozen=True)
class PaperVoters:
    """The payload: which voters voted on paper, for which election and voter-list version."""

    election_id: str
    manifest_hash: bytes
    list_version: int
    voter_list_hash: bytes
    personal_codes: tuple[str, ...]  # sorted by code point, no duplicates

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "kind": PAPER_VOTERS_KIND,
            "election_id": self.election_id,
            "manifest_hash": b64url(self.manifest_hash),
            "voter_list": {"list_version": self.list_version, "hash": b64url(self.voter_list_hash)},
            "personal_codes": list(self.personal_codes),
        }

    @classmethod
    def from_dict(cls, obj: Any, where: str = "paper_voters") -> PaperVoters:
        check_version(obj, where)
        extra = sorted(set(obj) - _FIELDS)
        if extra:
            raise FormatError(f"{where}.{extra[0]}", "unexpected field")
        if require(obj, "kind", str, where) != PAPER_VOTERS_KIND:
            raise FormatError(f"{where}.kind", f"expected {PAPER_VOTERS_KIND!r}")
        manifest_hash = parse_b64url(
            require(obj, "manifest_hash", str, where), f"{where}.manifest_hash"
        )
        if len(manifest_hash) != 32:
            raise FormatError(f"{where}.manifest_hash", "not a 32-byte hash")
        voter_list = require(obj, "voter_list", dict, where)
        if set(voter_list) != {"list_version", "hash"}:
            raise FormatError(f"{where}.voter_list", "expected exactly list_version and hash")
        list_version = require(voter_list, "list_version", int, f"{where}.voter_list")
        if list_version < 1:
            raise FormatError(f"{where}.voter_list.list_version", "must be at least 1")
        list_hash = parse_b64url(
            require(voter_list, "hash", str, f"{where}.voter_list"), f"{where}.voter_list.hash"
        )
        if len(list_hash) != 32:
            raise FormatError(f"{where}.voter_list.hash", "not a 32-byte hash")
        codes = require(obj, "personal_codes", list, where)
        for i, code in enumerate(codes):
            if not isinstance(code, str) or not PERSONAL_CODE_RE.match(code):
                raise FormatError(f"{where}.personal_codes[{i}]", "not a personal code")
            if i and codes[i - 1] >= code:
                raise FormatError(
                    f"{where}.personal_codes[{i}]", "not in code-point order or repeated"
                )
        return cls(
            require(obj, "election_id", str, where),
            manifest_hash,
            list_version,
            list_hash,
            tuple(codes),
        )


def parse_paper_voter_input(
    data: bytes, source: str, voter_list: VoterList, scheme: str = OPAQUE
) -> tuple[str, ...]:
    """The personal codes of an officials' input file: one per line, or a CSV whose header
    has a `personal_code` column; blank lines and `#` comments are ignored. Every malformed
    (not of the election's personal-code `scheme`), repeated or unknown code is reported with
    its line (InputFileError)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem = Problem(source, None, "encoding", f"not UTF-8 ({exc.reason})")
        raise InputFileError([problem]) from None
    problems: list[Problem] = []
    first_line: dict[str, int] = {}
    column: int | None = None
    header_seen = False
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        cells = [cell.strip() for cell in line.split(",")]
        if not header_seen:
            header_seen = True
            if "personal_code" in cells:
                column = cells.index("personal_code")
                continue
        if column is None and len(cells) > 1:
            problems.append(Problem(source, number, "personal_code", "one code per line"))
            continue
        if column is not None and column >= len(cells):
            problems.append(Problem(source, number, "personal_code", "missing"))
            continue
        code = cells[column or 0]
        if not code:
            problems.append(Problem(source, number, "personal_code", "empty"))
        elif code_problem := personal_codes.problem(scheme, code):
            problems.append(Problem(source, number, "personal_code", code_problem))
        elif code in first_line:
            problems.append(
                Problem(
                    source,
                    number,
                    "personal_code",
                    f"{code} listed twice (first on line {first_line[code]})",
                )
            )
        elif code not in voter_list:
            problems.append(
                Problem(
                    source,
                    number,
                    "personal_code",
                    f"{code} is not on the voter list (version {voter_list.list_version})",
                )
            )
        else:
            first_line[code] = number
    if problems:
        raise InputFileError(problems)
    return tuple(sorted(first_line))


def sign_paper_voters(
    manifest: Manifest, voter_list: VoterList, codes: tuple[str, ...], organiser: Signer
) -> dict[str, Any]:
    """The signed list (the organiser signs; the codes come from parse_paper_voter_input)."""
    paper = PaperVoters(
        manifest.election_id,
        manifest.hash,
        voter_list.list_version,
        voter_list.hash,
        tuple(sorted(set(codes))),
    )
    return sign_object(organiser, DOMAINS["paper_voters"], paper.to_dict())


@dataclass(frozen=True)
class SignedPaperVoters:
    paper: PaperVoters
    hash: bytes  # H(signed document): what the tally and the record name

    @property
    def personal_codes(self) -> tuple[str, ...]:
        return self.paper.personal_codes


def open_paper_voters(
    document: Any,
    manifest: Manifest,
    organiser: x509.Certificate,
    voter_list: VoterList,
    where: str = "paper_voters",
) -> SignedPaperVoters:
    """Check a signed paper-voter list: signed by `organiser` (the manifest's signer), for
    this election and manifest, for exactly `voter_list` (the ballot box's newest), every
    code on that list. FormatError or crypto.eid errors name what does not match."""
    if not isinstance(document, Mapping) or "signature" not in document:
        raise FormatError(
            where,
            "not a signed paper-voter list (the organiser signs it: ivote ceremony paper-voters)",
        )
    payload, _, _ = open_signed(
        document, DOMAINS["paper_voters"], expected_cert=organiser, where=where
    )
    paper = PaperVoters.from_dict(payload, f"{where}.payload")
    if paper.election_id != manifest.election_id or paper.manifest_hash != manifest.hash:
        raise FormatError(
            f"{where}.payload.election_id",
            f"the list is for election {paper.election_id!r} (another manifest), not "
            f"{manifest.election_id!r}",
        )
    if (paper.list_version, paper.voter_list_hash) != (voter_list.list_version, voter_list.hash):
        raise FormatError(
            f"{where}.payload.voter_list",
            f"the list was signed for voter list version {paper.list_version}, the ballot "
            f"box's newest is version {voter_list.list_version}",
        )
    unknown = [code for code in paper.personal_codes if code not in voter_list]
    if unknown:
        raise FormatError(
            f"{where}.payload.personal_codes",
            f"{unknown[0]} is not on the voter list"
            + (f" (nor are {len(unknown) - 1} other codes)" if len(unknown) > 1 else ""),
        )
    return SignedPaperVoters(paper, object_hash(document))


def read_paper_voters(
    path: str | os.PathLike[str],
    manifest: Manifest,
    organiser: x509.Certificate,
    voter_list: VoterList,
) -> SignedPaperVoters:
    return open_paper_voters(
        read_json_file(Path(path), "paper_voters"), manifest, organiser, voter_list
    )
