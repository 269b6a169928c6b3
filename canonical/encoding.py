"""Canonical encoding and hashing: exactly one byte string for every signed or hashed object.

Rules (docs/spec.md, "Canonical encoding"):
- UTF-8 JSON, object keys sorted by code point, no insignificant whitespace, no NaN/floats.
- JSON numbers only for small integers (|x| < 2**53, counters, indices, versions); big integers
  (group elements, exponents, moduli) are lower-case hex strings without prefix or leading zeros,
  written with `hex_int` by the format that owns the field.
- Bytes are base64url without padding (`b64url`).
- Every top-level object carries a `version` field (checked by the format that owns it).
- Hash: SHA-256 over the canonical bytes; domain-separated hashes prefix the domain tag and a NUL.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import orjson

FORMAT_VERSION = 1
MAX_SAFE_INT = 2**53 - 1
_HEX_RE = re.compile(r"^(0|[1-9a-f][0-9a-f]*)$")
_B64URL_RE = re.compile(r"^[A-Za-z0-9_-]*$")


class FormatError(ValueError):
    """Input that does not follow the canonical formats; the message names the field."""

    def __init__(self, field: str, problem: str) -> None:
        # Field names and problems may quote input: kept short and always encodable, so that
        # every error can be printed and sent back as it is.
        field, problem = printable(field, 200), printable(problem, 500)
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class Encoded:
    """A value's canonical bytes, made once, standing for the value inside a document:
    canonical_bytes, canonical_chunks, object_hash and write_canonical_json use the bytes as
    they are. Made only from a value (Encoded(value) encodes it), so the bytes are always
    canonical. The tallier's workers encode each counted ballot this way, in parallel, so
    that the observers' bundle is hashed and written without encoding its ballots again."""

    __slots__ = ("data",)

    def __init__(self, value: Any) -> None:
        self.data: bytes = canonical_bytes(value)

    def value(self) -> Any:
        """The value again (parsed from the bytes)."""
        return parse_canonical(self.data, "encoded value")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Encoded) and other.data == self.data

    def __hash__(self) -> int:
        return hash(self.data)

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        # pickled between processes as its bytes, without encoding the value again
        return _encoded_as_is, (self.data,)


def _encoded_as_is(data: bytes) -> Encoded:
    """Unpickling only: the bytes were made by Encoded(value) in another process."""
    encoded = Encoded.__new__(Encoded)
    encoded.data = data
    return encoded


def _check(value: Any, path: str) -> None:
    if value is None or isinstance(value, (bool, Encoded)):
        return
    if isinstance(value, str):
        _check_text(value, path)
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INT:
            raise FormatError(path, "integer too large for a JSON number; encode it with hex_int")
        return
    if isinstance(value, float):
        raise FormatError(path, "floats have no canonical encoding")
    if isinstance(value, _OversizedInt):
        raise FormatError(
            path,
            f"integer of {value.digits} digits, too large for a JSON number "
            "(big integers are hex strings)",
        )
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise FormatError(path, f"object key {key!r} is not a string")
            if not _encodable(key):
                raise FormatError(path, "an object key with a lone surrogate has no UTF-8 encoding")
            _check(item, f"{path}.{printable(key)}")
        return
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]")
        return
    raise FormatError(path, f"{type(value).__name__} has no canonical encoding")


def _check_text(text: str, path: str) -> None:
    # a lone surrogate (which JSON's \ud800 escape can produce) has no UTF-8 encoding
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise FormatError(path, "string with a lone surrogate has no UTF-8 encoding") from exc


def _fine(value: Any) -> bool:
    """True when _check would pass `value`: the common exact types only, without building
    field paths; anything else (or any problem) is False, and _check then names it."""
    kind = type(value)
    if kind is str:
        return value.isascii() or _encodable(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not (key.isascii() or _encodable(key)):
                return False
            if not _fine(item):
                return False
        return True
    if kind is list or kind is tuple:
        for item in value:  # noqa: SIM110 (a loop is faster than all() here)
            if not _fine(item):
                return False
        return True
    if kind is int:
        return -MAX_SAFE_INT <= value <= MAX_SAFE_INT
    return value is None or kind is bool or kind is Encoded


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _value_of_encoded(obj: Any) -> Any:
    if isinstance(obj, Encoded):
        return obj.value()  # whose encoding is obj.data again
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


# One encoder for every call: json.dumps with these options builds a new one each time. It
# defines the canonical encoding; orjson (below) is its fast path.
_ENCODER = json.JSONEncoder(
    sort_keys=True,
    separators=(",", ":"),
    ensure_ascii=False,
    allow_nan=False,
    default=_value_of_encoded,
)
# orjson writes exactly _ENCODER's bytes for the values _fine accepts (sorted keys in code
# point order, no whitespace, UTF-8, the same string escapes; tests/crypto/
# test_canonical_hot_paths.py checks it against json.dumps), about 15 times faster; a
# ballot's 25 KB of hex cost json's encoder 60 us.
_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER


def _fragment(obj: Any) -> Any:
    if isinstance(obj, Encoded):
        return orjson.Fragment(obj.data)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def canonical_bytes(obj: Any) -> bytes:
    """The one canonical encoding of a JSON-shaped value (dicts, lists, str, small int, bool)."""
    if _fine(obj):
        return _encode_fine(obj)
    _check(obj, "$")  # raises naming the field; passes what _fine does not know
    return _ENCODER.encode(obj).encode("utf-8")


def _encode_fine(obj: Any) -> bytes:
    """canonical_bytes of a value _fine accepts."""
    try:
        return orjson.dumps(obj, default=_fragment, option=_ORJSON_OPTIONS)
    except orjson.JSONEncodeError:  # e.g. nested too deeply for orjson: json's encoder decides
        return _ENCODER.encode(obj).encode("utf-8")


def canonical_chunks(obj: Any, depth: int = 2) -> Iterator[bytes]:
    """canonical_bytes(obj) in pieces whose concatenation is exactly those bytes: objects and
    lists are opened `depth` levels down and each value below is encoded whole. Writing and
    hashing a document of a million ballots this way never holds its encoding whole (which
    canonical_bytes would hold twice: as text and as bytes)."""
    fine = _fine(obj)
    if not fine:
        _check(obj, "$")  # the same check, and the same errors, as canonical_bytes
    return _chunks(obj, depth, _encode_fine if fine else canonical_bytes)


def _chunks(obj: Any, depth: int, encode: Callable[[Any], bytes]) -> Iterator[bytes]:
    kind = type(obj)
    if kind is Encoded:
        yield obj.data
    elif depth > 0 and kind is dict:
        yield b"{"
        for position, key in enumerate(sorted(obj)):  # json's sort_keys: code point order
            yield (b"," if position else b"") + encode(key) + b":"
            yield from _chunks(obj[key], depth - 1, encode)
        yield b"}"
    elif depth > 0 and (kind is list or kind is tuple):
        yield b"["
        for position, item in enumerate(obj):
            if position:
                yield b","
            yield from _chunks(item, depth - 1, encode)
        yield b"]"
    else:
        yield encode(obj)


class _OversizedInt:
    """Stands in, while parsing, for an integer beyond MAX_SAFE_INT: json.loads cannot say
    where a number is, so the document is walked afterwards to name its field (and Python's
    int() is never asked for a number of thousands of digits)."""

    __slots__ = ("digits",)

    def __init__(self, digits: int) -> None:
        self.digits = digits


# A JSON escape that may encode half of a surrogate pair (\ud800-\udfff): only then can a
# parsed string hold a lone surrogate, which has no UTF-8 encoding.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SAFE_INT_DIGITS = len(str(MAX_SAFE_INT))


def parse_canonical(data: bytes | str, what: str = "document") -> Any:
    """Parse JSON from outside, refusing floats, NaN, duplicate keys, integers beyond
    MAX_SAFE_INT and strings with a lone surrogate; errors name `what` and, where they can,
    the field (`what.payload.contests[0]`). `data` is UTF-8 bytes, or text already decoded
    from them (read_json_file: the bytes of a large file need not stay in memory beside
    their text)."""
    oversized = False

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen:
                raise FormatError(f"{what}.{printable(key)}", "duplicate key")
            seen[key] = value
        return seen

    def no_float(text: str) -> Any:
        raise FormatError(what, f"floats are not allowed ({printable(text)})")

    def no_constant(text: str) -> Any:
        raise FormatError(what, f"{text} is not allowed")

    def small_int(text: str) -> int | _OversizedInt:
        nonlocal oversized
        digits = len(text) - text.startswith("-")
        if digits <= _SAFE_INT_DIGITS:
            value = int(text)
            if abs(value) <= MAX_SAFE_INT:
                return value
        oversized = True
        return _OversizedInt(digits)

    text = data if isinstance(data, str) else decode_utf8(data, what)
    try:
        document = json.loads(
            text,
            object_pairs_hook=no_duplicates,
            parse_float=no_float,
            parse_constant=no_constant,
            parse_int=small_int,
        )
    except json.JSONDecodeError as exc:
        raise FormatError(what, f"not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    except RecursionError as exc:
        raise FormatError(what, "nested too deeply") from exc
    if oversized or _SURROGATE_ESCAPE.search(text):
        _check(document, what)  # names the first such field
    return document


def printable(text: str, limit: int = 80) -> str:
    """Text from outside as an error message may quote it: cut short, and with anything
    that has no UTF-8 encoding (a lone surrogate) escaped."""
    if len(text) > limit:
        text = text[:limit] + "..."
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def decode_utf8(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(what, "not UTF-8") from exc


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def object_hash(obj: Any) -> bytes:
    """SHA-256 of the canonical bytes: the identity of a signed or published object (hashed
    in pieces, canonical_chunks, so that a whole ballot bundle is never encoded at once)."""
    digest = hashlib.sha256()
    for chunk in canonical_chunks(obj):
        digest.update(chunk)
    return digest.digest()


def domain_hash(domain: str, obj: Any) -> bytes:
    """Domain-separated hash: SHA-256(domain || 0x00 || canonical(obj)).

    Every Fiat-Shamir challenge and every signed object uses its own domain tag (DOMAINS below),
    so that no hash computed for one purpose can be replayed as another.
    """
    if domain not in DOMAINS.values():
        raise ValueError(f"unregistered hash domain {domain!r}")
    return sha256(domain.encode("ascii") + b"\x00" + canonical_bytes(obj))


# One registry of hash domains, so that no two uses share a tag by accident.
DOMAINS = {
    "membership_proof": "ivote/v1/membership-proof",
    "decryption_share_proof": "ivote/v1/decryption-share-proof",
    "batch_weights": "ivote/v1/batch-weights",
    "manifest": "ivote/v1/manifest",
    "ballot": "ivote/v1/ballot",
    # a voter's signed eligibility request, and the collector's signed answer to it
    "eligibility_request": "ivote/v1/eligibility-request",
    "eligibility": "ivote/v1/eligibility",
    "receipt": "ivote/v1/receipt",
    "log_head": "ivote/v1/log-head",
    "ballot_box": "ivote/v1/ballot-box",
    "record": "ivote/v1/record",
    "verification_code": "ivote/v1/verification-code",
    "voter_list": "ivote/v1/voter-list",
    "paper_voters": "ivote/v1/paper-voters",
    "ballot_randomness": "ivote/v1/ballot-randomness",
    "latest_ballot": "ivote/v1/latest-ballot",
    # the dealer's proof that the election key's modulus is a Paillier-Blum modulus
    "modulus_proof": "ivote/v1/modulus-proof",
    # a trustee's proof of its ring-Pedersen parameters, the dealer's no-small-factor proof
    "ring_pedersen_proof": "ivote/v1/ring-pedersen-proof",
    "no_small_factor_proof": "ivote/v1/no-small-factor-proof",
}


def hex_int(value: int) -> str:
    """A non-negative big integer as lower-case hex without prefix or leading zeros."""
    value = int(value)
    if value < 0:
        raise ValueError("hex_int encodes non-negative integers only")
    return format(value, "x")


def parse_hex_int(text: Any, field: str) -> int:
    """The integer hex_int wrote: lower-case hex digits, no prefix, no leading zero (_HEX_RE);
    anything else is refused. (Decoded through bytes.fromhex, whose round trip through
    bytes.hex() admits exactly that spelling: several times faster than the regex.)"""
    if isinstance(text, str) and text.isascii() and text:
        if text == "0":
            return 0
        if text[0] != "0":
            padded = text if len(text) % 2 == 0 else "0" + text
            try:
                data = bytes.fromhex(padded)
            except ValueError:
                data = b""
            if data and data.hex() == padded:
                return int.from_bytes(data, "big")
    raise FormatError(field, "expected a lower-case hex integer without leading zeros")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def parse_b64url(text: Any, field: str) -> bytes:
    if not isinstance(text, str) or not _B64URL_RE.match(text) or len(text) % 4 == 1:
        raise FormatError(field, "expected base64url without padding")
    try:
        decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise FormatError(field, "expected base64url without padding") from exc
    if b64url(decoded) != text:
        raise FormatError(field, "non-canonical base64url")
    return decoded


def require(obj: Any, field: str, kind: type | tuple[type, ...], where: str) -> Any:
    """Fetch obj[field], checking its JSON type; the error names where.field."""
    if not isinstance(obj, Mapping):
        raise FormatError(where, "expected an object")
    if field not in obj:
        raise FormatError(f"{where}.{field}", "missing")
    value = obj[field]
    if kind is int and isinstance(value, bool):
        raise FormatError(f"{where}.{field}", "expected an integer")
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise FormatError(f"{where}.{field}", f"expected {names}")
    return value


def check_version(obj: Any, where: str, version: int = FORMAT_VERSION) -> None:
    found = require(obj, "version", int, where)
    if found != version:
        raise FormatError(f"{where}.version", f"unsupported version {found} (expected {version})")
