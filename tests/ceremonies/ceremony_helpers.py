"""Helpers for the officials' ceremony tests: a test e-ID CA certificate, an organiser key, an
election definition and a voter list on disk, and a helper to run `ivote ceremony ...`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner, Result
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from support.election import FIXTURE_PRIMES, SCRYPT_COST, trustee_passphrase

from ivote.cli import main

ORGANISER_PASSPHRASE = "organiser passphrase"

DEFINITION = """\
[election]
id = "test-2099"
name = "Test election"
start = 2099-03-01T09:00:00+02:00
end = 2099-03-06T20:00:00+02:00
max_voters = 1000
key_bits = 512
trustees = 3
threshold = 2

[trust]
eid_ca_certificates = ["ca.pem"]

[policy]
vote_check_window_minutes = 30
max_checks = 3
publish_observer_bundle = false

[[districts]]
id = "north"
name = "North"

[[districts.contests]]
id = "council"
name = "City council"

[[districts.contests.candidates]]
number = 101
name = "Mari Maasikas"
party = "Green"

[[districts.contests.candidates]]
number = 102
name = "Jaan Tamm"
party = "Blue"

[[districts]]
id = "south"
name = "South"

[[districts.contests]]
id = "council"
name = "City council"
candidates = [
  { number = 201, name = "Kati Karu", party = "Green" },
  { number = 202, name = "Peeter Puu" },
]
"""

VOTERS = """\
personal_code,given_name,surname,district
38001010001,Mari,Maasikas,north
38001010002,Jaan,Tamm,north
48001010003,Kati,Karu,south
"""


def make_ca(common_name: str = "Test ID-card CA", ca: bool = True) -> bytes:
    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(key, hashes.SHA384())
    )
    return certificate.public_bytes(Encoding.PEM)


@dataclass
class Workspace:
    root: Path
    definition: Path
    voters: Path
    election: Path
    organiser: Path
    organiser_passphrase: Path
    runner: CliRunner
    keygen_output: str = ""

    def write_definition(self, text: str) -> Path:
        self.definition.write_text(text)
        return self.definition

    def write_voters(self, text: str) -> Path:
        self.voters.write_text(text)
        return self.voters

    def run(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(main, ["ceremony", *args], input=input, catch_exceptions=False)

    def init(self) -> Result:
        return self.run(
            "init",
            "--definition",
            str(self.definition),
            "--voters",
            str(self.voters),
            "--out",
            str(self.election),
        )

    def passphrase_files(self, count: int) -> list[str]:
        args = []
        for index in range(1, count + 1):
            path = self.root / f"trustee-{index}.pass"
            path.write_text(trustee_passphrase(index) + "\n")
            args += ["--passphrase-file", str(path)]
        return args

    def trustee_params(self, trustee: int) -> Result:
        return self.run(
            "trustee-params", "--election", str(self.election), "--trustee", str(trustee)
        )

    def all_trustee_params(self, trustees: int = 3) -> None:
        """The parameters step of each trustee 1..trustees that has no file yet."""
        for trustee in range(1, trustees + 1):
            if not (self.election / "trustee-parameters" / f"trustee-{trustee}.json").exists():
                made = self.trustee_params(trustee)
                assert made.exit_code == 0, made.output

    def keygen(
        self, *extra: str, trustees: int = 3, primes: bool = True, params: bool = True
    ) -> Result:
        """keygen, after the parameters step of each trustee without a file (unless not
        `params`)."""
        if params and (self.election / "manifest.json").exists():
            self.all_trustee_params(trustees)
        args = [
            "keygen",
            "--election",
            str(self.election),
            "--organiser-key",
            str(self.organiser),
            "--organiser-passphrase-file",
            str(self.organiser_passphrase),
            "--scrypt-cost",
            str(SCRYPT_COST),
            *self.passphrase_files(trustees),
        ]
        if primes:
            args += ["--test-primes", str(FIXTURE_PRIMES)]
        return self.run(*args, *extra)


def line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    """1-based line number of the n-th line containing `fragment`."""
    seen = 0
    for number, line in enumerate(text.splitlines(), 1):
        if fragment in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{fragment!r} not found")
