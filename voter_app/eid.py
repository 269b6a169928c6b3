"""Opening a voter's e-ID: a PKCS#12 file, or a key on a PKCS#11 token (a smart card; SoftHSM2
in tests and demos).

    open_eid("voter.p12", pin)                                   -> crypto.eid.KeySigner
    open_eid("pkcs11:token=voter;object=ivote%20e-ID", pin)      -> Pkcs11Signer

Both satisfy crypto.eid.Signer: `.certificate` and `.sign(data)` (DER ECDSA over SHA-384).
The PKCS#11 module comes from the `module` argument, else the URI's module-path attribute,
else $IVOTE_PKCS11_MODULE, else Debian's SoftHSM2 (crypto.eid.DEFAULT_PKCS11_MODULE).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from crypto.eid import (
    DEFAULT_PKCS11_MODULE,
    PKCS11_MODULE_ENV,
    KeySigner,
    MalformedCertificate,
    MalformedKeyFile,
    Signer,
    TokenError,
    WrongPin,
    load_pkcs12_signer,
)

# RFC 7512 path attributes we use; others (manufacturer, model, library-*) are accepted.
_KNOWN_PATH = {"token", "object", "id", "serial", "type", "manufacturer", "model"}


@dataclass(frozen=True)
class Pkcs11Uri:
    token: str | None = None
    object: str | None = None
    id: bytes | None = None
    serial: str | None = None
    module_path: str | None = None


def parse_pkcs11_uri(uri: str) -> Pkcs11Uri:
    """RFC 7512 `pkcs11:token=...;object=...;id=%01?module-path=...` (percent-encoded)."""
    if not uri.startswith("pkcs11:"):
        raise TokenError("pkcs11 URI", "must start with pkcs11:")
    path, _, query = uri[len("pkcs11:") :].partition("?")
    values: dict[str, Any] = {}
    for part in filter(None, path.split(";")):
        name, equals, value = part.partition("=")
        if not equals:
            raise TokenError("pkcs11 URI", f"attribute {name!r} has no value")
        if name.startswith("library-") or name in _KNOWN_PATH:
            values[name] = value
        else:
            raise TokenError("pkcs11 URI", f"unknown attribute {name!r}")
    if values.get("type", "private") != "private":
        raise TokenError("pkcs11 URI", "type must be private (the signing key)")
    module_path = None
    for part in filter(None, query.split("&")):
        name, _, value = part.partition("=")
        if name == "module-path":
            module_path = unquote(value)
        elif name == "pin-value":
            raise TokenError("pkcs11 URI", "a PIN does not belong in the URI")
    if not values.get("token"):
        raise TokenError("pkcs11 URI", "needs token=<label>")
    return Pkcs11Uri(
        token=unquote(values["token"]),
        object=unquote(values["object"]) if "object" in values else None,
        id=unquote(values["id"], encoding="latin-1").encode("latin-1") if "id" in values else None,
        serial=unquote(values["serial"]) if "serial" in values else None,
        module_path=module_path,
    )


def pkcs11_module(option: str | None = None, uri: Pkcs11Uri | None = None) -> str:
    return (
        option
        or (uri.module_path if uri else None)
        or os.environ.get(PKCS11_MODULE_ENV)
        or DEFAULT_PKCS11_MODULE
    )


def open_eid(spec: str, pin: str, module: str | None = None) -> Signer:
    """The voter's e-ID from a PKCS#12 file path or a pkcs11: URI, opened with `pin`.
    Raises crypto.eid.WrongPin, MalformedKeyFile or TokenError with a clear message."""
    if spec.startswith("pkcs11:"):
        return open_token(spec, pin, module)
    path = Path(spec)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise MalformedKeyFile(str(path), "e-ID file not found") from exc
    except OSError as exc:
        raise MalformedKeyFile(str(path), f"cannot read the e-ID file ({exc.strerror})") from exc
    return load_pkcs12_signer(data, pin, str(path))


class Pkcs11Signer:
    """Signs on the token: the private key never leaves it. SHA-384 is computed here and the
    token signs the digest with CKM_ECDSA (the mechanism every card supports)."""

    def __init__(self, session: Any, key: Any, certificate: x509.Certificate, where: str) -> None:
        self._session = session
        self._key = key
        self._certificate = certificate
        self._where = where

    @property
    def certificate(self) -> x509.Certificate:
        return self._certificate

    def sign(self, data: bytes) -> bytes:
        from pkcs11 import Mechanism
        from pkcs11.exceptions import PKCS11Error

        digest = hashlib.sha384(data).digest()
        try:
            raw = self._key.sign(digest, mechanism=Mechanism.ECDSA)
        except PKCS11Error as exc:
            raise TokenError(self._where, f"signing failed ({type(exc).__name__})") from exc
        half = len(raw) // 2
        return encode_dss_signature(
            int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
        )

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Pkcs11Signer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_token(uri_text: str, pin: str, module: str | None = None) -> Pkcs11Signer:
    import pkcs11
    from pkcs11 import KeyType, ObjectClass
    from pkcs11.exceptions import (
        MultipleObjectsReturned,
        MultipleTokensReturned,
        NoSuchKey,
        NoSuchToken,
        PinIncorrect,
        PinLenRange,
        PinLocked,
        PKCS11Error,
    )

    uri = parse_pkcs11_uri(uri_text)
    module_path = pkcs11_module(module, uri)
    where = f"token {uri.token}"
    if not Path(module_path).exists():
        raise TokenError(where, f"PKCS#11 module {module_path} not found")
    try:
        library = pkcs11.lib(module_path)
    except (RuntimeError, OSError, PKCS11Error) as exc:
        raise TokenError(where, f"cannot load the PKCS#11 module {module_path}: {exc}") from exc
    lookup: dict[str, Any] = {"token_label": uri.token}
    if uri.serial:
        lookup["token_serial"] = uri.serial.encode()
    try:
        try:
            token = library.get_token(**lookup)
        except NoSuchToken:
            library.reinitialize()  # a token created since the module was loaded
            token = library.get_token(**lookup)
    except NoSuchToken as exc:
        raise TokenError(where, f"no such token (module {module_path})") from exc
    except MultipleTokensReturned as exc:
        raise TokenError(where, "several tokens match; add serial= to the URI") from exc
    try:
        session = token.open(user_pin=pin)
    except (PinIncorrect, PinLenRange) as exc:
        raise WrongPin(where, "wrong PIN") from exc
    except PinLocked as exc:
        raise TokenError(where, "PIN locked (too many wrong PINs)") from exc
    except PKCS11Error as exc:
        raise TokenError(where, f"cannot log in ({type(exc).__name__})") from exc
    try:
        search: dict[str, Any] = {"object_class": ObjectClass.PRIVATE_KEY, "key_type": KeyType.EC}
        if uri.object is not None:
            search["label"] = uri.object
        if uri.id is not None:
            search["id"] = uri.id
        try:
            key = session.get_key(**search)
        except NoSuchKey as exc:
            raise TokenError(where, f"no EC private key {uri.object or ''} on the token") from exc
        except MultipleObjectsReturned as exc:
            raise TokenError(where, "several keys match; add object= or id= to the URI") from exc
        certificate = _token_certificate(session, key, where)
    except BaseException:
        session.close()
        raise
    return Pkcs11Signer(session, key, certificate, where)


def _token_certificate(session: Any, key: Any, where: str) -> x509.Certificate:
    """The certificate stored with the key: same CKA_ID (as cards and pkcs11-tool do)."""
    from pkcs11 import Attribute, ObjectClass

    key_id = key[Attribute.ID]
    found = list(
        session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.ID: key_id})
    )
    if len(found) != 1:
        raise TokenError(where, f"expected one certificate with the key's id, found {len(found)}")
    try:
        certificate = x509.load_der_x509_certificate(bytes(found[0][Attribute.VALUE]))
    except ValueError as exc:
        raise MalformedCertificate(where, f"the token's certificate is malformed ({exc})") from exc
    return certificate


__all__ = ["KeySigner", "Pkcs11Signer", "Pkcs11Uri", "open_eid", "open_token", "parse_pkcs11_uri"]
