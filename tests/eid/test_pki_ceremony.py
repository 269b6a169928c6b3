"""`ivote ceremony pki ...` end to end through the CLI (click's runner, in-process), and the
e-ID files it writes opened by the voter app."""

from __future__ import annotations

import csv
import datetime as dt
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from canonical.encoding import DOMAINS
from ceremonies import pki
from crypto import eid
from crypto.errors import SealError
from formats.signed import open_signed, sign_object
from formats.voters import Voter
from ivote.cli import main
from voter_app.eid import open_eid

VOTERS = (
    "personal_code,given_name,surname,district\n"
    "PNOEE-38001085718,Jaak-Kristjan,Jõeorg,Tallinn\n"
    "PNOEE-48001085718,Mari-Liis,Männik,Tartu\n"
    "PNOEE-39912310174,Tõnu,Õun,Tartu\n"
)
CA_PASS = "ca passphrase 1"


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, ["ceremony", "pki", *args], input=input)


def ok(*args: str, input: str | None = None) -> Result:
    result = run(*args, input=input)
    assert result.exit_code == 0, result.output
    return result


def fails(*args: str, input: str | None = None) -> str:
    """A refused command: exit status 1 and one clear line, never a traceback."""
    result = run(*args, input=input)
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), repr(result.exception)
    return result.output


@pytest.fixture
def workdir(tmp_path: Path, cheap_sealing: None) -> Path:
    (tmp_path / "voters.csv").write_text(VOTERS, encoding="utf-8")
    (tmp_path / "ca.pass").write_text(CA_PASS + "\n")
    ok("init", "--out", str(tmp_path / "ca"), "--passphrase-file", str(tmp_path / "ca.pass"))
    return tmp_path


def _pins(path: Path) -> dict[str, str]:
    with path.open(newline="") as handle:
        return {row["personal_code"]: row["pin"] for row in csv.DictReader(handle)}


def _trust(ca_dir: Path, crl: Path) -> eid.TrustStore:
    return eid.load_trust_store(
        (ca_dir / "root-ca.pem").read_bytes(),
        (ca_dir / "id-card-ca.pem").read_bytes(),
        crl.read_bytes(),
    )


def test_ceremony_end_to_end(workdir: Path) -> None:
    ca, eids = workdir / "ca", workdir / "eids"
    passphrase = ("--passphrase-file", str(workdir / "ca.pass"))
    out = ok("issue", "--ca", str(ca), "--voters", str(workdir / "voters.csv"),
             "--out", str(eids), *passphrase)  # fmt: skip
    assert "Issued 3 e-IDs" in out.output
    assert sorted(path.name for path in eids.iterdir()) == [
        "PNOEE-38001085718.p12",
        "PNOEE-39912310174.p12",
        "PNOEE-48001085718.p12",
        "chain.pem",
        "index.csv",
        "pins.csv",
    ]
    for secret in ("pins.csv", "PNOEE-38001085718.p12"):
        assert stat.S_IMODE((eids / secret).stat().st_mode) == 0o600
    assert stat.S_IMODE((ca / "id-card-ca.key").stat().st_mode) == 0o600
    pins = _pins(eids / "pins.csv")
    assert all(len(pin) == 5 and pin.isdigit() for pin in pins.values())

    ok("crl", "--ca", str(ca), "--out", str(workdir / "crl.der"), *passphrase)
    trust = _trust(ca, workdir / "crl.der")
    mari = open_eid(str(eids / "PNOEE-48001085718.p12"), pins["PNOEE-48001085718"])
    ballot = sign_object(mari, DOMAINS["ballot"], {"version": 1, "choice": "x"})
    _, _, identity = open_signed(ballot, DOMAINS["ballot"], trust)
    assert identity is not None
    assert (identity.personal_code, identity.given_name, identity.surname) == (
        "PNOEE-48001085718",
        "Mari-Liis",
        "Männik",
    )
    with (eids / "index.csv").open(newline="") as handle:
        index = {row["personal_code"]: row for row in csv.DictReader(handle)}
    assert int(index["PNOEE-48001085718"]["serial"], 16) == identity.serial

    revocation = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=1)
    revoked = ok("revoke", "--ca", str(ca), "--personal-code", "PNOEE-48001085718",
                 "--at", revocation.isoformat())  # fmt: skip
    assert "Revoked serial" in revoked.output
    crl = ok("crl", "--ca", str(ca), "--out", str(workdir / "crl2.der"), "--days", "2", *passphrase)
    assert "CRL number 2: 1 revoked" in crl.output
    with pytest.raises(eid.CertificateRevoked):
        open_signed(ballot, DOMAINS["ballot"], _trust(ca, workdir / "crl2.der"), at=revocation)
    # A ballot cast before the revocation stays valid under the new CRL.
    before = revocation - dt.timedelta(seconds=1)
    assert open_signed(ballot, DOMAINS["ballot"], _trust(ca, workdir / "crl2.der"), at=before)[2]

    # Revoke by serial; an unknown serial and a second revocation are refused.
    jaak = index["PNOEE-38001085718"]["serial"]
    ok("revoke", "--ca", str(ca), "--serial", jaak, "--reason", "keyCompromise")
    assert "already revoked" in fails("revoke", "--ca", str(ca), "--serial", jaak)
    assert "was not issued" in fails("revoke", "--ca", str(ca), "--serial", "abc123")
    assert "no certificate was issued" in fails("revoke", "--ca", str(ca), "--personal-code", "X1")
    assert "exactly one" in fails("revoke", "--ca", str(ca))
    crl3 = ok("crl", "--ca", str(ca), "--out", str(workdir / "crl3.der"), *passphrase)
    assert "2 revoked" in crl3.output
    loaded = x509.load_der_x509_crl((workdir / "crl3.der").read_bytes())
    entry = loaded.get_revoked_certificate_by_serial_number(int(jaak, 16))
    assert entry is not None
    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason == x509.ReasonFlags.key_compromise


def test_issue_with_a_pin_file(workdir: Path) -> None:
    pins = workdir / "pins.csv"
    pins.write_text(
        "personal_code,pin\nPNOEE-38001085718,1234\nPNOEE-48001085718,98765\n"
        "PNOEE-39912310174,000000\n"
    )
    ok(
        "issue",
        "--ca", str(workdir / "ca"),
        "--voters", str(workdir / "voters.csv"),
        "--out", str(workdir / "eids"),
        "--pin-file", str(pins),
        "--passphrase-file", str(workdir / "ca.pass"),
    )  # fmt: skip
    assert not (workdir / "eids" / "pins.csv").exists()
    signer = open_eid(str(workdir / "eids" / "PNOEE-38001085718.p12"), "1234")
    assert signer.certificate.subject.rfc4514_string().startswith("2.5.4.5=PNOEE-38001085718")


def test_wrong_pin_on_an_e_id_file(workdir: Path) -> None:
    pins = workdir / "pins.csv"
    pins.write_text(
        "personal_code,pin\nPNOEE-38001085718,1234\nPNOEE-48001085718,98765\n"
        "PNOEE-39912310174,000000\n"
    )
    ok("issue", "--ca", str(workdir / "ca"), "--voters", str(workdir / "voters.csv"),
       "--out", str(workdir / "eids"), "--pin-file", str(pins),
       "--passphrase-file", str(workdir / "ca.pass"))  # fmt: skip
    with pytest.raises(eid.WrongPin, match="wrong PIN"):
        open_eid(str(workdir / "eids" / "PNOEE-38001085718.p12"), "4321")
    with pytest.raises(eid.MalformedKeyFile, match="not a PKCS#12"):
        open_eid(str(workdir / "eids" / "index.csv"), "1234")
    with pytest.raises(eid.MalformedKeyFile, match="not found"):
        open_eid(str(workdir / "eids" / "nobody.p12"), "1234")


@pytest.mark.parametrize(
    ("pins", "problem"),
    [
        ("personal_code,pin\nPNOEE-38001085718,1234\n", "no PIN for PNOEE-48001085718"),
        ("personal_code,pin\nPNOEE-38001085718,12a4\n", "4 to 12 digits"),
        ("code,pin\n", "expected the columns personal_code,pin"),
    ],
)
def test_bad_pin_files(workdir: Path, pins: str, problem: str) -> None:
    (workdir / "pins.csv").write_text(pins)
    output = fails("issue", "--ca", str(workdir / "ca"), "--voters", str(workdir / "voters.csv"),
                   "--out", str(workdir / "eids"), "--pin-file", str(workdir / "pins.csv"),
                   "--passphrase-file", str(workdir / "ca.pass"))  # fmt: skip
    assert problem in output
    assert not (workdir / "eids").exists()


def test_refusals_are_one_line_errors(workdir: Path) -> None:
    ca = str(workdir / "ca")
    passphrase = ("--passphrase-file", str(workdir / "ca.pass"))
    assert "already holds a CA" in fails("init", "--out", ca, *passphrase)
    (workdir / "wrong.pass").write_text("not the passphrase\n")
    assert "wrong passphrase" in fails(
        "crl", "--ca", ca, "--out", str(workdir / "c.der"), "--passphrase-file",
        str(workdir / "wrong.pass"),
    )  # fmt: skip
    assert "no such CA directory" in fails(
        "crl", "--ca", str(workdir / "nope"), "--out", str(workdir / "c.der"), *passphrase
    )
    (workdir / "bad.csv").write_text("personal_code,given_name\nX,Y\n")
    assert "missing column(s) surname, district" in fails(
        "issue", "--ca", ca, "--voters", str(workdir / "bad.csv"), "--out",
        str(workdir / "e"), *passphrase,
    )  # fmt: skip
    (workdir / "taken").mkdir()
    (workdir / "taken" / "file").write_text("x")
    assert "not empty" in fails(
        "issue", "--ca", ca, "--voters", str(workdir / "voters.csv"), "--out",
        str(workdir / "taken"), *passphrase,
    )  # fmt: skip
    assert "before the issuing CA" in fails(
        "issue", "--ca", ca, "--voters", str(workdir / "voters.csv"), "--out",
        str(workdir / "e"), "--valid-from", "2020-01-01T00:00:00+00:00", *passphrase,
    )  # fmt: skip
    assert "outlive the issuing CA" in fails(
        "issue", "--ca", ca, "--voters", str(workdir / "voters.csv"), "--out",
        str(workdir / "e"), "--days", "9999", *passphrase,
    )  # fmt: skip
    assert "--valid-from" in fails(
        "issue", "--ca", ca, "--voters", str(workdir / "voters.csv"), "--out",
        str(workdir / "e"), "--valid-from", "yesterday", *passphrase,
    )  # fmt: skip
    (workdir / "short.pass").write_text("short\n")
    assert "at least 8 characters" in fails(
        "init", "--out", str(workdir / "ca2"), "--passphrase-file", str(workdir / "short.pass")
    )


def test_passphrase_asked_when_no_file(tmp_path: Path, cheap_sealing: None) -> None:
    result = run("init", "--out", str(tmp_path / "ca"), input=f"{CA_PASS}\n{CA_PASS}\n")
    assert result.exit_code == 0, result.output
    ca = pki.open_ca(tmp_path / "ca")
    assert ca.issuing_signer(CA_PASS).certificate == ca.issuing_certificate


def test_issue_with_valid_from_and_days(workdir: Path) -> None:
    ok("issue", "--ca", str(workdir / "ca"), "--voters", str(workdir / "voters.csv"),
       "--out", str(workdir / "eids"), "--valid-from", "2031-01-01T00:00:00Z", "--days", "30",
       "--passphrase-file", str(workdir / "ca.pass"))  # fmt: skip
    pins = _pins(workdir / "eids" / "pins.csv")
    signer = open_eid(str(workdir / "eids" / "PNOEE-38001085718.p12"), pins["PNOEE-38001085718"])
    certificate = signer.certificate
    assert certificate.not_valid_before_utc == dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
    assert certificate.not_valid_after_utc == dt.datetime(2031, 1, 31, tzinfo=dt.UTC)


def test_officials(workdir: Path) -> None:
    (workdir / "org.pass").write_text("organiser secret\n")
    (workdir / "col.pass").write_text("collector secret\n")
    out = workdir / "officials"
    ok("officials", "--ca", str(workdir / "ca"), "--out", str(out),
       "--passphrase-file", str(workdir / "ca.pass"),
       "--organiser-passphrase-file", str(workdir / "org.pass"),
       "--collector-passphrase-file", str(workdir / "col.pass"))  # fmt: skip
    organiser = pki.load_official(out, "organiser", "organiser secret")
    collector = pki.load_signer_file(out / "collector.key", "collector secret")
    # The organiser's early callers name the key organiser.p12; the sealed key answers.
    assert pki.load_signer_file(out / "organiser.p12", "organiser secret").certificate == (
        organiser.certificate
    )
    manifest = sign_object(organiser, DOMAINS["manifest"], {"version": 1})
    pinned = x509.load_pem_x509_certificate((out / "organiser.pem").read_bytes())
    assert open_signed(manifest, DOMAINS["manifest"], expected_cert=pinned)[0] == {"version": 1}
    with pytest.raises(eid.WrongSigner):
        open_signed(manifest, DOMAINS["manifest"], expected_cert=collector.certificate)
    # The officials chain to the root; they carry no personal code, so no voter identity.
    root = (workdir / "ca" / "root-ca.pem").read_bytes()
    officials_trust = eid.load_trust_store(root, require_crl=False)
    with pytest.raises(eid.MalformedCertificate, match="serialNumber"):
        eid.check_certificate(collector.certificate, officials_trust, dt.datetime.now(dt.UTC))
    with pytest.raises(SealError, match="wrong passphrase"):
        pki.load_official(out, "organiser", "collector secret")
    # One call loads any signing key file: the collector's server reads its sealed key so.
    sealed = (out / "collector.key").read_bytes()
    assert eid.load_pkcs12_signer(sealed, "collector secret").certificate == (collector.certificate)
    ca_key = (workdir / "ca" / "root-ca.key").read_bytes()
    with pytest.raises(eid.MalformedKeyFile, match="not a signing key"):
        eid.load_pkcs12_signer(ca_key, CA_PASS)
    # the certificate beside the key must be the sealed one
    (out / "organiser.pem").write_bytes((out / "collector.pem").read_bytes())
    with pytest.raises(eid.MalformedKeyFile, match="another certificate"):
        pki.load_official(out, "organiser", "organiser secret")
    # the collector's sealed key does not open as the organiser's (purpose is bound)
    (out / "organiser.key").write_bytes((out / "collector.key").read_bytes())
    with pytest.raises(SealError, match="sealed for 'collector-signing-key'"):
        pki.load_official(out, "organiser", "collector secret")
    assert "already exists" in fails(
        "officials", "--ca", str(workdir / "ca"), "--out", str(out),
        "--passphrase-file", str(workdir / "ca.pass"),
        "--organiser-passphrase-file", str(workdir / "org.pass"),
        "--collector-passphrase-file", str(workdir / "col.pass"),
    )  # fmt: skip


def test_crl_is_signed_by_the_issuing_ca(workdir: Path) -> None:
    ok("crl", "--ca", str(workdir / "ca"), "--out", str(workdir / "crl.der"),
       "--passphrase-file", str(workdir / "ca.pass"))  # fmt: skip
    crl = x509.load_der_x509_crl((workdir / "crl.der").read_bytes())
    issuing = x509.load_pem_x509_certificate((workdir / "ca" / "id-card-ca.pem").read_bytes())
    assert crl.is_signature_valid(issuing.public_key())  # type: ignore[arg-type]
    assert crl.next_update_utc is not None
    assert crl.next_update_utc - crl.last_update_utc == dt.timedelta(days=7)
    assert crl.public_bytes(serialization.Encoding.DER) == (workdir / "crl.der").read_bytes()


def test_parallel_issuing_matches_each_voter(
    tmp_path: Path, cheap_sealing: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large batches are made in worker processes; each voter still gets their own e-ID."""
    monkeypatch.setattr(pki, "PARALLEL_FROM", 1)
    monkeypatch.setattr(pki, "BATCH", 2)
    ca = pki.open_ca(pki.init_ca(tmp_path / "ca", CA_PASS))
    voters = [
        Voter(f"PNOEE-3800108571{index}", f"Given{index}", f"Surname{index}", "d1")
        for index in range(5)
    ]
    pins = {voter.personal_code: f"{index:04d}" for index, voter in enumerate(voters)}
    seen = []
    report = pki.issue_eids(
        ca, CA_PASS, voters, tmp_path / "eids", pins=pins, workers=2, progress=seen.append
    )
    assert report.count == 5 and seen == [2, 4, 5]
    serials = set()
    for voter in voters:
        signer = open_eid(
            str(tmp_path / "eids" / f"{voter.personal_code}.p12"), pins[voter.personal_code]
        )
        identity = eid.check_certificate(
            signer.certificate,
            eid.TrustStore((ca.root_certificate,), (ca.issuing_certificate,), require_crl=False),
            dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1),
        )
        assert (identity.personal_code, identity.surname) == (voter.personal_code, voter.surname)
        serials.add(identity.serial)
    assert len(serials) == 5
    recorded = [record.personal_code for record in pki.issued_records(ca)]
    assert recorded == [voter.personal_code for voter in voters]


def test_the_benchmark_runs_the_real_ceremony() -> None:
    from bench.eid import bench_issue

    result = bench_issue(count=3, samples=2)
    assert result["issue_count"] == 3
    assert result["issue_cpu_s"] > 0 and result["open_signed_ms"] > 0


def test_pin_is_digits_only_to_the_end() -> None:
    assert pki.check_pin("12345") == "12345"
    for bad in ("123", "1234567890123", "1234\n", "12a4", "١٢٣٤"):
        with pytest.raises(pki.PkiError, match="4 to 12 digits"):
            pki.check_pin(bad)


def test_issue_for_an_election_refuses_codes_that_do_not_fit_its_scheme(workdir: Path) -> None:
    """With --election the CA knows the personal-code scheme: a code that does not fit is
    refused with its line and nothing is issued; without it the CA issues any code."""
    from formats.personal_codes import THAI_CITIZEN_ID, thai_check_digit

    good = [f + str(thai_check_digit(f)) for f in ("310050000001", "310050000002")]
    bad = good[1][:12] + str((int(good[1][12]) + 1) % 10)
    header = "personal_code,given_name,surname,district\n"
    (workdir / "thai.csv").write_text(header + "".join(f"{c},Somchai,Jaidee,bkk\n" for c in good))
    (workdir / "bad.csv").write_text(header + f"{good[0]},A,B,bkk\n{bad},C,D,bkk\n")
    (workdir / "election.toml").write_text(
        '[election]\nid = "thai-pki"\nname = "Thai"\nstart = 2099-01-01T08:00:00+07:00\n'
        'end = 2099-01-02T08:00:00+07:00\nmax_voters = 10\nkey_bits = 512\ntrustees = 1\n'
        f'threshold = 1\npersonal_code_scheme = "{THAI_CITIZEN_ID}"\n'
        '[trust]\neid_ca_certificates = ["ca/root-ca.pem", "ca/id-card-ca.pem"]\n'
        '[[districts]]\nid = "bkk"\nname = "Bangkok"\n[[districts.contests]]\nid = "c"\n'
        'name = "C"\ncandidates = [{ number = 1, name = "A" }]\n'
    )
    init = CliRunner().invoke(main, [
        "ceremony", "init", "--definition", str(workdir / "election.toml"),
        "--voters", str(workdir / "thai.csv"), "--out", str(workdir / "ELECTION"),
    ])  # fmt: skip
    assert init.exit_code == 0, init.output
    ca, passphrase = str(workdir / "ca"), ("--passphrase-file", str(workdir / "ca.pass"))
    election = ("--election", str(workdir / "ELECTION"))
    output = fails("issue", "--ca", ca, "--voters", str(workdir / "bad.csv"), "--out",
                   str(workdir / "e1"), *election, *passphrase)  # fmt: skip
    assert f"{workdir / 'bad.csv'}:3: personal_code: the check digit does not match" in output
    assert not (workdir / "e1").exists()
    output = fails("issue", "--ca", ca, "--voters", str(workdir / "voters.csv"), "--out",
                   str(workdir / "e2"), *election, *passphrase)  # fmt: skip
    assert "voters.csv:2: personal_code: 'PNOEE-38001085718' is not 13 digits" in output
    ok("issue", "--ca", ca, "--voters", str(workdir / "thai.csv"), "--out", str(workdir / "e3"),
       *election, *passphrase)  # fmt: skip
    ok("issue", "--ca", ca, "--voters", str(workdir / "bad.csv"), "--out", str(workdir / "e4"),
       *passphrase)  # fmt: skip: the CA that does not know the election issues any code
    with pytest.raises(pki.PkiError, match="does not fit the election's personal-code scheme"):
        pki.issue_eids(
            pki.open_ca(workdir / "ca"), CA_PASS, [Voter(bad, "C", "D", "bkk")],
            workdir / "e5", scheme=THAI_CITIZEN_ID,
        )  # fmt: skip
