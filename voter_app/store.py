"""The voter's local data: sealed ballot records and the pinned election fingerprints.

Layout of the data directory (default: $XDG_DATA_HOME/ivote, else ~/.local/share/ivote):
- ballots/<ballot hash hex>.sealed: one record per ballot, sealed under the e-ID PIN
  (crypto.sealing, purpose "ivote-voter-ballot"): written before the ballot is sent (status
  "sent") and again with the receipt (status "received"), so a ballot whose answer was lost is
  never forgotten.
- pins.json: per collector URL, the manifest fingerprint and organiser certificate the voter
  confirmed, so later runs notice a different election or signer (trust on first use unless
  --fingerprint is given).
- verified-keys.json: per manifest fingerprint, the hash of the key-proofs document this app
  checked and found to prove the election key well formed, so that the check (seconds at 3072
  bits) runs once per election, not before every ballot.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from canonical.encoding import (
    FORMAT_VERSION,
    FormatError,
    canonical_bytes,
    check_version,
    parse_canonical,
    require,
)
from canonical.files import read_json_file, write_canonical_json
from crypto.sealing import DEFAULT_SCRYPT_N, read_sealed, write_sealed

BALLOT_PURPOSE = "ivote-voter-ballot"
RECORD_KIND = "ivote-voter-ballot-record"
# Lowered by tests (IVOTE_SEAL_COST) so that sealing does not dominate their run time.
SEAL_COST_ENV = "IVOTE_SEAL_COST"


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "ivote"


def _seal_cost() -> int:
    value = os.environ.get(SEAL_COST_ENV)
    return int(value) if value else DEFAULT_SCRYPT_N


@dataclass(frozen=True)
class Pin:
    fingerprint: str
    organiser_certificate_sha256: str


class VoterStore:
    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root else default_data_dir()

    @property
    def ballots_dir(self) -> Path:
        return self.root / "ballots"

    def ballot_path(self, ballot_hash: bytes) -> Path:
        return self.ballots_dir / f"{ballot_hash.hex()}.sealed"

    # --- ballot records -----------------------------------------------------------------------
    def save_record(self, ballot_hash: bytes, record: dict[str, Any], pin: str) -> Path:
        """Seal a ballot record under the PIN, atomically, readable by the owner only."""
        body = {"version": FORMAT_VERSION, "kind": RECORD_KIND, **record}
        path = self.ballot_path(ballot_hash)
        self.ballots_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_sealed(path, canonical_bytes(body), pin, BALLOT_PURPOSE, cost=_seal_cost())
        return path

    def load_record(self, path: str | os.PathLike[str], pin: str) -> dict[str, Any]:
        record = parse_canonical(read_sealed(path, pin, BALLOT_PURPOSE), str(path))
        check_version(record, str(path))
        if require(record, "kind", str, str(path)) != RECORD_KIND:
            raise FormatError(f"{path}.kind", f"not a {RECORD_KIND}")
        return record

    def record_paths(self) -> list[Path]:
        if not self.ballots_dir.is_dir():
            return []
        return sorted(self.ballots_dir.glob("*.sealed"), key=lambda p: p.stat().st_mtime)

    # --- pinned elections ---------------------------------------------------------------------
    @property
    def pins_path(self) -> Path:
        return self.root / "pins.json"

    def _pins(self) -> dict[str, Any]:
        if not self.pins_path.exists():
            return {"version": FORMAT_VERSION, "collectors": {}}
        pins = read_json_file(self.pins_path, str(self.pins_path))
        check_version(pins, str(self.pins_path))
        require(pins, "collectors", dict, str(self.pins_path))
        return pins

    def pin_for(self, collector_url: str) -> Pin | None:
        entry = self._pins()["collectors"].get(collector_url)
        if not isinstance(entry, dict):
            return None
        where = f"{self.pins_path}.collectors"
        return Pin(
            require(entry, "fingerprint", str, where),
            require(entry, "organiser_certificate_sha256", str, where),
        )

    def save_pin(self, collector_url: str, pin: Pin) -> None:
        pins = self._pins()
        pins["collectors"][collector_url] = {
            "fingerprint": pin.fingerprint,
            "organiser_certificate_sha256": pin.organiser_certificate_sha256,
        }
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_canonical_json(self.pins_path, pins, mode=0o600)

    # --- election keys proven well formed -----------------------------------------------------
    @property
    def verified_keys_path(self) -> Path:
        return self.root / "verified-keys.json"

    def _verified_keys(self) -> dict[str, Any]:
        if not self.verified_keys_path.exists():
            return {"version": FORMAT_VERSION, "elections": {}}
        where = str(self.verified_keys_path)
        document = read_json_file(self.verified_keys_path, where)
        check_version(document, where)
        require(document, "elections", dict, where)
        return document

    def verified_key_proofs(self, fingerprint: str) -> str | None:
        """The key-proofs hash (base64url) checked for the election of this manifest
        fingerprint (hex), or None when none was."""
        entry = self._verified_keys()["elections"].get(fingerprint)
        return entry if isinstance(entry, str) else None

    def remember_key_proofs(self, fingerprint: str, key_proofs: str) -> None:
        """The key-proofs document of hash `key_proofs` proved the key of the manifest with
        this fingerprint well formed (the fingerprint binds the key and that hash)."""
        document = self._verified_keys()
        document["elections"][fingerprint] = key_proofs
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_canonical_json(self.verified_keys_path, document, mode=0o600)
