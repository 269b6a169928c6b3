"""`ivote bench tally`: the offline half on a real-size key: process a ballot box, decrypt,
verify the record.

Builds an election with the real ceremony code (test PKI, key ceremony, one district with one
1-of-L contest), one e-ID per voter, one signed ballot each, the collector's signed export and
the organiser-signed (empty) paper-voter list; then times `tally process` (box checks, e-ID
checks, proofs, totals), the auditors' verification (the cleansing re-done from the box, the
report, totals and bundle compared), the observers' verification, and the decryption: one
session of the 3 trustees (one verification of the tally against the box, then each trustee's
shares) against 3 separate runs (each trustee verifying on their own), then combine. Ballot
generation is setup, not measured; it runs on every core and is the slow part (each ballot's
proof costs L-1 n-bit exponentiations).

Last line JSON: process_s, audit_s, verify_s (observers), their ms and CPU ms per ballot
(CPU: worker processes included, the figure to compare on a shared machine), session_s and
separate_s (the trustees' decryption: one session against three runs), decrypt_s (the three
trustees' shares and the combination, without the verification), projected_324k_s (process
+ auditors' + observers' verification of Estonia 2023's 324,301 ballots at the measured
rates, plus one decryption session), correct.

`--workdir DIR` keeps the built election in DIR and reuses it on the next run with the same
parameters, so that repeated measurements skip the setup.

`--scenario thailand` (bench.scenarios) builds a Thai ballot instead: one constituency contest
of --candidates candidates and "vote no", the national party list of 67 parties and "vote
no", and a national referendum of 3 answers, on every ballot. Its JSON has the keys above
(`candidates` is the constituency's) and also: bytes per ballot in the ballot box (the
collector's signed export) and in the observers' bundle, `cpu_ms_per_ballot` (process +
auditors' + observers' CPU), a breakdown of that CPU by part, measured (`breakdown`,
`proofs_by_contest`), and `projections` to 2.41 million ballots (Thailand's advance and
overseas voters, 2026) on this machine's cores and 20 million ballots (40% of the
electorate) on a 64-core tallier, with their `assumptions`: linear in ballots at the measured
CPU ms per ballot, spread ideally over the cores, plus one decryption session at the measured
seconds per total for Thailand's 400 constituencies (bench.tally_figures says how).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import secrets
import tempfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import click

from bench.common import emit, machine, timed
from bench.scenarios import SCENARIOS, TRUSTEES, Scenario

ESTONIA_2023_BALLOTS = 324_301

_WORKER: dict[str, Any] = {}
STATE_FILE = "bench-state.json"
BUILD_FORMAT = 2  # kept elections of an older format (no signed paper-voter list) are rebuilt
PAPER_FILE = "paper-voters.signed.json"


def cpu_seconds() -> float:
    """CPU time of this process and of its waited-for children (finished worker pools)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed_cpu(function: Any) -> tuple[Any, float, float]:
    """Run once; return (result, wall-clock seconds, CPU seconds with worker processes).
    Pools must be shut down inside `function` for their CPU time to count."""
    before = cpu_seconds()
    result, wall = timed(function)
    return result, wall, cpu_seconds() - before


def _init_ballot_worker(manifest_doc: dict[str, Any]) -> None:
    from formats.manifest import Manifest

    _WORKER["manifest"] = Manifest.from_dict(manifest_doc)


def _make_ballot(task: tuple[str, dict[str, int]]) -> dict[str, Any]:
    from formats.ballot import build_ballot

    district, choices = task
    payload, _ = build_ballot(_WORKER["manifest"], district, choices, secrets.token_bytes(32))
    return payload


def _build(
    root: Path,
    scenario: Scenario,
    key_bits: int,
    candidates: int,
    ballots: int,
    workers: int,
    say: Any,
) -> dict[str, Any]:
    """The election and its ballot box under `root`; returns what the measurement needs."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from canonical.encoding import DOMAINS, b64url, canonical_bytes
    from canonical.files import write_canonical_json
    from ceremonies.election import init_election
    from ceremonies.keygen import run_keygen
    from ceremonies.pki import (
        make_crl,
        make_eid,
        make_intermediate_ca,
        make_official,
        make_root_ca,
    )
    from ceremonies.trustee_params import make_trustee_parameters
    from crypto import merkle
    from formats.ballot import ballot_hash
    from formats.ballotbox import write_ballot_box
    from formats.manifest import ElectionDirectory
    from formats.paper import sign_paper_voters
    from formats.receipt import LogHead, entry_leaf_hash
    from formats.signed import sign_object
    from formats.voters import Voter

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start, end = now - dt.timedelta(days=1), now + dt.timedelta(days=1)
    ca = make_root_ca(now=now - dt.timedelta(days=2))
    issuing = make_intermediate_ca(ca, now=now - dt.timedelta(days=2))
    organiser = make_official(ca, "organiser", now=now - dt.timedelta(days=2))
    collector = make_official(ca, "collector", now=now - dt.timedelta(days=2))
    for name, signer in (("root", ca), ("issuing", issuing), ("collector", collector)):
        (root / f"{name}.pem").write_bytes(signer.certificate.public_bytes(Encoding.PEM))
    (root / "election.toml").write_text(scenario.definition(candidates, start, end, key_bits))
    district = scenario.district
    voters = [
        Voter(scenario.personal_code(i), "Given", "Surname", district) for i in range(ballots)
    ]
    (root / "voters.csv").write_text(
        "personal_code,given_name,surname,district\n"
        + "".join(f"{v.personal_code},Given,Surname,{district}\n" for v in voters)
    )
    directory = root / "election"
    init_election(
        root / "election.toml", root / "voters.csv", directory, now=start - dt.timedelta(1)
    )
    say(f"trustees' parameters and key ceremony ({key_bits} bits)...")
    for trustee in range(1, TRUSTEES + 1):  # each trustee's step, before keygen (not timed)
        make_trustee_parameters(directory, trustee)
    passphrases = [f"trustee {i} passphrase" for i in range(1, TRUSTEES + 1)]
    manifest, keygen_s = timed(
        lambda: run_keygen(directory, passphrases, organiser, scrypt_cost=1024)
    )
    election = ElectionDirectory(directory)
    crl = make_crl(issuing, [], 1, this_update=start, next_update=end)
    (directory / "crls").mkdir()
    (directory / "crls" / "issuing.crl").write_bytes(crl.public_bytes(Encoding.PEM))

    say(f"encrypting {ballots} ballots on {workers} workers (setup, not measured)...")
    options = scenario.options(candidates)
    choices = [
        {contest: secrets.choice(numbers) for contest, numbers in options.items()}
        for _ in range(ballots)
    ]
    with ProcessPoolExecutor(
        workers, initializer=_init_ballot_worker, initargs=(manifest.to_dict(),)
    ) as pool:
        tasks = [(district, choice) for choice in choices]
        payloads = list(pool.map(_make_ballot, tasks, chunksize=4))
    received0 = int(start.timestamp() * 1000) + 60_000
    signed = [
        sign_object(make_eid(issuing, v, not_before=start), DOMAINS["ballot"], payload)
        for v, payload in zip(voters, payloads, strict=True)
    ]
    times = [received0 + i for i in range(ballots)]
    leaves = [entry_leaf_hash(ballot_hash(s), t) for s, t in zip(signed, times, strict=True)]
    head = sign_object(
        collector,
        DOMAINS["log_head"],
        LogHead(manifest.election_id, ballots, merkle.root_hash(leaves), times[-1] + 1).to_dict(),
    )
    entries = []
    for index, (ballot, received) in enumerate(zip(signed, times, strict=True)):
        receipt = {
            "version": 1,
            "election_id": manifest.election_id,
            "ballot_hash": b64url(ballot_hash(ballot)),
            "log_index": index,
            "received": received,
            "log_head": head,
        }
        signed_receipt = sign_object(collector, DOMAINS["receipt"], receipt)
        entries.append((index, canonical_bytes(ballot), canonical_bytes(signed_receipt)))
    write_ballot_box(
        root / "ballotbox.zip",
        collector,
        manifest,
        entries,
        election.voter_lists(manifest),
        head,
        times[-1],
    )
    voter_list = election.voter_lists(manifest)[-1]
    write_canonical_json(root / PAPER_FILE, sign_paper_voters(manifest, voter_list, (), organiser))
    return {
        "format": BUILD_FORMAT,
        "scenario": scenario.name,
        "key_bits": key_bits,
        "candidates": candidates,
        "ballots": ballots,
        "choices": choices,
        "passphrases": passphrases,
        "keygen_s": round(keygen_s, 3),
    }


def _prepared(
    root: Path,
    scenario: Scenario,
    key_bits: int,
    candidates: int,
    ballots: int,
    workers: int,
    say: Any,
) -> dict[str, Any]:
    """A built election in `root`: the one kept there with these parameters, else a new one."""
    state_path = root / STATE_FILE
    wanted = {
        "format": BUILD_FORMAT,
        "scenario": scenario.name,
        "key_bits": key_bits,
        "candidates": candidates,
        "ballots": ballots,
    }
    if state_path.exists():
        state = json.loads(state_path.read_text())
        state.setdefault("scenario", "default")  # kept before there were scenarios
        if {name: state.get(name) for name in wanted} == wanted:
            say(f"reusing the election built in {root}")
            return state
        raise click.ClickException(
            f"{root} holds an election built with other parameters "
            f"({ {name: state.get(name) for name in wanted} }): use another --workdir"
        )
    if any(root.iterdir()):
        raise click.ClickException(f"{root} is neither empty nor a kept bench election")
    state = _build(root, scenario, key_bits, candidates, ballots, workers, say)
    state_path.write_text(json.dumps(state))
    return state


@click.command(name="tally")
@click.option(
    "--scenario",
    type=click.Choice(sorted(SCENARIOS)),
    default="default",
    show_default=True,
    help="The election: one contest (default), or a Thai ballot of a constituency, the party "
    "list and a referendum, with bytes per ballot, projections and a CPU breakdown (thailand).",
)
@click.option("--key-bits", default=3072, show_default=True, help="Paillier modulus size.")
@click.option(
    "--candidates",
    default=10,
    show_default=True,
    help="Candidates in the contest (thailand: in the constituency contest).",
)
@click.option("--ballots", default=2000, show_default=True, help="Ballots in the box.")
@click.option("--workers", type=int, default=None, help="Processes (default: every core).")
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the built election here and reuse it on later runs (default: a temporary one).",
)
@click.option("--json", "as_json", is_flag=True, help="Print only the JSON line.")
def bench_tally(
    scenario: str,
    key_bits: int,
    candidates: int,
    ballots: int,
    workers: int | None,
    workdir: Path | None,
    as_json: bool,
) -> None:
    """Time process + decrypt + verify of a ballot box on a real-size key."""
    if ballots < 1 or candidates < 2:
        raise click.BadParameter("need at least one ballot and two candidates")
    workers = workers or os.cpu_count() or 1
    say = (lambda text: None) if as_json else (lambda text: click.echo(text, err=True))
    with tempfile.TemporaryDirectory(prefix="ivote-bench-tally-") as temporary:
        root = Path(temporary)
        if workdir is not None:
            workdir.mkdir(parents=True, exist_ok=True)
            root = workdir
        chosen = SCENARIOS[scenario]
        state = _prepared(root, chosen, key_bits, candidates, ballots, workers, say)
        result = _measure(root, chosen, state, workers, say)
    emit(result, as_json)
    if not result["correct"]:
        raise SystemExit(1)


def _measure(
    root: Path, scenario: Scenario, state: dict[str, Any], workers: int, say: Any
) -> dict[str, Any]:
    from canonical.files import read_json_file
    from crypto.eid import parse_certificate
    from crypto.threshold import decryption_share
    from formats.manifest import ElectionDirectory, load_signed_manifest, open_trustee_share
    from formats.record import TrusteeShares
    from tallier.combine import combine_tally
    from tallier.process import process_ballot_box
    from verifier.audit import AuditMaterial
    from verifier.record import verify_record

    ballots, candidates = state["ballots"], state["candidates"]
    passphrases = state["passphrases"]
    directory = root / "election"
    election = ElectionDirectory(directory)
    pinned = election.organiser_certificate.read_bytes()
    manifest = load_signed_manifest(election.signed_manifest, organiser_certificate=pinned)
    organiser = parse_certificate(pinned, "organiser.pem")
    box, paper = root / "ballotbox.zip", root / PAPER_FILE

    say("tally process...")
    outcome, process_s, process_cpu = timed_cpu(
        lambda: process_ballot_box(directory, box, paper, workers=workers)
    )
    tally_doc, bundle_doc = outcome.tally.to_dict(), outcome.bundle.to_dict()
    audit = AuditMaterial(box, read_json_file(paper, "paper_voters"), list(outcome.crls))

    def verified_for_trustees() -> Any:
        """What `ivote ceremony decrypt` runs before decrypting: every check, the auditors'
        included, with the manifest pinned."""
        verdict = verify_record(
            tally_doc,
            bundle_doc,
            workers=workers,
            organiser_certificate=organiser,
            audit=audit,
            allow_test_key=True,  # a benchmark, not an election (--key-bits may be small)
        )
        assert not verdict.blocking_decryption(), verdict.to_dict()
        return verdict

    def shares_of(index: int) -> TrusteeShares:
        share = open_trustee_share(election.share(index), passphrases[index - 1], manifest)
        values = tuple(
            decryption_share(
                share,
                total.ciphertext,
                manifest.proof_context(total.district, total.contest, total.part),
            ).to_dict()
            for total in outcome.tally.totals
        )
        return TrusteeShares(outcome.tally.hash, index, values)

    say("auditors' verification (the cleansing re-done from the box)...")
    audit_verdict, audit_s, audit_cpu = timed_cpu(verified_for_trustees)
    say("decryption: one session of 3 trustees, then 3 separate runs...")

    shares_times: list[float] = []
    shares_cpu: list[float] = []  # CPU seconds of the same (made in this process)

    def session() -> list[TrusteeShares]:
        verified_for_trustees()
        made, seconds, cpu = timed_cpu(
            lambda: [shares_of(index) for index in range(1, TRUSTEES + 1)]
        )
        shares_times.append(seconds)
        shares_cpu.append(cpu)
        return made

    def separate() -> list[TrusteeShares]:
        trustees = []
        for index in range(1, TRUSTEES + 1):
            verified_for_trustees()
            trustees.append(shares_of(index))
        return trustees

    trustees, session_s = timed(session)
    _, separate_s = timed(separate)
    combined, combine_s, combine_cpu = timed_cpu(lambda: combine_tally(outcome.tally, trustees))
    say("observers' verification...")
    record_doc = combined.record.to_dict()
    verdict, verify_s, verify_cpu = timed_cpu(
        lambda: verify_record(record_doc, bundle_doc, workers=workers, allow_test_key=True)
    )
    # elections kept before there were scenarios hold c1's candidate numbers
    chosen = [c if isinstance(c, dict) else {"c1": c} for c in state["choices"]]
    district = manifest.district(scenario.district)
    expected = {
        (district.id, contest.id): [
            Counter(choice[contest.id] for choice in chosen)[option.number]
            for option in contest.options
        ]
        for contest in district.contests
    }
    counts = {(r.district, r.contest): list(r.counts) for r in combined.record.decryption.results}
    correct = (
        counts == expected
        and not verdict.failed
        and not audit_verdict.failed
        and outcome.report.total.counted == ballots
    )
    per_ballot = (process_s + audit_s + verify_s) / ballots
    decrypt_s = shares_times[0] + combine_s  # the 3 trustees' shares and the combination
    result = {
        "bench": "tally",
        "key_bits": state["key_bits"],
        "candidates": candidates,
        "ballots": ballots,
        "workers": workers,
        "keygen_s": state["keygen_s"],
        "process_s": round(process_s, 3),
        "process_ms_per_ballot": round(process_s / ballots * 1000, 3),
        "process_cpu_ms_per_ballot": round(process_cpu / ballots * 1000, 3),
        "audit_s": round(audit_s, 3),
        "audit_ms_per_ballot": round(audit_s / ballots * 1000, 3),
        "audit_cpu_ms_per_ballot": round(audit_cpu / ballots * 1000, 3),
        "verify_s": round(verify_s, 3),
        "verify_ms_per_ballot": round(verify_s / ballots * 1000, 3),
        "verify_cpu_ms_per_ballot": round(verify_cpu / ballots * 1000, 3),
        "session_s": round(session_s, 3),
        "separate_s": round(separate_s, 3),
        "decrypt_s": round(decrypt_s, 3),
        "projected_324k_s": round(per_ballot * ESTONIA_2023_BALLOTS + session_s + combine_s, 1),
        "correct": correct,
        **machine(),
    }
    if scenario.detailed:
        say("the breakdown: the three phases again in one process, their parts timed...")
        result |= _detailed(
            root, scenario, manifest, outcome, record_doc, bundle_doc, audit, organiser, result,
            shares_cpu[0] + combine_cpu,
        )  # fmt: skip
        result["correct"] = correct and result.pop("breakdown_correct")
    return result


def _detailed(
    root: Path,
    scenario: Scenario,
    manifest: Any,
    outcome: Any,
    record_doc: dict[str, Any],
    bundle_doc: dict[str, Any],
    audit: Any,
    organiser: Any,
    measured: dict[str, Any],
    decrypt_cpu: float,
) -> dict[str, Any]:
    """A scenario's bytes per ballot, CPU breakdown and projections (bench.tally_figures)."""
    from bench.tally_figures import box_sizes, broken_down, projections, proofs_by_contest
    from canonical.encoding import canonical_bytes
    from tallier.process import process_ballot_box
    from verifier.record import verify_record

    ballots = measured["ballots"]
    tally_doc = outcome.tally.to_dict()
    directory, box, paper = root / "election", root / "ballotbox.zip", root / PAPER_FILE
    district = manifest.district(scenario.district)
    figures: dict[str, Any] = {
        "scenario": scenario.name,
        "options": {contest.id: len(contest.options) for contest in district.contests},
        **box_sizes(box, ballots),
        "bundle_bytes_per_ballot": round(len(canonical_bytes(bundle_doc)) / ballots, 1),
    }
    cpu_ms = sum(measured[f"{phase}_cpu_ms_per_ballot"] for phase in ("process", "audit", "verify"))
    figures["cpu_ms_per_ballot"] = round(cpu_ms, 3)

    # the same three phases again, in this process, with their parts timed
    _, process_parts = broken_down(
        lambda: process_ballot_box(directory, box, paper, workers=1), ballots
    )
    audit_verdict, audit_parts = broken_down(
        lambda: verify_record(
            tally_doc,
            bundle_doc,
            workers=1,
            organiser_certificate=organiser,
            audit=audit,
            allow_test_key=True,
        ),
        ballots,
    )
    verdict, verify_parts = broken_down(
        lambda: verify_record(record_doc, bundle_doc, workers=1, allow_test_key=True), ballots
    )
    figures["breakdown"] = {"process": process_parts, "audit": audit_parts, "verify": verify_parts}
    figures["breakdown_correct"] = not verdict.failed and not audit_verdict.failed
    figures["proofs_by_contest"] = proofs_by_contest(bundle_doc, manifest)

    totals = len(outcome.tally.totals)
    decryption_proofs_ms = verify_parts.get("decryption_proofs", 0.0)
    per_total_s = (decrypt_cpu + decryption_proofs_ms * ballots / 1000) / totals
    # the CPU of a ballot: the three phases in one process (no pool to start and set up,
    # which millions of ballots amortise), less the per-total checks
    ballot_cpu_ms = sum(parts["total"] for parts in figures["breakdown"].values())
    ballot_cpu_ms -= decryption_proofs_ms
    totals_real = totals * scenario.districts_in_projection
    figures["totals"] = totals
    figures["decryption_cpu_s_per_total"] = round(per_total_s, 4)
    figures["ballot_cpu_ms"] = round(ballot_cpu_ms, 3)
    figures["projections"], figures["assumptions"] = projections(
        ballot_cpu_ms, per_total_s, totals_real, measured["cpus"] or 1
    )
    return figures
