"""Sealed files: round trips, wrong passphrases, any modified byte, malformed containers."""

from __future__ import annotations

import json
import os
import stat
import unicodedata
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from canonical.encoding import FormatError, b64url, canonical_bytes, parse_b64url, parse_canonical
from crypto.errors import InvalidInput, SealError
from crypto.sealing import (
    DEFAULT_SCRYPT_N,
    read_sealed,
    seal,
    sealed_purpose,
    unseal,
    write_sealed,
)
from crypto.threshold import KeyShare, deal

CHEAP = 16  # scrypt n for tests; the default is checked once below
PURPOSE = "trustee-key-share"

passphrases = st.text(min_size=1, max_size=40)


@pytest.fixture(scope="module")
def sealed() -> tuple[bytes, bytes]:
    plaintext = os.urandom(200)
    return plaintext, seal(plaintext, "correct horse", PURPOSE, cost=CHEAP)


@given(st.binary(max_size=2000), passphrases, st.sampled_from([PURPOSE, "eid-key", "x"]))
def test_round_trip(plaintext: bytes, passphrase: str, purpose: str) -> None:
    container = seal(plaintext, passphrase, purpose, cost=CHEAP)
    assert unseal(container, passphrase, purpose) == plaintext
    assert sealed_purpose(container) == purpose
    assert canonical_bytes(parse_canonical(container)) == container


def test_sealing_twice_differs() -> None:
    assert seal(b"same", "pw", PURPOSE, cost=CHEAP) != seal(b"same", "pw", PURPOSE, cost=CHEAP)


@given(passphrases, passphrases)
def test_wrong_passphrase(right: str, wrong: str) -> None:
    assume(unicodedata.normalize("NFC", wrong) != unicodedata.normalize("NFC", right))
    container = seal(b"secret share", right, PURPOSE, cost=CHEAP)
    with pytest.raises(SealError, match="wrong passphrase or modified file"):
        unseal(container, wrong, PURPOSE)


def test_passphrase_is_unicode_normalised() -> None:
    container = seal(b"x", "s\u00e4kr\u00e4t", PURPOSE, cost=CHEAP)  # composed a-umlaut
    assert unseal(container, "sa\u0308kra\u0308t", PURPOSE) == b"x"  # decomposed


@settings(max_examples=150)
@given(st.data())
def test_any_modified_byte_is_refused(sealed: tuple[bytes, bytes], data: st.DataObject) -> None:
    _, container = sealed
    position = data.draw(st.integers(0, len(container) - 1), label="position")
    new_byte = data.draw(st.integers(0, 255).filter(lambda b: b != container[position]))
    modified = container[:position] + bytes([new_byte]) + container[position + 1 :]
    with pytest.raises((SealError, FormatError)):
        unseal(modified, "correct horse", PURPOSE)


def test_truncated_or_extended_containers_are_refused(sealed: tuple[bytes, bytes]) -> None:
    _, container = sealed
    for modified in (container[:-1], container + b"\n", b" " + container, container[:10], b""):
        with pytest.raises((SealError, FormatError)):
            unseal(modified, "correct horse", PURPOSE)


def reencoded(container: bytes, **changes: object) -> bytes:
    """The container with header fields changed, still canonical (so only the AEAD can tell)."""
    obj = parse_canonical(container)
    for name, value in changes.items():
        if name.startswith("kdf_"):
            obj["kdf"][name[4:]] = value
        else:
            obj[name] = value
    return canonical_bytes(obj)


def test_every_header_field_is_authenticated(sealed: tuple[bytes, bytes]) -> None:
    _, container = sealed
    obj = parse_canonical(container)
    ciphertext = bytearray(parse_b64url(obj["ciphertext"], "ciphertext"))
    ciphertext[0] ^= 1
    for changes in (
        {"nonce": b64url(bytes(12))},
        {"kdf_salt": b64url(bytes(16))},
        {"kdf_n": 32},
        {"kdf_r": 4},
        {"kdf_p": 2},
        {"ciphertext": b64url(bytes(ciphertext))},
    ):
        with pytest.raises(SealError, match="wrong passphrase or modified file"):
            unseal(reencoded(container, **changes), "correct horse", PURPOSE)


def test_wrong_purpose_is_refused(sealed: tuple[bytes, bytes]) -> None:
    _, container = sealed
    with pytest.raises(SealError, match="sealed for 'trustee-key-share', not for 'eid-key'"):
        unseal(container, "correct horse", "eid-key")
    # relabelling the purpose in the file does not help: it is authenticated
    relabelled = reencoded(container, purpose="eid-key")
    with pytest.raises(SealError, match="wrong passphrase or modified file"):
        unseal(relabelled, "correct horse", "eid-key")


def test_malformed_containers_name_the_field(sealed: tuple[bytes, bytes]) -> None:
    _, container = sealed
    good = parse_canonical(container)
    cases: list[tuple[bytes, str]] = [
        (b"not json", "sealed file"),
        (b"[1,2]", "sealed file"),
        (json.dumps(good, indent=1).encode(), "sealed file"),  # not canonical
        (reencoded(container, version=2), "sealed file.version"),
        (reencoded(container, aead="chacha20-poly1305"), "sealed file.aead"),
        (reencoded(container, kdf_name="pbkdf2"), "sealed file.kdf.name"),
        (reencoded(container, kdf_n=1000), "sealed file.kdf.n"),
        (reencoded(container, kdf_n=2**30), "sealed file.kdf.n"),
        (reencoded(container, kdf_n=2**20, kdf_r=32), "sealed file.kdf"),
        (reencoded(container, kdf_r=0), "sealed file.kdf.r"),
        (reencoded(container, kdf_p=99), "sealed file.kdf.p"),
        (reencoded(container, kdf_salt="!!"), "sealed file.kdf.salt"),
        (reencoded(container, kdf_salt=b64url(bytes(4))), "sealed file.kdf.salt"),
        (reencoded(container, nonce=b64url(bytes(8))), "sealed file.nonce"),
        (reencoded(container, ciphertext=b64url(bytes(3))), "sealed file.ciphertext"),
        (reencoded(container, extra="x"), "sealed file.extra"),
    ]
    for name in ("purpose", "kdf", "nonce", "ciphertext", "aead", "version"):
        missing = dict(good)
        del missing[name]
        cases.append((canonical_bytes(missing), f"sealed file.{name}"))
    for data, field in cases:
        with pytest.raises(FormatError) as caught:
            unseal(data, "correct horse", PURPOSE)
        assert caught.value.field == field, data[:80]


def test_seal_refuses_bad_arguments() -> None:
    with pytest.raises(InvalidInput, match="passphrase"):
        seal(b"x", "", PURPOSE, cost=CHEAP)
    with pytest.raises(InvalidInput, match="purpose"):
        seal(b"x", "pw", "", cost=CHEAP)
    with pytest.raises(FormatError, match="cost"):
        seal(b"x", "pw", PURPOSE, cost=1000)
    with pytest.raises(InvalidInput, match="plaintext"):
        seal("text", "pw", PURPOSE, cost=CHEAP)  # type: ignore[arg-type]


def test_default_cost_is_strong() -> None:
    container = seal(b"x", "pw", PURPOSE)
    kdf = parse_canonical(container)["kdf"]
    assert kdf["n"] == DEFAULT_SCRYPT_N >= 2**15 and kdf["r"] == 8 and kdf["p"] == 1
    assert unseal(container, "pw", PURPOSE) == b"x"


def test_sealed_file_on_disk(tmp_path: Path) -> None:
    plaintext = b"trustee secret " + os.urandom(64)
    path = tmp_path / "trustee-1.sealed"
    write_sealed(path, plaintext, "pw", PURPOSE, cost=CHEAP)
    on_disk = path.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert plaintext not in on_disk and b"trustee secret" not in on_disk
    assert b64url(plaintext).encode()[:20] not in on_disk
    assert os.listdir(tmp_path) == ["trustee-1.sealed"]  # no temporary file left behind
    assert read_sealed(path, "pw", PURPOSE) == plaintext
    with pytest.raises(SealError, match=r"trustee-1\.sealed: wrong passphrase"):
        read_sealed(path, "wrong", PURPOSE)
    with pytest.raises(FormatError, match="not found"):
        read_sealed(tmp_path / "missing", "pw", PURPOSE)
    path.write_bytes(on_disk[:-5])
    with pytest.raises(FormatError, match=r"trustee-1\.sealed"):
        read_sealed(path, "pw", PURPOSE)


def test_key_share_sealed_round_trip(safe_primes: dict, tmp_path: Path) -> None:
    p, q = safe_primes[512]
    _, shares = deal(p, q, 3, 2)
    path = tmp_path / "share-2.sealed"
    write_sealed(path, canonical_bytes(shares[1].to_dict()), "trustee two", PURPOSE, cost=CHEAP)
    assert format(shares[1].secret, "x").encode() not in path.read_bytes()
    opened = KeyShare.from_dict(parse_canonical(read_sealed(path, "trustee two", PURPOSE)))
    assert opened == shares[1] and opened.secret == shares[1].secret
