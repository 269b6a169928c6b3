"""The extra figures of `ivote bench tally --scenario thailand`: bytes per ballot, where the CPU
time of a ballot goes, and projections to a national count.

Breakdown: `tally process`, the auditors' and the observers' verification are run once more in
this one process (workers=1, so that every part is timed where it runs), with named functions
of the roles wrapped by a timer of this process's CPU time (time.process_time). A part's time
is exclusive: a wrapped function called inside another is counted once, in its own part. The
parts (JSON key "breakdown", ms of CPU per ballot, per phase):
- box_entries: formats.ballotbox.check_entry_line, the box's per-line checks (receipt envelope,
  log head, the ballot's hash);
- eid_signature: formats.signed.open_signed on the ballot, less its canonical encoding: the
  envelope, the certificate's parsing and the e-ID's ECDSA P-384 signature;
- canonical_encoding: crypto.eid.signing_input, the bytes a signature covers;
- eid_certificate: crypto.eid.check_certificate (chain, validity, CRL);
- ballot_parsing: formats.ballot.parse_ballot, formats.record.AnonymousBallot.from_dict and
  verifier.record.parse_anonymous_ballot (hex integers, ranges, units);
- bundle_encoding: formats.record.EncodedBallot.of (the counted ballot's canonical bytes);
- proof_checks: crypto.membership._prepare less the challenge hashes (ranges, challenge sum);
- proof_challenge_hashes: crypto.membership.membership_challenge (the Fiat-Shamir hashes);
- proof_batch_equations: crypto.membership._batch_holds (the multi-exponentiations);
- decryption_proofs: verifier.record.verify_decryption_share (per total, not per ballot);
- other: the rest of the phase (the box read and unzipped, JSON, the log's Merkle tree, the
  bundle's hash, the totals' products, comparisons, process pools' absence aside).
"proofs_by_contest" times crypto.membership.batch_verify on each contest's statements of all
the ballots at once (one batch per contest), and on those statements 8 times over in one batch
(what a larger box's larger batches cost per ballot).

Projections (JSON "projections"), for 2.41 million ballots (Thailand's advance and overseas
voters, 2026) on this machine's cores and 20 million ballots (40% of the electorate) on a
64-core tallier, with these assumptions (also in the JSON):
- the per-ballot CPU of `tally process`, the auditors' verification (run once, in the
  trustees' decryption session) and the observers' verification is linear in ballots, at the
  CPU ms per ballot measured in the breakdown's single-process runs ("ballot_cpu_ms", less the
  per-total decryption-proof checks): the pool runs' `*_cpu_ms_per_ballot` also hold each
  run's fixed costs (the workers' start-up and set-up), nothing per ballot at millions of
  ballots; batches of a large box are larger (up to crypto.membership.BATCH_CHUNK), and
  cost less per ballot ("proofs_by_contest"), so this over-states a little;
- that work spreads ideally over the cores (it runs in process pools);
- plus one decryption session: the trustees' shares and the combination, and the observers'
  checks of the decryption proofs, per total as measured, for every total of the real election
  (districts x contests x parts), on one core (as the session runs today);
- ballot generation, the key ceremony and moving files are not counted.
"""

from __future__ import annotations

import importlib
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

THAILAND_2026_ADVANCE_OVERSEAS = 2_410_000
FORTY_PERCENT_ELECTORATE = 20_000_000
BIG_TALLIER_CORES = 64

# (module, attribute or Class.method, part)
PARTS: tuple[tuple[str, str, str], ...] = (
    ("formats.cleansing", "check_entry_line", "box_entries"),
    ("formats.cleansing", "open_signed", "eid_signature"),
    ("crypto.eid", "signing_input", "canonical_encoding"),
    ("crypto.eid", "check_certificate", "eid_certificate"),
    ("formats.cleansing", "parse_ballot", "ballot_parsing"),
    ("formats.record", "AnonymousBallot.from_dict", "ballot_parsing"),
    ("verifier.record", "parse_anonymous_ballot", "ballot_parsing"),
    ("formats.record", "EncodedBallot.of", "bundle_encoding"),
    ("crypto.membership", "_prepare", "proof_checks"),
    ("crypto.membership", "membership_challenge", "proof_challenge_hashes"),
    ("crypto.membership", "_batch_holds", "proof_batch_equations"),
    ("verifier.record", "verify_decryption_share", "decryption_proofs"),
)
PART_NAMES = tuple(dict.fromkeys(part for _, _, part in PARTS))


@contextmanager
def timing_parts() -> Iterator[dict[str, float]]:
    """While open, PARTS' functions add their exclusive CPU seconds to the dict yielded."""
    spent = dict.fromkeys(PART_NAMES, 0.0)
    inside: list[float] = []  # per wrapped call in progress: CPU of wrapped calls within it

    def wrap(function: Callable[..., Any], part: str) -> Callable[..., Any]:
        def timed_part(*args: Any, **kwargs: Any) -> Any:
            start = time.process_time()
            inside.append(0.0)
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.process_time() - start
                spent[part] += elapsed - inside.pop()
                if inside:
                    inside[-1] += elapsed

        return timed_part

    restore: list[tuple[Any, str, Any]] = []
    try:
        for module_name, attribute, part in PARTS:
            owner: Any = importlib.import_module(module_name)
            if "." in attribute:
                class_name, attribute = attribute.split(".")
                owner = getattr(owner, class_name)
                # a classmethod: the bound method, wrapped, stays callable on the class
                restore.append((owner, attribute, owner.__dict__[attribute]))
                setattr(owner, attribute, staticmethod(wrap(getattr(owner, attribute), part)))
            else:
                restore.append((owner, attribute, getattr(owner, attribute)))
                setattr(owner, attribute, wrap(getattr(owner, attribute), part))
        yield spent
    finally:
        for owner, attribute, original in reversed(restore):
            setattr(owner, attribute, original)


def broken_down(function: Callable[[], Any], ballots: int) -> tuple[Any, dict[str, float]]:
    """Run `function` (in this process) with its parts timed: (result, ms of CPU per ballot
    per part, with `other` and `total`)."""
    with timing_parts() as spent:
        start = time.process_time()
        result = function()
        total = time.process_time() - start
    parts = {part: seconds for part, seconds in spent.items() if seconds > 0}
    parts["other"] = total - sum(parts.values())
    parts["total"] = total
    return result, {part: round(s / ballots * 1000, 3) for part, s in parts.items()}


def proofs_by_contest(bundle_doc: dict[str, Any], manifest: Any) -> dict[str, dict[str, Any]]:
    """Per contest: its proof branches per ballot and the CPU ms per ballot of one batch
    verification of that contest's proofs in every ballot of the bundle."""
    from crypto.membership import BATCH_CHUNK, EncryptedContest, batch_verify, contest_statements
    from formats.ballot import contest_context

    key = manifest.threshold_key.public_key
    by_contest: dict[str, list[Any]] = {}
    for raw in bundle_doc["ballots"]:
        district = raw["district"]
        for contest_id, contest_doc in raw["contests"].items():
            enc = manifest.contest_encoding(district, contest_id)
            contest = EncryptedContest.from_dict(contest_doc, key, enc, contest_id)
            context = contest_context(manifest, district, contest_id)
            by_contest.setdefault(contest_id, []).extend(
                contest_statements(key, enc, contest, context)
            )
    ballots = len(bundle_doc["ballots"])
    figures: dict[str, dict[str, Any]] = {}
    for contest_id, statements in by_contest.items():
        branches = sum(len(s.allowed) for s in statements)
        figures[contest_id] = {"branches_per_ballot": round(branches / ballots, 3)}
        # the same statements 8 times over: what a larger batch (a larger box) costs per ballot
        for label, times in (("cpu_ms_per_ballot", 1), ("cpu_ms_per_ballot_batch_x8", 8)):
            batch = statements * times
            start = time.process_time()
            bad = [i for s in range(0, len(batch), BATCH_CHUNK)
                   for i in batch_verify(batch[s : s + BATCH_CHUNK])]  # fmt: skip
            seconds = time.process_time() - start
            assert not bad, f"proofs of {contest_id} fail"
            figures[contest_id][label] = round(seconds / (ballots * times) * 1000, 3)
    return figures


def box_sizes(box: Path, ballots: int) -> dict[str, float]:
    """The collector's signed export per ballot: the file (deflated) and its contents."""
    with zipfile.ZipFile(box) as archive:
        contents = sum(info.file_size for info in archive.infolist())
    return {
        "box_bytes_per_ballot": round(box.stat().st_size / ballots, 1),
        "box_uncompressed_bytes_per_ballot": round(contents / ballots, 1),
    }


def projections(
    ballot_cpu_ms: float, total_s: float, totals_real: int, cores: int
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The two projections and their assumptions (see the module's docstring)."""
    assumptions = [
        "CPU per ballot linear in ballots, at the CPU ms per ballot of tally process + "
        "auditors' verification (once) + observers' verification measured in one process "
        "(ballot_cpu_ms: no process pool start-up, which millions of ballots amortise), less "
        "the per-total decryption-proof checks (larger batches of a large box cost less: an "
        "over-estimate)",
        "that work spread ideally over the cores",
        f"plus one decryption session: trustees' shares, combination and the observers' "
        f"decryption-proof checks at the measured CPU seconds per total, for {totals_real} "
        "totals (districts x contests x parts), on one core (as the session runs today)",
        "ballot generation, key ceremony and copying files not counted",
    ]
    cases = {
        "thailand_2026_advance_overseas": (THAILAND_2026_ADVANCE_OVERSEAS, cores),
        "forty_percent_electorate": (FORTY_PERCENT_ELECTORATE, BIG_TALLIER_CORES),
    }
    result = {}
    for name, (ballots, on_cores) in cases.items():
        cpu_s = ballots * ballot_cpu_ms / 1000
        decryption_s = totals_real * total_s
        wall_s = cpu_s / on_cores + decryption_s
        result[name] = {
            "ballots": ballots,
            "cores": on_cores,
            "ballot_cpu_hours": round(cpu_s / 3600, 2),
            "decryption_session_s": round(decryption_s, 1),
            "wall_hours": round(wall_s / 3600, 2),
        }
    return result, assumptions
