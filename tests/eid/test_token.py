"""e-IDs on a PKCS#11 token (SoftHSM2), as on a smart card: personalise with
`ivote ceremony pki to-token`, sign through the voter app's `open_eid("pkcs11:...")`.

SoftHSM2 runs with a temporary configuration and token directory. Without SoftHSM2 these tests
skip locally; in CI (CI=true) they fail, because `make test` installs it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from eid_helpers import ALICE, BOB, NOW, Pki

from canonical.encoding import DOMAINS
from ceremonies import pki
from crypto import eid
from crypto.eid import DEFAULT_PKCS11_MODULE
from formats.signed import open_signed, sign_object
from ivote.cli import main
from voter_app.eid import Pkcs11Signer, open_eid, parse_pkcs11_uri

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
MODULE = os.environ.get("IVOTE_PKCS11_MODULE", DEFAULT_PKCS11_MODULE)
PIN, SO_PIN = "24680", "11223344"


@pytest.fixture(scope="module")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private SoftHSM2 configuration (SOFTHSM2_CONF) with an empty token directory."""
    missing = [
        what
        for what, present in (
            ("softhsm2-util", shutil.which("softhsm2-util") is not None),
            (MODULE, Path(MODULE).exists()),
        )
        if not present
    ]
    if missing:
        message = f"SoftHSM2 is not installed ({', '.join(missing)} missing; apt install softhsm2)"
        if IN_CI:
            pytest.fail(f"{message}: token tests must run in CI")
        pytest.skip(message)
    base = tmp_path_factory.mktemp("softhsm")
    (base / "tokens").mkdir()
    config = base / "softhsm2.conf"
    config.write_text(
        f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOFTHSM2_CONF", str(config))
        patch.delenv("IVOTE_PKCS11_MODULE", raising=False)
        yield base
    import pkcs11

    pkcs11.lib(MODULE).reinitialize()  # forget this configuration and its tokens


@pytest.fixture(scope="module")
def alice_on_token(softhsm: Path, test_pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Alice's e-ID file, put on token "alice" with the CLI, as a demo would; returns the URI."""
    base = tmp_path_factory.mktemp("alice")
    (base / "alice.p12").write_bytes(eid.pkcs12_bytes(test_pki.alice, PIN, 2048))
    (base / "pins.csv").write_text(f"personal_code,pin\nalice,{PIN}\n")
    (base / "so.pin").write_text(SO_PIN + "\n")
    result = CliRunner().invoke(
        main,
        ["ceremony", "pki", "to-token", "--eid", str(base / "alice.p12"),
         "--pin-file", str(base / "pins.csv"), "--token", "alice", "--init-token",
         "--so-pin-file", str(base / "so.pin")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "pkcs11:token=alice;object=ivote%20e-ID" in result.output
    return "pkcs11:token=alice;object=ivote%20e-ID"


def test_sign_a_ballot_on_the_token(alice_on_token: str, test_pki: Pki) -> None:
    signer = open_eid(alice_on_token, PIN)
    try:
        assert isinstance(signer, Pkcs11Signer)
        assert signer.certificate == test_pki.alice.certificate
        ballot = sign_object(signer, DOMAINS["ballot"], {"version": 1, "choice": "ab"})
        _, _, identity = open_signed(ballot, DOMAINS["ballot"], test_pki.trust(), at=NOW)
        assert identity is not None and identity.personal_code == ALICE.personal_code
        # the token's signature is the same scheme as a file key's
        eid.verify(
            test_pki.alice.certificate,
            DOMAINS["ballot"],
            {"n": 1},
            eid.sign(signer, DOMAINS["ballot"], {"n": 1}),
        )
    finally:
        signer.close()  # type: ignore[attr-defined]


def test_the_key_cannot_be_read_off_the_token(alice_on_token: str) -> None:
    from pkcs11 import Attribute
    from pkcs11.exceptions import AttributeSensitive

    with open_eid(alice_on_token, PIN) as signer:  # type: ignore[attr-defined]
        key = signer._key
        assert key[Attribute.SENSITIVE] and not key[Attribute.EXTRACTABLE]
        with pytest.raises(AttributeSensitive):
            key[Attribute.VALUE]


def test_wrong_pin_on_the_token(alice_on_token: str) -> None:
    with pytest.raises(eid.WrongPin, match="token alice: wrong PIN"):
        open_eid(alice_on_token, "13579")
    # and the right PIN still works afterwards (no lock-out after one mistake)
    open_eid(alice_on_token, PIN).close()  # type: ignore[attr-defined]


def test_unknown_token_and_object(alice_on_token: str) -> None:
    with pytest.raises(eid.TokenError, match="no such token"):
        open_eid("pkcs11:token=nobody", PIN)
    with pytest.raises(eid.TokenError, match="no EC private key"):
        open_eid("pkcs11:token=alice;object=other", PIN)
    with pytest.raises(eid.TokenError, match="not found"):
        open_eid(alice_on_token, PIN, module="/nonexistent/libpkcs11.so")


def test_second_voter_via_the_library(softhsm: Path, alice_on_token: str, test_pki: Pki) -> None:
    """Several tokens side by side; each opens its own voter's key."""
    pki.init_softhsm_token("bob", "97531", SO_PIN)
    uri = pki.import_to_token(MODULE, "bob", "97531", test_pki.bob, object_label="Bob's key")
    assert uri == "pkcs11:token=bob;object=Bob%27s%20key"
    with open_eid(uri, "97531") as bob, open_eid(alice_on_token, PIN) as alice:  # type: ignore[attr-defined]
        assert bob.certificate.subject != alice.certificate.subject
        doc = sign_object(bob, DOMAINS["ballot"], {"version": 1})
        assert open_signed(doc, DOMAINS["ballot"], test_pki.trust(), at=NOW)[2].personal_code == (  # type: ignore[union-attr]
            BOB.personal_code
        )
    with pytest.raises(eid.WrongPin):
        pki.import_to_token(MODULE, "bob", "00000", test_pki.bob)


def test_to_token_refusals_are_one_line(softhsm: Path, tmp_path: Path, test_pki: Pki) -> None:
    (tmp_path / "carol.p12").write_bytes(eid.pkcs12_bytes(test_pki.carol, PIN, 2048))
    (tmp_path / "pin").write_text(PIN + "\n")
    (tmp_path / "wrong").write_text("99999\n")
    runner = CliRunner()
    wrong = runner.invoke(
        main,
        ["ceremony", "pki", "to-token", "--eid", str(tmp_path / "carol.p12"),
         "--pin-file", str(tmp_path / "wrong"), "--token", "carol"],
    )  # fmt: skip
    assert wrong.exit_code == 1 and "wrong PIN" in wrong.output and "Traceback" not in wrong.output
    absent = runner.invoke(
        main,
        ["ceremony", "pki", "to-token", "--eid", str(tmp_path / "carol.p12"),
         "--pin-file", str(tmp_path / "pin"), "--token", "carol"],
    )  # fmt: skip
    assert absent.exit_code == 1 and "no PKCS#11 token labelled 'carol'" in absent.output


# -- URIs (no token needed) ----------------------------------------------------------------


def test_parse_uri() -> None:
    uri = parse_pkcs11_uri(
        "pkcs11:token=My%20Card;object=Signing%20key;id=%01%02;type=private"
        "?module-path=/usr/lib/x.so"
    )
    assert (uri.token, uri.object, uri.id, uri.module_path) == (
        "My Card",
        "Signing key",
        b"\x01\x02",
        "/usr/lib/x.so",
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("pkcs11:object=x", "needs token="),
        ("pkcs11:token=a;colour=red", "unknown attribute"),
        ("pkcs11:token=a;type=cert", "type must be private"),
        ("pkcs11:token=a?pin-value=1234", "PIN does not belong"),
        ("pkcs11:token", "has no value"),
        ("file:token=a", "must start with pkcs11:"),
    ],
)
def test_bad_uris(text: str, problem: str) -> None:
    with pytest.raises(eid.TokenError, match=problem):
        parse_pkcs11_uri(text)
