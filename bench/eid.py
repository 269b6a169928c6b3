"""`ivote bench eid`: issuing e-IDs with the PKI ceremony (the whole `pki issue` path: keys,
certificates, PKCS#12 files, index, sync, the CA's record), then signing and checking a
signed ballot envelope (signature, chain, CRL).

Prints one JSON line last with issue_count, issue_s, issue_per_s, issue_ms_per_eid,
issue_cpu_s and issue_cpu_ms_per_eid (CPU time, worker processes included), open_eid_ms
(PKCS#12 under a PIN), sign_ms, open_signed_ms (verify + chain + CRL) and
under_a_minute_for_10000 (extrapolated when fewer were issued).
"""

from __future__ import annotations

import csv
import datetime as dt
import resource
import secrets
import tempfile
from pathlib import Path
from typing import Any

import click

from bench.common import emit, machine, median_ms, timed
from canonical.encoding import DOMAINS
from ceremonies import pki
from crypto import eid
from formats.signed import open_signed, sign_object
from formats.voters import Voter


def bench_issue(count: int = 10_000, samples: int = 200) -> dict[str, Any]:
    """Issue `count` e-IDs through ceremonies.pki.issue_eids in a temporary directory, then
    time loading one, signing and opening signed envelopes (`samples` each)."""
    if count < 1 or samples < 1:
        raise ValueError("count and samples must be positive")
    passphrase = secrets.token_hex(16)  # a throwaway CA
    voters = [
        Voter(f"PNOEE-{30000000000 + index}", "Bench", f"Voter{index}", "d1")
        for index in range(count)
    ]
    with tempfile.TemporaryDirectory(prefix="ivote-bench-eid-") as scratch:
        base = Path(scratch)
        sealing_cost = pki.SCRYPT_COST
        pki.SCRYPT_COST = 2**10  # the CA's own sealing is not what this measures
        try:
            ca = pki.open_ca(pki.init_ca(base / "ca", passphrase))
        finally:
            pki.SCRYPT_COST = sealing_cost
        cpu_before = _cpu_seconds()
        report, issue_s = timed(lambda: pki.issue_eids(ca, passphrase, voters, base / "eids"))
        issue_cpu_s = _cpu_seconds() - cpu_before
        with (base / "eids" / "pins.csv").open(newline="") as handle:
            pins = {row["personal_code"]: row["pin"] for row in csv.DictReader(handle)}
        first = voters[0].personal_code
        data = (base / "eids" / f"{first}.p12").read_bytes()
        open_s = [timed(lambda: eid.load_pkcs12_signer(data, pins[first]))[1] for _ in range(20)]
        signer = eid.load_pkcs12_signer(data, pins[first])
        crl = pki.make_ca_crl(ca, passphrase)
        trust = eid.TrustStore((ca.root_certificate,), (ca.issuing_certificate,), (crl,))
        payload = {"version": 1, "election_id": "bench", "choice": "0" * 64}
        sign_s = [
            timed(lambda: sign_object(signer, DOMAINS["ballot"], payload))[1]
            for _ in range(samples)
        ]
        document = sign_object(signer, DOMAINS["ballot"], payload)
        at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
        open_signed_s = [
            timed(lambda: open_signed(document, DOMAINS["ballot"], trust, at=at))[1]
            for _ in range(samples)
        ]
    per_eid = issue_s / report.count
    return {
        "benchmark": "eid",
        "issue_count": report.count,
        "issue_s": round(issue_s, 2),
        "issue_per_s": round(report.count / issue_s, 1),
        "issue_ms_per_eid": round(per_eid * 1000, 3),
        "under_a_minute_for_10000": per_eid * 10_000 < 60,
        # CPU time of the issuing (this process and its workers): the figure that does not
        # depend on what else the machine runs.
        "issue_cpu_s": round(issue_cpu_s, 2),
        "issue_cpu_ms_per_eid": round(issue_cpu_s / report.count * 1000, 3),
        "open_eid_ms": median_ms(open_s),
        "sign_ms": median_ms(sign_s),
        "open_signed_ms": median_ms(open_signed_s),
        **machine(),
    }


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@click.command(name="eid")
@click.option("--count", default=10_000, show_default=True, help="e-IDs to issue.")
@click.option("--samples", default=200, show_default=True, help="Signatures to time.")
@click.option("--json", "as_json", is_flag=True, help="Print only the JSON line.")
def bench_eid(count: int, samples: int, as_json: bool) -> None:
    """Time issuing e-IDs (10,000 by default) and signing / checking ballot envelopes."""
    if count < 1 or samples < 1:
        raise click.BadParameter("--count and --samples must be positive")
    emit(bench_issue(count, samples), as_json)
